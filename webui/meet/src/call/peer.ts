// One WebRTC peer connection to one remote participant, negotiated through kwm `webrtc_signal`s in
// simple-peer's data format ({type:'offer'|'answer', sdp}, {type:'candidate', candidate},
// {renegotiate:true[, noop:true]}), as kwmjs does. Only the offerer (the greater user id, spec
// §4.4 step 7) makes offers; the other side asks for one with `renegotiate`, so there is no glare.
//
// Media layout (fixed, so no renegotiation is needed to start or stop anything): the offerer
// creates three transceivers — audio, camera video, screen video — in that order; the answerer
// finds them in the same order. Starting the camera or a screen share is `replaceTrack` on the
// sender. A negotiated data channel ("palaver", id 7) carries each side's state: microphone and
// camera switches, screen sharing, raised hand. Audio-only sets both video transceivers inactive.
import { mungeSdp, preferCodec, sectionMids, type SdpParams } from './sdp';
import { qualityOf, type StatsSample } from './layout';
import type { Quality } from './engine';

export interface PeerState {
  mic: boolean;
  cam: boolean;
  screen: boolean;
  hand: boolean;
}

export interface PeerMedia {
  audio: MediaStreamTrack | null;
  camera: MediaStreamTrack | null;
  screen: MediaStreamTrack | null;
}

export interface PeerOptions {
  id: string;
  offerer: boolean;
  rtcConfig: RTCConfiguration;
  audioOnly: boolean;
  media: PeerMedia;
  local: PeerState;
  sdp: SdpParams;
  sdpScreen: SdpParams;
  /** Camera send cap in kbit/s (HD raises it). */
  cameraKbps: number;
  send: (data: unknown, pcid: string) => void;
  changed: () => void;
  /** Debug trace (no SDP, no credentials). */
  trace?: (what: string, fields?: Record<string, unknown>) => void;
}

/** The first a=ice-ufrag of an SDP ('' without one). */
function iceUfrag(sdp: string): string {
  return /a=ice-ufrag:(\S+)/.exec(sdp)?.[1] ?? '';
}

/** What tells one offer from another: its o= line (the whole SDP when there is none). */
function offerId(sdp: string): string {
  return /^o=.*$/m.exec(sdp)?.[0] ?? sdp;
}

let pcSeq = 0;
function newPcid(): string {
  return `pc${Date.now().toString(36)}${(++pcSeq).toString(36)}${Math.floor(Math.random() * 1e6).toString(36)}`;
}

const ROLE_AUDIO = 0;
const ROLE_CAMERA = 1;
const ROLE_SCREEN = 2;

export class Peer {
  pc!: RTCPeerConnection;
  pcid = '';
  remotePcid = '';
  dc: RTCDataChannel | null = null;
  remote: PeerState = { mic: true, cam: true, screen: false, hand: false };
  stream: MediaStream = new MediaStream();
  screenStream: MediaStream = new MediaStream();
  quality: Quality = 'unknown';
  level = 0;
  private statsPrev: StatsSample | undefined;
  private queue: Promise<void> = Promise.resolve();
  private pendingCandidates: RTCIceCandidateInit[] = [];
  private makingOffer = false;
  /** Our offer now waiting for its answer restarts ICE (the answer must bring new credentials). */
  private offerRestarts = false;
  /** The o= line of the last offer we answered (a copy sent again is not answered twice). */
  private answeredOffer = '';
  private again = false;
  private againRestart = false;
  private negotiated = false;
  private disconnectedTimer: ReturnType<typeof setTimeout> | null = null;
  private closed = false;
  everConnected = false;
  private rebuilds = 0;
  private retiredPcids = new Set<string>();

  constructor(private o: PeerOptions) {
    this.create();
  }

  private t(what: string, fields?: Record<string, unknown>): void {
    this.o.trace?.(what, fields);
  }

  get id(): string {
    return this.o.id;
  }

  get offerer(): boolean {
    return this.o.offerer;
  }

  private create(): void {
    this.pcid = newPcid();
    this.negotiated = false;
    this.offerRestarts = false;
    this.answeredOffer = '';
    this.pendingCandidates = [];
    this.stream = new MediaStream();
    this.screenStream = new MediaStream();
    const pc = new RTCPeerConnection(this.o.rtcConfig);
    this.pc = pc;
    const pcid = this.pcid;
    this.t('create', { pcid, offerer: this.o.offerer });
    pc.onsignalingstatechange = () => this.t('signaling', { pcid, s: pc.signalingState });
    pc.onicegatheringstatechange = () => this.t('gathering', { pcid, s: pc.iceGatheringState });
    pc.onicecandidate = (ev) => {
      if (pc !== this.pc || !ev.candidate) return;
      const c = ev.candidate;
      this.o.send({ type: 'candidate', candidate: { candidate: c.candidate, sdpMLineIndex: c.sdpMLineIndex, sdpMid: c.sdpMid } }, this.pcid);
    };
    pc.ontrack = (ev) => {
      if (pc !== this.pc) return;
      const role = pc.getTransceivers().indexOf(ev.transceiver);
      const target = role === ROLE_SCREEN ? this.screenStream : this.stream;
      if (!target.getTracks().includes(ev.track)) target.addTrack(ev.track);
      this.o.changed();
    };
    pc.oniceconnectionstatechange = () => {
      this.t('ice', { pcid, s: pc.iceConnectionState });
      if (pc !== this.pc) return;
      const s = pc.iceConnectionState;
      if (s === 'connected' || s === 'completed') {
        this.everConnected = true;
        if (this.disconnectedTimer) clearTimeout(this.disconnectedTimer);
        this.disconnectedTimer = null;
      } else if (s === 'failed') {
        this.restartIce();
      } else if (s === 'disconnected' && !this.disconnectedTimer) {
        // Give the network 3 s to come back (Wi-Fi → mobile), then restart ICE.
        this.disconnectedTimer = setTimeout(() => {
          this.disconnectedTimer = null;
          if (this.pc === pc && pc.iceConnectionState !== 'connected' && pc.iceConnectionState !== 'completed') this.restartIce();
        }, 3000);
      }
      this.o.changed();
    };
    pc.onconnectionstatechange = () => {
      this.t('connection', { pcid, s: pc.connectionState });
      this.o.changed();
    };
    const dc = pc.createDataChannel('palaver', { negotiated: true, id: 7 });
    this.dc = dc;
    dc.onopen = () => this.sendState();
    dc.onmessage = (ev) => {
      try {
        const m = JSON.parse(String(ev.data)) as Partial<PeerState>;
        this.remote = {
          mic: m.mic !== false,
          cam: m.cam !== false,
          screen: m.screen === true,
          hand: m.hand === true,
        };
        this.o.changed();
      } catch {
        /* not ours */
      }
    };
    if (this.o.offerer) {
      for (const kind of ['audio', 'video', 'video'] as const) pc.addTransceiver(kind, { direction: 'sendrecv' });
      this.setupTransceivers();
      void this.negotiate(false);
    } else {
      // Ask the offerer for an offer (kwmjs's noop renegotiate kick).
      this.o.send({ renegotiate: true, noop: true }, this.pcid);
    }
  }

  private setupTransceivers(): void {
    const ts = this.pc.getTransceivers();
    const m = this.o.media;
    const tracks = [m.audio, this.o.audioOnly ? null : m.camera, this.o.audioOnly ? null : m.screen];
    ts.slice(0, 3).forEach((t, i) => {
      if (t.currentDirection === 'stopped' || !t.sender) return;
      const video = i !== ROLE_AUDIO;
      try {
        t.direction = video && this.o.audioOnly ? 'inactive' : 'sendrecv';
      } catch {
        /* stopped */
      }
      void t.sender.replaceTrack(tracks[i]).catch(() => undefined);
      if (video) {
        const prefer = i === ROLE_SCREEN ? this.o.sdpScreen.videoRecvCodec : this.o.sdp.videoRecvCodec;
        try {
          const caps = RTCRtpReceiver.getCapabilities?.('video');
          if (caps && prefer && 'setCodecPreferences' in t) t.setCodecPreferences(preferCodec(caps.codecs, prefer));
        } catch {
          /* codec not available here */
        }
        this.capBitrate(t.sender, i === ROLE_SCREEN ? this.o.sdpScreen.videoSendBitrate ?? 2500 : this.o.cameraKbps);
      }
    });
  }

  private capBitrate(sender: RTCRtpSender, kbps: number): void {
    try {
      const p = sender.getParameters();
      if (!p.encodings || !p.encodings.length) return;
      p.encodings[0].maxBitrate = kbps * 1000;
      void sender.setParameters(p).catch(() => undefined);
    } catch {
      /* not negotiated yet: the SDP cap applies */
    }
  }

  /** SDP caps: in the remote description they limit what this side sends. */
  private mungeRemote(sdp: string): string {
    // m-sections in order: audio, camera, screen (then the data channel).
    const mids = sectionMids(sdp);
    const videoKbps: Record<string, number> = {};
    if (mids[ROLE_CAMERA]) videoKbps[mids[ROLE_CAMERA]] = this.o.cameraKbps;
    if (mids[ROLE_SCREEN]) videoKbps[mids[ROLE_SCREEN]] = this.o.sdpScreen.videoSendBitrate ?? 2500;
    return mungeSdp(sdp, { videoKbps, audioKbps: this.o.sdp.audioSendBitrate, opus: this.o.sdp });
  }

  /** Opus FEC/DTX in the local description: asks the other side to send them. */
  private mungeLocal(sdp: string): string {
    return mungeSdp(sdp, { opus: this.o.sdp });
  }

  private async negotiate(iceRestart: boolean): Promise<void> {
    if (this.closed) return;
    if (!this.o.offerer) {
      this.o.send(iceRestart ? { renegotiate: true, iceRestart: true } : { renegotiate: true }, this.pcid);
      return;
    }
    const pc = this.pc;
    if (this.makingOffer || pc.signalingState !== 'stable') {
      this.again = true;
      this.againRestart ||= iceRestart;
      return;
    }
    this.makingOffer = true;
    try {
      const offer = await pc.createOffer({ iceRestart });
      if (pc !== this.pc) return;
      await pc.setLocalDescription({ type: 'offer', sdp: this.mungeLocal(offer.sdp ?? '') });
      this.offerRestarts = iceRestart;
      this.o.send({ type: 'offer', sdp: pc.localDescription?.sdp }, this.pcid);
    } catch {
      /* closed meanwhile */
    } finally {
      this.makingOffer = false;
    }
  }

  /** ICE restart (network change, server restart): the offerer restarts, the other side asks. */
  restartIce(): void {
    if (this.closed) return;
    void this.negotiate(true);
  }

  /** New TURN credentials or servers (rtm/connect after a reconnect). */
  setConfiguration(c: RTCConfiguration): void {
    this.o.rtcConfig = c;
    try {
      this.pc.setConfiguration(c);
    } catch {
      /* some keys cannot change; the next pc gets them */
    }
  }

  /** Handles a `webrtc_signal` from the peer, one at a time in arrival order. */
  handleSignal(data: unknown, pcid: string | undefined): void {
    this.queue = this.queue
      .then(() => this.onSignal(data, pcid))
      .catch((e) => {
        this.t('signal failed', { error: e instanceof Error ? `${e.name}: ${e.message}` : String(e) });
        console.warn('signal', e);
      });
  }

  private async onSignal(data: unknown, pcid: string | undefined): Promise<void> {
    if (this.closed || typeof data !== 'object' || data === null) return;
    // A new pcid: the other side made a new peer connection (reload, rebuild). Signals of its
    // old one still under way are dropped. If ours already negotiated with the old one, we make
    // a new one too; a fresh one simply follows (else the two sides would rebuild in turn forever).
    if (pcid && this.remotePcid && pcid !== this.remotePcid) {
      if (this.retiredPcids.has(pcid)) {
        this.t('drop retired', { pcid });
        return;
      }
      this.retiredPcids.add(this.remotePcid);
      this.t('remote pcid changed', { from: this.remotePcid, to: pcid, rebuild: !!this.pc.remoteDescription });
      this.remotePcid = pcid;
      if (this.pc.remoteDescription) this.rebuild();
    }
    if (pcid) this.remotePcid = pcid;
    const d = data as { type?: string; sdp?: string; candidate?: RTCIceCandidateInit; renegotiate?: boolean; iceRestart?: boolean };
    const pc = this.pc;
    if (d.renegotiate) {
      // kwmjs's "noop" kick only asks for a first offer: ours is made or under way already.
      const d2 = d as { noop?: boolean };
      if (d2.noop && !d.iceRestart && (this.makingOffer || pc.localDescription)) {
        // The other side asks for a first offer although ours went out: in a room it may have
        // dropped it (it had not joined yet when it came), and the pair would wait for ever. An
        // offer still unanswered is sent again (with the candidates gathered so far).
        if (this.o.offerer && !this.makingOffer && pc.signalingState === 'have-local-offer' && pc.localDescription) {
          this.t('offer again');
          this.o.send({ type: 'offer', sdp: pc.localDescription.sdp }, this.pcid);
        } else this.t('noop ignored', { making: this.makingOffer, s: pc.signalingState });
        return;
      }
      if (this.o.offerer) {
        const ice = pc.iceConnectionState;
        const restart = d.iceRestart === true || (this.negotiated && ice !== 'connected' && ice !== 'completed' && ice !== 'new' && ice !== 'checking');
        await this.negotiate(restart);
      }
      return;
    }
    if (d.candidate) {
      if (!pc.remoteDescription) this.pendingCandidates.push(d.candidate);
      else await pc.addIceCandidate(d.candidate).catch(() => undefined);
      return;
    }
    if (d.type === 'offer' && typeof d.sdp === 'string') {
      if (this.o.offerer) {
        this.t('drop offer: we offer');
        return; // never expected: we are the offerer
      }
      // The offerer sends an unanswered offer again when we ask for one (see the noop kick above);
      // when both crossed, the copy arrives after we answered the first. Answering it again would
      // put a second answer on the way, which the offerer could take for the answer to a later
      // offer (an ICE restart): its ICE credentials would then not match ours, and the pair would
      // stay without media.
      // A copy is the same offer with the candidates gathered meanwhile: same o= line (session id
      // and version; a new offer has a greater version).
      if (offerId(d.sdp) === this.answeredOffer && pc.signalingState === 'stable') {
        this.t('duplicate offer ignored');
        return;
      }
      await pc.setRemoteDescription({ type: 'offer', sdp: this.mungeRemote(d.sdp) });
      this.setupTransceivers();
      const answer = await pc.createAnswer();
      await pc.setLocalDescription({ type: 'answer', sdp: this.mungeLocal(answer.sdp ?? '') });
      this.o.send({ type: 'answer', sdp: pc.localDescription?.sdp }, this.pcid);
      this.answeredOffer = offerId(d.sdp);
      this.negotiated = true;
      await this.flushCandidates();
      this.recap();
      return;
    }
    if (d.type === 'answer' && typeof d.sdp === 'string') {
      if (!this.o.offerer || pc.signalingState !== 'have-local-offer') {
        this.t('drop answer', { s: pc.signalingState });
        return;
      }
      // An answer to an ICE restart brings new credentials; one with the old ones answers an
      // earlier offer (a copy of it that crossed with our restart) and would break the pair.
      const ufrag = iceUfrag(d.sdp);
      if (this.offerRestarts && ufrag && ufrag === iceUfrag(pc.remoteDescription?.sdp ?? '')) {
        this.t('drop stale answer', { ufrag });
        return;
      }
      await pc.setRemoteDescription({ type: 'answer', sdp: this.mungeRemote(d.sdp) });
      this.negotiated = true;
      await this.flushCandidates();
      this.recap();
      if (this.again) {
        const r = this.againRestart;
        this.again = this.againRestart = false;
        await this.negotiate(r);
      }
    }
  }

  private recap(): void {
    const ts = this.pc.getTransceivers();
    if (ts[ROLE_CAMERA]) this.capBitrate(ts[ROLE_CAMERA].sender, this.o.cameraKbps);
    if (ts[ROLE_SCREEN]) this.capBitrate(ts[ROLE_SCREEN].sender, this.o.sdpScreen.videoSendBitrate ?? 2500);
  }

  private async flushCandidates(): Promise<void> {
    const list = this.pendingCandidates;
    this.pendingCandidates = [];
    for (const c of list) await this.pc.addIceCandidate(c).catch(() => undefined);
  }

  /** Throws the peer connection away and starts a new one (the remote did the same). */
  rebuild(): void {
    this.rebuilds++;
    this.t('rebuild', { pcid: this.pcid });
    const old = this.pc;
    old.onicecandidate = old.ontrack = old.oniceconnectionstatechange = old.onconnectionstatechange = null;
    try {
      old.close();
    } catch {
      /* closed */
    }
    this.makingOffer = this.again = this.againRestart = false;
    this.create();
    this.o.changed();
  }

  /** Local media changed (camera, screen): swap tracks without renegotiation. */
  setMedia(media: PeerMedia, local: PeerState): void {
    this.o.media = media;
    this.o.local = local;
    const ts = this.pc.getTransceivers();
    const tracks = [media.audio, this.o.audioOnly ? null : media.camera, this.o.audioOnly ? null : media.screen];
    ts.slice(0, 3).forEach((t, i) => {
      if (t.currentDirection !== 'stopped' && t.sender && t.sender.track !== tracks[i]) void t.sender.replaceTrack(tracks[i]).catch(() => undefined);
    });
    this.recap();
    this.sendState();
  }

  setLocalState(local: PeerState): void {
    this.o.local = local;
    this.sendState();
  }

  private sendState(): void {
    if (this.dc?.readyState === 'open') {
      try {
        this.dc.send(JSON.stringify(this.o.local));
      } catch {
        /* closing */
      }
    }
  }

  /** ICE is up (media can flow without the signaling server). */
  mediaUp(): boolean {
    const s = this.pc.iceConnectionState;
    return s === 'connected' || s === 'completed';
  }

  /** Connection for the UI. */
  connection(signalingUp: boolean): 'connecting' | 'connected' | 'reconnecting' | 'failed' {
    const s = this.pc.iceConnectionState;
    if (s === 'connected' || s === 'completed') return signalingUp ? 'connected' : 'reconnecting';
    if (this.everConnected) return 'reconnecting';
    if (s === 'failed') return 'failed';
    return 'connecting';
  }

  /** Audio level of the peer's microphone (0..1), cheap enough to poll several times a second. */
  pollLevel(): number {
    const r = this.pc.getTransceivers()[ROLE_AUDIO]?.receiver;
    const src = r?.getSynchronizationSources?.() ?? [];
    const now = performance.now();
    let level = 0;
    for (const s of src) if (now - s.timestamp < 1000) level = Math.max(level, s.audioLevel ?? 0);
    this.level = level;
    return level;
  }

  /** Updates `quality` from getStats (loss, round-trip time, jitter). */
  async pollStats(): Promise<void> {
    if (this.closed) return;
    try {
      const report = await this.pc.getStats();
      const cur: StatsSample = { packetsReceived: 0, packetsLost: 0 };
      report.forEach((s: Record<string, unknown>) => {
        if (s.type === 'inbound-rtp') {
          cur.packetsReceived += Number(s.packetsReceived ?? 0);
          cur.packetsLost += Number(s.packetsLost ?? 0);
          if (typeof s.jitter === 'number') cur.jitter = Math.max(cur.jitter ?? 0, s.jitter);
        }
        if (s.type === 'candidate-pair' && s.nominated && s.state === 'succeeded' && typeof s.currentRoundTripTime === 'number') cur.rtt = s.currentRoundTripTime;
      });
      const ice = this.pc.iceConnectionState;
      const q = qualityOf(this.statsPrev, cur, ice === 'connected' || ice === 'completed' || ice === 'new' || ice === 'checking');
      this.statsPrev = cur;
      if (q !== this.quality) {
        this.quality = q;
        this.o.changed();
      }
    } catch {
      /* closed */
    }
  }

  /** Test-facing numbers (window.__palaverDebug.stats()). */
  async debugStats(): Promise<Record<string, unknown>> {
    const out: Record<string, unknown> = {
      ice: this.pc.iceConnectionState,
      connection: this.pc.connectionState,
      offerer: this.o.offerer,
      signaling: this.pc.signalingState,
      local: this.pc.localDescription?.type ?? null,
      remoteDescription: this.pc.remoteDescription?.type ?? null,
      pendingCandidates: this.pendingCandidates.length,
      rebuilt: this.rebuilds,
    };
    const mids = this.pc.getTransceivers().map((t) => t.mid);
    let framesDecoded = 0;
    let screenFramesDecoded = 0;
    let audioPacketsReceived = 0;
    let videoBytesSent = 0;
    let videoBytesReceived = 0;
    let screenBytesSent = 0;
    const report = await this.pc.getStats();
    const byId = new Map<string, Record<string, unknown>>();
    report.forEach((s: Record<string, unknown>) => byId.set(String(s.id), s));
    report.forEach((s: Record<string, unknown>) => {
      if (s.type === 'inbound-rtp' && s.kind === 'video') {
        if (s.mid !== undefined && s.mid === mids[ROLE_SCREEN]) screenFramesDecoded += Number(s.framesDecoded ?? 0);
        else framesDecoded += Number(s.framesDecoded ?? 0);
        videoBytesReceived += Number(s.bytesReceived ?? 0);
      }
      if (s.type === 'inbound-rtp' && s.kind === 'audio') audioPacketsReceived += Number(s.packetsReceived ?? 0);
      if (s.type === 'outbound-rtp' && s.kind === 'video') {
        if (s.mid !== undefined && s.mid === mids[ROLE_SCREEN]) screenBytesSent += Number(s.bytesSent ?? 0);
        else videoBytesSent += Number(s.bytesSent ?? 0);
      }
      if (s.type === 'transport' && s.selectedCandidatePairId) {
        const pair = byId.get(String(s.selectedCandidatePairId));
        const l = pair && byId.get(String(pair.localCandidateId));
        const r = pair && byId.get(String(pair.remoteCandidateId));
        out.pair = `${l?.candidateType}/${r?.candidateType}`;
        out.relayProtocol = l?.relayProtocol;
      }
    });
    Object.assign(out, { framesDecoded, screenFramesDecoded, audioPacketsReceived, videoBytesSent, videoBytesReceived, screenBytesSent, quality: this.quality, remote: this.remote });
    const cam = this.pc.getTransceivers()[ROLE_CAMERA]?.sender.getParameters().encodings?.[0]?.maxBitrate;
    out.cameraMaxBitrate = cam;
    return out;
  }

  close(): void {
    this.closed = true;
    if (this.disconnectedTimer) clearTimeout(this.disconnectedTimer);
    try {
      this.pc.close();
    } catch {
      /* closed */
    }
  }
}
