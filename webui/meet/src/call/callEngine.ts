// The call engine: kwm signaling (src/kwm) + WebRTC peers (peer.ts) behind the CallEngine contract.
// 1:1 calls as spec kwm-protocol.md §4.4/§4.5, group rooms as a pairwise mesh §4.6, chats §4.8.
//
// Reconnecting (not in kwmjs, which leaves a 1:1 call dead when the server restarts): a dropped
// signaling socket takes the user out of every channel, and a palaverd restart forgets all
// channels and hashes. So after a reconnect
// - in a 1:1 call, the side that reconnected sends a new call request to the same peer with its
//   old state; the peer, still in a call with exactly that user, accepts it at once (no ringing),
//   both adopt the new channel and hash, keep their peer connection and restart ICE (with the new
//   TURN credentials). When both sides reconnected (server restart), the request of the greater
//   user id wins. Without a new channel within 60 s the call ends ("call failed").
// - in a room, the client joins again (§4.6.6); members listed again keep their peer connection
//   and restart ICE; members not listed within 20 s are dropped.
import { KwmClient, RequestError, type KwmCredentials, type KwmDeps, type TurnInfo } from '../kwm/client';
import {
  callAnswer,
  callRequest,
  chatMessage,
  groupAccept,
  groupJoin,
  hangup as hangupMsg,
  isOfferer,
  memberDiff,
  newState,
  signal as signalMsg,
  type AcceptData,
  type ChatsMessage,
  type GroupData,
  type ServerMessage,
  type WebrtcMessage,
} from '../kwm/messages';
import type { MeetConfig } from '../config';
import type { FragmentParams } from '../fragment';
import { mediaSettings } from '../media/settings';
import type { CallEngine, CallOptions, ChatMessage, EndReason, EngineState, PeerInfo, RemoteParticipant } from './engine';
import { chooseSpeaker, type SpeakerTracker } from './layout';
import { openLocalMedia, screenShareSupported } from './media';
import { Peer, type PeerState } from './peer';
import { defaultScreenshareSdpParams, defaultSdpParams, sdpParamsFrom } from './sdp';
import { Trace } from './trace';

const RING_TIMEOUT = 60000;
const RECALL_INTERVAL = 3000;
const RECONNECT_GIVE_UP = 60000;
const STALE_MEMBER_MS = 20000;

interface PeerCtx {
  peer: Peer | null;
  name: string;
  guest: boolean;
  /** Signaling context: hash (pair hash in groups), own state, the peer's state (ref). */
  hash: string;
  ownState: string;
  ref: string;
  channel: string;
  group: string;
  staleTimer?: ReturnType<typeof setTimeout>;
  /** The pair hash of the peer's last group accept (a new one: the server restarted). */
  pairHash?: string;
}

type Session =
  | { kind: 'idle' }
  | { kind: 'outgoing'; peer: PeerInfo; state: string; channel: string; hash: string; timer: ReturnType<typeof setTimeout> }
  | { kind: 'incoming'; peer: PeerInfo; callerState: string; ownState: string; channel: string; hash: string; accepting?: boolean }
  | {
      kind: 'call';
      peer: PeerInfo;
      ownState: string;
      ref: string;
      channel: string;
      hash: string;
      lost?: number;
      recall?: { channel: string; hash: string } | null;
      recallTimer?: ReturnType<typeof setInterval>;
    }
  | { kind: 'room'; scope: 'group' | 'conference'; id: string; group: string; state: string; channel: string; hash: string; joined: boolean };

export interface EngineDeps {
  config: MeetConfig;
  credentials: () => KwmCredentials | null;
  params?: FragmentParams;
  /** Sockets and fetch for the signaling client (unit tests pass fakes). */
  kwm?: Partial<KwmDeps>;
}

function guestName(name: string): { name: string; guest: boolean } {
  return name.startsWith('(Guest)') ? { name: name.slice(7).trim(), guest: true } : { name, guest: false };
}

export class Engine implements CallEngine {
  private kwm: KwmClient;
  private listeners = new Set<(s: EngineState) => void>();
  private session: Session = { kind: 'idle' };
  private peers = new Map<string, PeerCtx>();
  private ignored = new Set<string>();
  private localStream: MediaStream | null = null;
  private screenStream: MediaStream | null = null;
  private local = { mic: true, cam: true, hand: false };
  private chat: ChatMessage[] = [];
  private ended: EngineState['ended'];
  private error: string | undefined;
  private speaker: SpeakerTracker = { current: null, since: 0 };
  private audioOnly = false;
  private wantVideo = true;
  private levelTimer: ReturnType<typeof setInterval> | null = null;
  private statsTimer: ReturnType<typeof setInterval> | null = null;
  private lostTimer: ReturnType<typeof setTimeout> | null = null;
  private state!: EngineState;
  private emitQueued = false;
  private chatSeq = 0;
  /** Signaling and peer-connection events for the tests (window.__palaverDebug.trace()). */
  readonly trace = new Trace();

  constructor(private deps: EngineDeps) {
    const c = deps.config;
    this.kwm = new KwmClient({ baseUrl: c.kwm.url || location.origin, apiPrefix: c.kwm.apiPrefix || '/api/kwm/v2', useIdentifiedUser: c.useIdentifiedUser, credentials: deps.credentials, deps: deps.kwm });
    this.kwm.tap = (dir, m) => this.trace.message(dir, m);
    this.kwm.on('state', (st) => {
      this.trace.add('note', `signaling ${st}`);
      this.changed();
    });
    this.kwm.on('hello', (_self, reconnect) => {
      if (reconnect) this.onReconnected();
      this.changed();
    });
    this.kwm.on('message', (m) => this.onMessage(m));
    this.kwm.on('turn', () => {
      const cfg = this.rtcConfig();
      for (const p of this.peers.values()) p.peer?.setConfiguration(cfg);
    });
    this.kwm.on('state', (s) => {
      if (s === 'reconnecting' && this.session.kind === 'call' && !this.session.lost) this.session.lost = Date.now();
    });
    this.state = this.build();
    this.kwm.start();
    window.addEventListener('online', this.onOnline);
  }

  private onOnline = () => this.kwm.reconnectNow();

  /** The user's token was renewed: signaling refused with the old one (403) tries again. */
  credentialsChanged(): void {
    this.kwm.credentialsChanged();
  }

  // --- state -------------------------------------------------------------------------------

  getState(): EngineState {
    return this.state;
  }

  subscribe(fn: (s: EngineState) => void): () => void {
    this.listeners.add(fn);
    return () => void this.listeners.delete(fn);
  }

  private changed(): void {
    if (this.emitQueued) return;
    this.emitQueued = true;
    queueMicrotask(() => {
      this.emitQueued = false;
      this.state = this.build();
      this.listeners.forEach((l) => l(this.state));
    });
  }

  private build(): EngineState {
    const s = this.session;
    const status: EngineState['status'] =
      s.kind === 'idle' ? { kind: 'idle' } : s.kind === 'room' ? { kind: 'room', scope: s.scope, id: s.id } : { kind: s.kind, peer: s.peer };
    const up = this.kwm.state === 'connected';
    const participants: RemoteParticipant[] = [];
    for (const [id, ctx] of this.peers) {
      const p = ctx.peer;
      participants.push({
        id,
        name: ctx.name || id,
        guest: ctx.guest,
        // Audio-only: the video transceivers are inactive, so the stream carries audio alone.
        stream: p ? p.stream : null,
        screen: p && p.remote.screen && !this.audioOnly ? p.screenStream : null,
        quality: p ? p.quality : 'unknown',
        speaking: !!p && p.level > 0.02 && !this.deps.config.disableRemoteTalkingDetection,
        handRaised: !!p?.remote.hand,
        connection: p ? p.connection(up) : up ? 'connecting' : 'reconnecting',
        micOn: p ? p.remote.mic : true,
        camOn: p ? p.remote.cam && !this.audioOnly : false,
      });
    }
    return {
      signaling: this.kwm.state,
      status,
      participants,
      local: { stream: this.localStream, screen: this.screenStream, micOn: this.local.mic, camOn: this.local.cam && !this.audioOnly && this.hasVideo(), handRaised: this.local.hand },
      chat: this.chat,
      ended: this.ended,
      error: this.error,
      activeSpeaker: this.speaker.current,
      canShareScreen: screenShareSupported() && !this.deps.config.disableScreenshare && !this.audioOnly,
      audioOnly: this.audioOnly,
    };
  }

  private hasVideo(): boolean {
    return !!this.localStream?.getVideoTracks().length;
  }

  // --- media -------------------------------------------------------------------------------

  private rtcConfig(): RTCConfiguration {
    const base: RTCConfiguration = { iceServers: [], ...(this.deps.config.kwm.webrtc?.config ?? {}) };
    const t: TurnInfo | null = this.kwm.turn;
    // As kwmjs: TURN from rtm/connect replaces the whole ICE server list.
    if (t?.uris?.length) base.iceServers = [{ urls: t.uris, username: t.username, credential: t.password }];
    return base;
  }

  private cameraKbps(): number {
    const p = sdpParamsFrom(this.deps.config.kwm.sdpParams, defaultSdpParams);
    const base = p.videoSendBitrate ?? 1000;
    const hd = Math.min(this.deps.params?.hd ?? 720, mediaSettings().hd);
    return hd >= 1080 ? Math.max(base, 2500) : base;
  }

  /**
   * Opens camera and microphone for `owner`. Opening can take long (the permission prompt); when
   * the session changed meanwhile (hung up, declined, left) the new stream is stopped at once, so
   * the camera does not stay on without a call. Returns whether `owner` is still the session.
   */
  private async openMedia(opts: CallOptions | undefined, owner: Session): Promise<boolean> {
    const settings = mediaSettings();
    this.audioOnly = settings.audioOnly;
    this.wantVideo = opts?.video !== false;
    this.local = { mic: !opts?.muteMic, cam: !opts?.muteCam, hand: false };
    if (this.localStream) return this.session === owner;
    const params = this.deps.params;
    const m = await openLocalMedia(settings, params?.hd ?? 720, params?.stereo ?? false, this.wantVideo && !this.audioOnly);
    if (this.session !== owner || this.localStream) {
      m.stream?.getTracks().forEach((t) => t.stop());
      return this.session === owner;
    }
    this.localStream = m.stream;
    if (m.problem) this.error = m.problem;
    this.applyLocalSwitches();
    return true;
  }

  private applyLocalSwitches(): void {
    this.localStream?.getAudioTracks().forEach((t) => (t.enabled = this.local.mic));
    this.localStream?.getVideoTracks().forEach((t) => (t.enabled = this.local.cam));
  }

  private peerMedia() {
    return {
      audio: this.localStream?.getAudioTracks()[0] ?? null,
      camera: this.localStream?.getVideoTracks()[0] ?? null,
      screen: this.screenStream?.getVideoTracks()[0] ?? null,
    };
  }

  private peerState(): PeerState {
    return { mic: this.local.mic, cam: this.local.cam && this.hasVideo() && !this.audioOnly, screen: !!this.screenStream, hand: this.local.hand };
  }

  private stopMedia(): void {
    this.localStream?.getTracks().forEach((t) => t.stop());
    this.screenStream?.getTracks().forEach((t) => t.stop());
    this.localStream = this.screenStream = null;
  }

  // --- peers -------------------------------------------------------------------------------

  private ensurePeer(id: string, ctx: PeerCtx): Peer {
    if (ctx.peer) return ctx.peer;
    const self = this.kwm.self?.id ?? '';
    const config = this.deps.config;
    ctx.peer = new Peer({
      id,
      offerer: isOfferer(self, id),
      rtcConfig: this.rtcConfig(),
      audioOnly: this.audioOnly,
      media: this.peerMedia(),
      local: this.peerState(),
      sdp: sdpParamsFrom(config.kwm.sdpParams, defaultSdpParams),
      sdpScreen: sdpParamsFrom(config.kwm.sdpParamsScreenshare, defaultScreenshareSdpParams),
      cameraKbps: this.cameraKbps(),
      send: (data, pcid) => {
        const c = this.peers.get(id);
        if (c) this.kwm.send(signalMsg(id, c.ownState, c.channel, c.hash, pcid, data, c.group));
        else this.trace.add('drop', 'signal to a dropped peer', { peer: id });
      },
      trace: (what, fields) => this.trace.add('pc', what, { peer: id, ...fields }),
      changed: () => this.changed(),
    });
    this.startTimers();
    this.changed();
    return ctx.peer;
  }

  private dropPeer(id: string): void {
    const ctx = this.peers.get(id);
    if (!ctx) return;
    if (ctx.staleTimer) clearTimeout(ctx.staleTimer);
    ctx.peer?.close();
    this.peers.delete(id);
    if (this.speaker.current === id) this.speaker = { current: null, since: 0 };
    this.changed();
  }

  private dropAllPeers(): void {
    for (const id of [...this.peers.keys()]) this.dropPeer(id);
  }

  private startTimers(): void {
    if (!this.levelTimer) {
      this.levelTimer = setInterval(() => {
        const levels: Record<string, number> = {};
        let changed = false;
        for (const [id, c] of this.peers) {
          if (!c.peer) continue;
          const before = c.peer.level > 0.02;
          levels[id] = c.peer.pollLevel();
          if (before !== levels[id] > 0.02) changed = true;
        }
        const next = this.deps.config.disableRemoteTalkingDetection ? this.speaker : chooseSpeaker(this.speaker, levels, Date.now());
        if (next.current !== this.speaker.current) changed = true;
        this.speaker = next;
        if (changed) this.changed();
      }, 300);
    }
    if (!this.statsTimer) {
      this.statsTimer = setInterval(() => {
        for (const c of this.peers.values()) void c.peer?.pollStats();
      }, 2000);
    }
  }

  private stopTimers(): void {
    if (this.levelTimer) clearInterval(this.levelTimer);
    if (this.statsTimer) clearInterval(this.statsTimer);
    this.levelTimer = this.statsTimer = null;
  }

  // --- ending ------------------------------------------------------------------------------

  private endSession(reason: EndReason | null, peer?: PeerInfo): void {
    const s = this.session;
    if (s.kind === 'outgoing') clearTimeout(s.timer);
    if (s.kind === 'call' && s.recallTimer) clearInterval(s.recallTimer);
    if (this.lostTimer) clearTimeout(this.lostTimer);
    this.lostTimer = null;
    this.session = { kind: 'idle' };
    this.dropAllPeers();
    this.stopTimers();
    this.stopMedia();
    this.local.hand = false;
    if (reason) this.ended = { reason, peer };
    this.changed();
  }

  // --- 1:1 calls ---------------------------------------------------------------------------

  call(peer: PeerInfo, opts?: CallOptions): void {
    if (this.session.kind !== 'idle') return;
    this.ended = undefined;
    this.error = undefined;
    this.chat = [];
    const state = newState();
    const timer = setTimeout(() => this.giveUpRinging(), RING_TIMEOUT);
    const s: Extract<Session, { kind: 'outgoing' }> = { kind: 'outgoing', peer, state, channel: '', hash: '', timer };
    this.session = s;
    this.changed();
    void (async () => {
      if (!(await this.openMedia(opts, s))) return;
      try {
        const reply = (await this.kwm.request(callRequest(peer.id, state))) as WebrtcMessage;
        if (this.session !== s) {
          // Hung up while the request was under way: leave the channel.
          if (reply.channel) this.kwm.send(hangupMsg(peer.id, state, reply.channel, reply.hash, ''));
          return;
        }
        s.channel = reply.channel;
        s.hash = reply.hash;
      } catch (e) {
        if (this.session !== s) return;
        this.error = e instanceof RequestError && e.code === 'access_restricted' ? 'callNoAccess' : 'callFailed';
        this.endSession('failed', peer);
      }
    })();
  }

  private giveUpRinging(): void {
    const s = this.session;
    if (s.kind !== 'outgoing') return;
    if (s.channel) this.kwm.send(hangupMsg(s.peer.id, s.state, s.channel, s.hash, ''));
    this.endSession('no-answer', s.peer);
  }

  accept(opts?: CallOptions): void {
    const s = this.session;
    if (s.kind !== 'incoming' || s.accepting) return;
    // A second click while the camera opens must not open it twice (the first stream would leak).
    s.accepting = true;
    this.ended = undefined;
    this.error = undefined;
    this.chat = [];
    void (async () => {
      if (!(await this.openMedia(opts, s))) return;
      this.kwm.send(callAnswer(s.peer.id, s.ownState, s.channel, s.hash, s.callerState, true));
      this.session = { kind: 'call', peer: s.peer, ownState: s.ownState, ref: s.callerState, channel: s.channel, hash: s.hash };
      const ctx: PeerCtx = { peer: null, name: s.peer.name ?? s.peer.id, guest: false, hash: s.hash, ownState: s.ownState, ref: s.callerState, channel: s.channel, group: '' };
      this.peers.set(s.peer.id, ctx);
      this.ensurePeer(s.peer.id, ctx);
      this.changed();
    })();
  }

  decline(): void {
    const s = this.session;
    if (s.kind !== 'incoming') return;
    this.kwm.send(callAnswer(s.peer.id, s.ownState, s.channel, s.hash, s.callerState, false, 'reject'));
    this.session = { kind: 'idle' };
    this.changed();
  }

  ignore(): void {
    const s = this.session;
    if (s.kind !== 'incoming') return;
    // Nothing is sent: the caller keeps ringing until it gives up.
    this.ignored.add(s.channel);
    this.session = { kind: 'idle' };
    this.changed();
  }

  hangup(): void {
    const s = this.session;
    if (s.kind === 'room') return this.leaveRoom();
    if (s.kind === 'incoming') return this.decline();
    if (s.kind === 'outgoing') {
      if (s.channel) this.kwm.send(hangupMsg(s.peer.id, s.state, s.channel, s.hash, ''));
      this.endSession('hangup', s.peer);
      return;
    }
    if (s.kind === 'call') {
      this.kwm.send(hangupMsg(s.peer.id, s.ownState, s.channel, s.hash, s.ref));
      if (s.recall) this.kwm.send(hangupMsg(s.peer.id, s.ownState, s.recall.channel, s.recall.hash, s.ref));
      this.endSession('hangup', s.peer);
    }
  }

  private onCall(m: WebrtcMessage): void {
    if (m.group) return this.onGroupAccept(m);
    const s = this.session;
    const data = m.data as AcceptData | undefined;
    // A "cleared" call: another device of ours answered (§4.5).
    if (m.initiator && m.target === '') {
      if (s.kind === 'incoming' && s.channel === m.channel) {
        this.session = { kind: 'idle' };
        this.ended = { reason: 'answered-elsewhere', peer: s.peer };
        this.changed();
      }
      return;
    }
    if (m.initiator) return this.onCallRequest(m);
    // An answer to our request: the first call, or a reconnect's new channel.
    if (!data) return;
    if (s.kind === 'outgoing' && m.source === s.peer.id && m.channel === s.channel && m.hash === s.hash && data.state === s.state) {
      clearTimeout(s.timer);
      if (!data.accept) {
        // Meet hangs up after a reject (leaves the channel).
        this.kwm.send(hangupMsg(s.peer.id, s.state, s.channel, s.hash, m.state));
        this.endSession(data.reason === 'reject_busy' ? 'busy' : 'declined', { id: s.peer.id, name: m.profile?.name || s.peer.name });
        return;
      }
      const name = m.profile?.name || s.peer.name || s.peer.id;
      const peer = { id: s.peer.id, name };
      this.session = { kind: 'call', peer, ownState: s.state, ref: m.state, channel: s.channel, hash: s.hash };
      const ctx: PeerCtx = { peer: null, name, guest: false, hash: s.hash, ownState: s.state, ref: m.state, channel: s.channel, group: '' };
      this.peers.set(peer.id, ctx);
      this.ensurePeer(peer.id, ctx);
      this.changed();
      return;
    }
    if (s.kind === 'call' && s.recall && m.source === s.peer.id && m.channel === s.recall.channel && data.state === s.ownState && data.accept) {
      this.adoptChannel(s, s.recall.channel, s.recall.hash, m.state);
    }
  }

  private onCallRequest(m: WebrtcMessage): void {
    const s = this.session;
    const name = m.profile?.name || m.source;
    // Reconnect: the peer of our call asks for a new channel; accept at once (see the top).
    if (s.kind === 'call' && m.source === s.peer.id) {
      const self = this.kwm.self?.id ?? '';
      if (s.recall && self > m.source) return; // both asked: ours wins
      if (s.recall) {
        this.kwm.send(hangupMsg(s.peer.id, s.ownState, s.recall.channel, s.recall.hash, ''));
      }
      this.kwm.send(callAnswer(m.source, s.ownState, m.channel, m.hash, m.state, true));
      this.adoptChannel(s, m.channel, m.hash, m.state);
      return;
    }
    if (s.kind !== 'idle') {
      this.kwm.send(callAnswer(m.source, newState(), m.channel, m.hash, m.state, false, 'reject_busy'));
      return;
    }
    this.ended = undefined;
    this.session = { kind: 'incoming', peer: { id: m.source, name }, callerState: m.state, ownState: newState(), channel: m.channel, hash: m.hash };
    this.changed();
  }

  /** Both sides of a 1:1 call move to a new channel after a reconnect and restart ICE. */
  private adoptChannel(s: Extract<Session, { kind: 'call' }>, channel: string, hash: string, ref: string): void {
    const old = { channel: s.channel, hash: s.hash };
    if (s.recallTimer) clearInterval(s.recallTimer);
    s.recallTimer = undefined;
    s.recall = null;
    s.lost = undefined;
    s.channel = channel;
    s.hash = hash;
    s.ref = ref;
    if (this.lostTimer) clearTimeout(this.lostTimer);
    this.lostTimer = null;
    if (old.channel !== channel) this.kwm.send(hangupMsg(s.peer.id, s.ownState, old.channel, old.hash, ref));
    const ctx = this.peers.get(s.peer.id);
    if (ctx) {
      Object.assign(ctx, { channel, hash, ref });
      ctx.peer?.setConfiguration(this.rtcConfig());
      ctx.peer?.restartIce();
    }
    this.changed();
  }

  private onHangup(m: WebrtcMessage): void {
    const s = this.session;
    if (this.ignored.has(m.channel)) {
      this.ignored.delete(m.channel);
      return;
    }
    if (s.kind === 'incoming' && m.source === s.peer.id && m.channel === s.channel) {
      this.session = { kind: 'idle' };
      this.ended = { reason: 'hangup', peer: s.peer };
      this.changed();
      return;
    }
    if (s.kind === 'call' && m.source === s.peer.id && m.channel === s.channel) {
      this.endSession('hangup', s.peer);
      return;
    }
    if (s.kind === 'room' && m.channel === s.channel) this.dropPeer(m.source);
  }

  // --- rooms -------------------------------------------------------------------------------

  joinRoom(scope: 'group' | 'conference', id: string, opts?: CallOptions): void {
    if (this.session.kind !== 'idle') return;
    this.ended = undefined;
    this.error = undefined;
    this.chat = [];
    const s: Session = { kind: 'room', scope, id, group: `${scope}/${id}`, state: newState(), channel: '', hash: '', joined: false };
    this.session = s;
    this.changed();
    void (async () => {
      if (await this.openMedia(opts, s)) await this.sendJoin(s);
    })();
  }

  private async sendJoin(s: Extract<Session, { kind: 'room' }>, attempt = 0): Promise<void> {
    try {
      const reply = (await this.kwm.request(groupJoin(s.group, s.state))) as WebrtcMessage;
      if (this.session !== s) {
        this.kwm.send(hangupMsg(s.group, s.state, reply.channel, reply.hash, '', s.group));
        return;
      }
      s.channel = reply.channel;
      s.hash = reply.hash;
      s.joined = true;
      this.error = undefined;
      this.onMembers(s, reply.data as GroupData);
    } catch (e) {
      if (this.session !== s) return;
      const code = e instanceof RequestError ? e.code : '';
      if (code === 'create_restricted') {
        // A guest waits for a member (Meet: "call currently not active"); try again.
        this.error = 'roomNotActive';
        this.changed();
        setTimeout(() => this.session === s && void this.sendJoin(s, attempt + 1), 3000);
      } else if (code === 'access_restricted') {
        this.error = 'callNoAccess';
        this.endSession('failed');
      } else if (code === 'timeout' && this.kwm.state === 'connected') {
        // No answer in time but the socket is up (a busy machine): the server may have let us in
        // already. Asking again is harmless (the same connection is not added twice) and its
        // answer lists the members; without it the room would stay empty for us.
        this.trace.add('note', 'join: no answer, again');
        if (attempt < 5) void this.sendJoin(s, attempt + 1);
        else {
          this.error = 'callFailed';
          this.endSession('failed');
        }
      } else if (code === 'timeout' || code === 'disconnected') {
        // The socket went: the reconnect joins again.
      } else {
        this.error = 'callFailed';
        this.endSession('failed');
      }
    }
  }

  leaveRoom(): void {
    const s = this.session;
    if (s.kind !== 'room') return;
    if (s.joined) {
      this.kwm.send(hangupMsg(s.group, s.state, s.channel, s.hash, '', s.group));
      for (const [id, c] of this.peers) this.kwm.send(hangupMsg(id, c.ownState, c.channel, c.hash, c.ref, s.group));
    }
    this.endSession(null);
  }

  private onMembers(s: Extract<Session, { kind: 'room' }>, data: GroupData | undefined): void {
    const g = data?.group;
    if (!g) return;
    const self = this.kwm.self?.id ?? '';
    const diff = memberDiff(self, this.peers.keys(), g.members, g.reset);
    // Members kept a while after they left the list (below) and listed again count as new.
    const back = g.members.filter((id) => id !== self && !diff.add.includes(id) && this.peers.get(id)?.staleTimer);
    this.trace.add('note', 'members', { add: diff.add, back, drop: diff.drop, reset: g.reset });
    for (const id of diff.drop) {
      const ctx = this.peers.get(id);
      if (!ctx) continue;
      if (g.reset || ctx.peer?.mediaUp()) {
        // After our reconnect: keep the connection a while, they may be reconnecting too. And a
        // member whose media still flow left by losing the signaling socket, not by hanging up
        // (that is a hangup to us): on a busy machine a late keepalive answer is enough. Their
        // media do not need the server; dropping them at once made every pair of that member
        // start again from nothing when it joined back a moment later.
        if (!ctx.staleTimer) ctx.staleTimer = setTimeout(() => this.dropPeer(id), STALE_MEMBER_MS);
      } else this.dropPeer(id);
    }
    for (const id of [...diff.add, ...back]) {
      let ctx = this.peers.get(id);
      if (ctx?.staleTimer) {
        clearTimeout(ctx.staleTimer);
        ctx.staleTimer = undefined;
      }
      if (!ctx) {
        ctx = { peer: null, name: '', guest: false, hash: s.hash, ownState: s.group, ref: s.group, channel: s.channel, group: s.group };
        this.peers.set(id, ctx);
      } else {
        Object.assign(ctx, { hash: s.hash, channel: s.channel });
      }
      this.kwm.send(groupAccept(id, s.group, s.channel, s.hash));
    }
    this.changed();
  }

  private onGroupAccept(m: WebrtcMessage): void {
    const s = this.session;
    const data = m.data as AcceptData | undefined;
    if (s.kind !== 'room' || m.group !== s.group || m.channel !== s.channel || !data?.accept || data.state !== s.group) {
      this.trace.add('drop', 'group accept', { peer: m.source, why: s.kind !== 'room' ? s.kind : m.channel !== s.channel ? `channel ${s.channel}` : 'group/state' });
      return;
    }
    let ctx = this.peers.get(m.source);
    if (!ctx) {
      ctx = { peer: null, name: '', guest: false, hash: m.hash, ownState: s.group, ref: s.group, channel: s.channel, group: s.group };
      this.peers.set(m.source, ctx);
    }
    if (ctx.staleTimer) {
      clearTimeout(ctx.staleTimer);
      ctx.staleTimer = undefined;
    }
    const hadPair = ctx.pairHash;
    ctx.hash = ctx.pairHash = m.hash; // the pair hash (§4.6.2)
    const n = guestName(m.profile?.name || ctx.name || m.source);
    ctx.name = n.name;
    ctx.guest = n.guest || m.source.endsWith('.kwmguest');
    if (ctx.peer) {
      // Seen again after a reconnect: same connection. A new pair hash means a restarted server
      // (its TURN allocations are gone too): new route. Otherwise only a pair without media
      // restarts ICE; one whose media flow goes on untouched.
      if (hadPair !== m.hash || !ctx.peer.mediaUp()) {
        this.trace.add('note', 'seen again: restart ICE', { peer: m.source, newHash: hadPair !== m.hash });
        ctx.peer.setConfiguration(this.rtcConfig());
        ctx.peer.restartIce();
      }
    } else this.ensurePeer(m.source, ctx);
    this.changed();
  }

  // --- signals, chats, errors ------------------------------------------------------------

  private onSignal(m: WebrtcMessage): void {
    const ctx = this.peers.get(m.source);
    const s = this.session;
    if (!ctx || m.channel !== ctx.channel || m.state !== ctx.ref || (s.kind !== 'call' && s.kind !== 'room')) {
      this.trace.add('drop', 'signal', { peer: m.source, why: !ctx ? 'unknown peer' : m.channel !== ctx.channel ? `channel ${ctx.channel}` : m.state !== ctx.ref ? 'state' : s.kind });
      return;
    }
    this.ensurePeer(m.source, ctx).handleSignal(m.data, m.pcid);
  }

  private onMessage(m: ServerMessage): void {
    if (m.type === 'webrtc') {
      switch (m.subtype) {
        case 'webrtc_call':
          return this.onCall(m);
        case 'webrtc_signal':
          return this.onSignal(m);
        case 'webrtc_hangup':
          return this.onHangup(m);
        case 'webrtc_channel': {
          const s = this.session;
          if (s.kind !== 'room' || m.channel !== s.channel) {
            this.trace.add('drop', 'channel update', { why: s.kind !== 'room' ? s.kind : `channel ${s.channel}` });
            return;
          }
          const d = m.data as GroupData | undefined;
          if (d?.replaced) {
            // The same user joined this room from another device.
            this.error = 'replaced';
            this.endSession(null);
            return;
          }
          return this.onMembers(s, d);
        }
      }
      return;
    }
    if (m.type === 'chats') return this.onChat(m);
    if (m.type === 'error' && m.error.code !== 'no_session_for_user') console.warn('kwm error', m.error.code, m.error.msg);
  }

  private currentChannel(): string {
    const s = this.session;
    return s.kind === 'call' || s.kind === 'room' ? s.channel : '';
  }

  private onChat(m: ChatsMessage): void {
    if (m.channel !== this.currentChannel()) return;
    const d = m.data;
    if (d.kind === 'delivery_queued') return;
    const sys: ChatMessage['system'] = d.kind === 'system' ? (d.extra?.id === 'joined' ? 'joined' : d.extra?.id === 'left' ? 'left' : undefined) : undefined;
    if (d.kind !== '' && !sys) return;
    if (this.chat.some((c) => c.id === d.id)) return;
    const name = guestName(m.profile?.name || this.peers.get(d.sender)?.name || d.sender).name;
    this.addChat({ id: d.id, from: d.sender, fromName: name, text: d.text, at: d.ts ? d.ts * 1000 : Date.now(), own: false, system: sys });
  }

  /** Keeps the chat in the server's order (its timestamps), the last 500 messages. */
  private addChat(c: ChatMessage): void {
    const list = [...this.chat];
    let i = list.length;
    while (i > 0 && list[i - 1].at > c.at) i--;
    list.splice(i, 0, c);
    this.chat = list.slice(-500);
    this.changed();
  }

  /** The chat panel keeps the text and shows why when this resolves false. */
  sendChat(text: string): Promise<boolean> {
    const channel = this.currentChannel();
    const body = text.trim();
    if (!channel || !body) return Promise.resolve(false);
    const clientId = `c${++this.chatSeq}`;
    return this.kwm.request(chatMessage(channel, clientId, body)).then(
      (reply) => {
        const d = (reply as ChatsMessage).data;
        this.addChat({ id: d?.id || clientId, from: this.kwm.self?.id ?? '', fromName: this.kwm.self?.name ?? '', text: body, at: d?.ts ? d.ts * 1000 : Date.now(), own: true });
        return true;
      },
      () => false,
    );
  }

  // --- switches ------------------------------------------------------------------------------

  setMic(on: boolean): void {
    this.local.mic = on;
    this.applyLocalSwitches();
    this.pushState();
  }

  setCamera(on: boolean): void {
    this.local.cam = on;
    this.applyLocalSwitches();
    this.pushState();
  }

  setHandRaised(on: boolean): void {
    this.local.hand = on;
    this.pushState();
  }

  private pushState(): void {
    const st = this.peerState();
    for (const c of this.peers.values()) c.peer?.setLocalState(st);
    this.changed();
  }

  async startScreenShare(): Promise<void> {
    if (!this.state.canShareScreen || this.screenStream) return;
    const s = this.session;
    if (s.kind !== 'call' && s.kind !== 'room') return;
    try {
      const stream = await navigator.mediaDevices.getDisplayMedia({ video: { frameRate: { ideal: 15, max: 30 } }, audio: false });
      if (this.session !== s) {
        stream.getTracks().forEach((t) => t.stop());
        return;
      }
      const track = stream.getVideoTracks()[0];
      if (track) {
        track.contentHint = 'detail';
        track.onended = () => this.stopScreenShare();
      }
      this.screenStream = stream;
      const media = this.peerMedia();
      const st = this.peerState();
      for (const c of this.peers.values()) c.peer?.setMedia(media, st);
      this.changed();
    } catch (e) {
      if (!(e instanceof Error && e.name === 'NotAllowedError')) this.error = 'screenShareFailed';
      this.changed();
    }
  }

  stopScreenShare(): void {
    if (!this.screenStream) return;
    this.screenStream.getTracks().forEach((t) => t.stop());
    this.screenStream = null;
    const media = this.peerMedia();
    const st = this.peerState();
    for (const c of this.peers.values()) c.peer?.setMedia(media, st);
    this.changed();
  }

  dismiss(): void {
    this.error = undefined;
    this.ended = undefined;
    this.changed();
  }

  // --- reconnect ---------------------------------------------------------------------------

  private onReconnected(): void {
    const s = this.session;
    if (s.kind === 'incoming') {
      // The ringing call's channel may be gone with the old socket; the caller rings again.
      this.session = { kind: 'idle' };
    } else if (s.kind === 'outgoing') {
      // Our channel went with the socket: ask again.
      clearTimeout(s.timer);
      this.session = { kind: 'idle' };
      const peer = s.peer;
      const stream = this.localStream;
      this.call(peer, { video: this.wantVideo, muteMic: !this.local.mic, muteCam: !this.local.cam });
      this.localStream = stream;
    } else if (s.kind === 'call') {
      this.startRecall(s);
    } else if (s.kind === 'room') {
      s.state = newState();
      s.joined = false;
      void this.sendJoin(s);
    }
    const cfg = this.rtcConfig();
    for (const c of this.peers.values()) c.peer?.setConfiguration(cfg);
    this.changed();
  }

  private startRecall(s: Extract<Session, { kind: 'call' }>): void {
    if (s.recallTimer) clearInterval(s.recallTimer);
    const started = s.lost ?? Date.now();
    const attempt = async () => {
      if (this.session !== s) return;
      if (Date.now() - started > RECONNECT_GIVE_UP) {
        this.error = 'callFailed';
        this.hangup();
        return;
      }
      if (this.kwm.state !== 'connected') return;
      try {
        const reply = (await this.kwm.request(callRequest(s.peer.id, s.ownState))) as WebrtcMessage;
        if (this.session !== s || !s.recallTimer) {
          this.kwm.send(hangupMsg(s.peer.id, s.ownState, reply.channel, reply.hash, ''));
          return;
        }
        if (s.recall) this.kwm.send(hangupMsg(s.peer.id, s.ownState, s.recall.channel, s.recall.hash, ''));
        s.recall = { channel: reply.channel, hash: reply.hash };
      } catch {
        /* next round */
      }
    };
    s.recallTimer = setInterval(() => void attempt(), RECALL_INTERVAL);
    void attempt();
    // The other side reconnects and asks us instead: the give-up applies there too.
    if (this.lostTimer) clearTimeout(this.lostTimer);
    this.lostTimer = setTimeout(() => {
      if (this.session === s && (s.recall !== null || s.recallTimer)) {
        this.error = 'callFailed';
        this.hangup();
      }
    }, RECONNECT_GIVE_UP);
  }

  // --- teardown & debug ----------------------------------------------------------------------

  close(): void {
    this.hangup();
    this.endSession(null);
    this.kwm.stop();
    window.removeEventListener('online', this.onOnline);
    this.listeners.clear();
  }

  /** Test-facing, read-only numbers per participant (window.__palaverDebug.stats()). */
  async debugStats(): Promise<Record<string, unknown>> {
    const out: Record<string, unknown> = {};
    for (const [id, c] of this.peers) if (c.peer) out[id] = { name: c.name, ...(await c.peer.debugStats()) };
    return out;
  }

  debugInfo(): Record<string, unknown> {
    const s = this.session;
    return {
      self: this.kwm.self,
      signaling: this.kwm.state,
      session: s.kind,
      channel: 'channel' in s ? s.channel : '',
      // The effective configuration without the TURN password (this hook is readable by any script).
      rtcConfig: redactIce(this.rtcConfig()),
      localTracks: this.localStream?.getTracks().map((t) => `${t.kind}:${t.enabled}`) ?? [],
      screen: !!this.screenStream,
    };
  }
}

function redactIce(c: RTCConfiguration): RTCConfiguration {
  return { ...c, iceServers: c.iceServers?.map((s) => (s.credential ? { ...s, credential: '(hidden)' } : s)) };
}

type DebugWindow = { __palaverDebug?: unknown };

/** Creates the engine for a signed-in user and exposes the test-facing debug hook. */
export function createCallEngine(deps: EngineDeps): Engine {
  const e = new Engine(deps);
  const w = window as unknown as DebugWindow;
  const hook = {
    stats: () => e.debugStats(),
    trace: () => e.trace.entries.slice(),
    info: () => e.debugInfo(),
    state: () => e.getState(),
    // Drivers for the end-to-end tests of the call screens, until the main screen's contact and
    // group buttons (other parts of the app) start calls the way a user does.
    call: (id: string, name?: string) => e.call({ id, name }),
    joinRoom: (scope: 'group' | 'conference', id: string) => e.joinRoom(scope, id),
  };
  w.__palaverDebug = hook;
  // The hook goes with the engine (sign-out), so it does not keep a closed engine reachable.
  const close = e.close.bind(e);
  e.close = () => {
    close();
    if (w.__palaverDebug === hook) delete w.__palaverDebug;
  };
  return e;
}
