// The engine's signaling logic against a fake kwm server socket (no network, no real WebRTC:
// a minimal RTCPeerConnection stand-in records what the engine does with it).
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { Engine, createCallEngine } from './callEngine';
import { Peer } from './peer';
import { defaults, type MeetConfig } from '../config';
import type { SocketLike } from '../kwm/client';

class FakeStream {
  private tracks: unknown[] = [];
  constructor(t: unknown[] = []) {
    this.tracks = [...t];
  }
  getTracks() {
    return this.tracks;
  }
  getAudioTracks() {
    return [];
  }
  getVideoTracks() {
    return [];
  }
  addTrack(t: unknown) {
    this.tracks.push(t);
  }
}

const pcs: FakePc[] = [];
class FakePc {
  transceivers: { mid: string | null; direction: string; currentDirection: string | null; sender: { track: null; replaceTrack: () => Promise<void>; getParameters: () => object; setParameters: () => Promise<void> }; receiver: object }[] = [];
  iceConnectionState = 'new';
  connectionState = 'new';
  signalingState = 'stable';
  remoteDescription: object | null = null;
  localDescription: { sdp: string } | null = null;
  config: RTCConfiguration;
  offers: { iceRestart?: boolean }[] = [];
  closed = false;
  onicecandidate = null;
  ontrack = null;
  oniceconnectionstatechange = null;
  onconnectionstatechange = null;
  constructor(c: RTCConfiguration) {
    this.config = c;
    pcs.push(this);
  }
  addTransceiver() {
    const params = { encodings: [{}] as { maxBitrate?: number }[] };
    this.transceivers.push({ mid: String(this.transceivers.length), direction: 'sendrecv', currentDirection: null, sender: { track: null, replaceTrack: async () => undefined, getParameters: () => params, setParameters: async () => undefined }, receiver: {} });
  }
  getTransceivers() {
    return this.transceivers;
  }
  createDataChannel() {
    return { readyState: 'connecting', send() {}, onopen: null, onmessage: null };
  }
  answers = 0;
  // ICE credentials change with each ICE restart, as in a browser.
  async createOffer(o: { iceRestart?: boolean }) {
    this.offers.push(o);
    return { type: 'offer', sdp: `v=0\r\na=ice-ufrag:o${this.offers.filter((x) => x?.iceRestart).length}\r\n` };
  }
  async createAnswer() {
    this.answers++;
    const remote = /a=ice-ufrag:(\S+)/.exec((this.remoteDescription as { sdp?: string } | null)?.sdp ?? '')?.[1] ?? '';
    return { type: 'answer', sdp: `v=0\r\na=ice-ufrag:a-${remote}\r\n` };
  }
  async setLocalDescription(d: { type?: string; sdp: string }) {
    this.localDescription = d;
    this.signalingState = d.type === 'answer' ? 'stable' : 'have-local-offer';
  }
  async setRemoteDescription(d: { type?: string }) {
    this.remoteDescription = d;
    this.signalingState = d.type === 'offer' ? 'have-remote-offer' : 'stable';
  }
  async addIceCandidate() {}
  setConfiguration(c: RTCConfiguration) {
    this.config = c;
  }
  async getStats() {
    return new Map();
  }
  close() {
    this.closed = true;
  }
}

class ServerSocket implements SocketLike {
  onopen: ((ev: unknown) => void) | null = null;
  onmessage: ((ev: { data: unknown }) => void) | null = null;
  onclose: ((ev: unknown) => void) | null = null;
  onerror: ((ev: unknown) => void) | null = null;
  sent: Record<string, any>[] = []; // eslint-disable-line @typescript-eslint/no-explicit-any
  send(d: string) {
    this.sent.push(JSON.parse(d));
  }
  close() {}
  push(m: object) {
    this.onmessage?.({ data: JSON.stringify(m) });
  }
  last(subtype?: string): Record<string, any> { // eslint-disable-line @typescript-eslint/no-explicit-any
    const m = [...this.sent].reverse().find((x) => !subtype || x.subtype === subtype);
    if (!m) throw new Error(`nothing sent (${subtype ?? 'any'})`);
    return m;
  }
}

const config: MeetConfig = { ...defaults, kwm: { ...defaults.kwm, url: 'https://h', webrtc: { config: { iceTransportPolicy: 'relay' } } } };

function makeEngine(self = 'bbb', cfg: MeetConfig = config) {
  const sockets: ServerSocket[] = [];
  const engine = new Engine({
    config: cfg,
    credentials: () => ({ tokenType: 'Bearer', accessToken: 'a', idToken: 'i' }),
    kwm: {
      fetch: (async () => new Response(JSON.stringify({ ok: true, url: '/ws/k', self: { id: self }, turn: { username: 'u', password: 'p', ttl: 3600, uris: [`turn:h:${sockets.length + 1}`] } }), { status: 200 })) as unknown as typeof fetch,
      openSocket: () => {
        const s = new ServerSocket();
        sockets.push(s);
        return s;
      },
    },
  });
  return { engine, sockets };
}

async function settle() {
  for (let i = 0; i < 10; i++) await Promise.resolve();
  await vi.advanceTimersByTimeAsync(1);
}

const W = { type: 'webrtc', v: 20180703 };

beforeEach(() => {
  vi.useFakeTimers();
  pcs.length = 0;
  vi.stubGlobal('MediaStream', FakeStream);
  vi.stubGlobal('RTCPeerConnection', FakePc);
});
afterEach(() => {
  vi.useRealTimers();
  vi.unstubAllGlobals();
});

async function connected(self = 'bbb', cfg: MeetConfig = config) {
  const e = makeEngine(self, cfg);
  await settle();
  e.sockets[0].push({ type: 'hello', self: { id: self, name: 'Me' } });
  await settle();
  return e;
}

describe('call engine signaling', () => {
  it('incoming call: decline tells the caller, ignore sends nothing, busy rejects a second caller', async () => {
    const { engine, sockets } = await connected();
    const s = sockets[0];
    s.push({ ...W, subtype: 'webrtc_call', source: 'aaa', target: 'bbb', initiator: true, state: 'sA', channel: '*c1', hash: 'h1', profile: { name: 'Anna' } });
    await settle();
    expect(engine.getState().status).toEqual({ kind: 'incoming', peer: { id: 'aaa', name: 'Anna' } });
    engine.decline();
    expect(s.last()).toMatchObject({ subtype: 'webrtc_call', target: 'aaa', channel: '*c1', hash: 'h1', initiator: false, data: { accept: false, reason: 'reject', state: 'sA' } });
    await settle();
    expect(engine.getState().status.kind).toBe('idle');

    const before = s.sent.length;
    s.push({ ...W, subtype: 'webrtc_call', source: 'aaa', target: 'bbb', initiator: true, state: 'sA2', channel: '*c2', hash: 'h2' });
    await settle();
    engine.ignore();
    // The caller hangs up later: nothing shows, nothing is sent.
    s.push({ ...W, subtype: 'webrtc_hangup', source: 'aaa', target: 'bbb', state: 'sA2', channel: '*c2', hash: 'h2', data: { accept: false, reason: 'hangup', state: '' } });
    await settle();
    expect(s.sent.length).toBe(before);
    expect(engine.getState().status.kind).toBe('idle');
    expect(engine.getState().ended).toBeUndefined();

    s.push({ ...W, subtype: 'webrtc_call', source: 'aaa', target: 'bbb', initiator: true, state: 'sA3', channel: '*c3', hash: 'h3' });
    await settle();
    s.push({ ...W, subtype: 'webrtc_call', source: 'ccc', target: 'bbb', initiator: true, state: 'sC', channel: '*c4', hash: 'h4' });
    await settle();
    expect(s.last()).toMatchObject({ target: 'ccc', channel: '*c4', data: { accept: false, reason: 'reject_busy', state: 'sC' } });
    // Another device of ours answered: the ringing stops quietly.
    s.push({ ...W, subtype: 'webrtc_call', source: 'aaa', target: '', initiator: true, channel: '*c3' });
    await settle();
    expect(engine.getState().status.kind).toBe('idle');
    expect(engine.getState().ended?.reason).toBe('answered-elsewhere');
    engine.close();
  });

  it('outgoing call: request, accept, the greater id offers, signals carry channel/hash/state', async () => {
    const { engine, sockets } = await connected('bbb');
    const s = sockets[0];
    engine.call({ id: 'aaa', name: 'Anna' });
    await settle();
    const req = s.last('webrtc_call');
    expect(req).toMatchObject({ target: 'aaa', initiator: true, channel: '', hash: '' });
    s.push({ ...W, subtype: 'webrtc_channel', reply_to: req.id, channel: '*x', hash: 'hx' });
    await settle();
    expect(engine.getState().status.kind).toBe('outgoing');
    // A wrong state is not our call.
    s.push({ ...W, subtype: 'webrtc_call', source: 'aaa', target: 'bbb', state: 'sA', channel: '*x', hash: 'hx', data: { accept: true, state: 'nope' } });
    await settle();
    expect(engine.getState().status.kind).toBe('outgoing');
    s.push({ ...W, subtype: 'webrtc_call', source: 'aaa', target: 'bbb', state: 'sA', channel: '*x', hash: 'hx', profile: { name: 'Anna A' }, data: { accept: true, state: req.state } });
    await settle();
    expect(engine.getState().status).toEqual({ kind: 'call', peer: { id: 'aaa', name: 'Anna A' } });
    expect(pcs.length).toBe(1);
    expect(pcs[0].config.iceTransportPolicy).toBe('relay');
    expect(pcs[0].config.iceServers).toEqual([{ urls: ['turn:h:1'], username: 'u', credential: 'p' }]);
    expect(pcs[0].transceivers.length).toBe(3);
    const offer = s.last('webrtc_signal');
    expect(offer).toMatchObject({ target: 'aaa', state: req.state, channel: '*x', hash: 'hx', data: { type: 'offer' } });
    // Signals with the wrong state are dropped.
    engine.hangup();
    expect(s.last()).toMatchObject({ subtype: 'webrtc_hangup', target: 'aaa', channel: '*x', hash: 'hx', data: { accept: false, reason: 'hangup', state: 'sA' } });
    await settle();
    expect(pcs[0].closed).toBe(true);
    engine.close();
  });

  it('a reject ends the call as declined and leaves the channel', async () => {
    const { engine, sockets } = await connected('bbb');
    const s = sockets[0];
    engine.call({ id: 'aaa' });
    await settle();
    const req = s.last('webrtc_call');
    s.push({ ...W, subtype: 'webrtc_channel', reply_to: req.id, channel: '*x', hash: 'hx' });
    await settle();
    s.push({ ...W, subtype: 'webrtc_call', source: 'aaa', target: 'bbb', state: 'sA', channel: '*x', hash: 'hx', profile: { name: 'Anna' }, data: { accept: false, reason: 'reject', state: req.state } });
    await settle();
    expect(engine.getState().ended).toEqual({ reason: 'declined', peer: { id: 'aaa', name: 'Anna' } });
    expect(s.last()).toMatchObject({ subtype: 'webrtc_hangup', channel: '*x' });
    engine.close();
  });

  it('after a reconnect the call moves to a new channel and ICE restarts with new TURN', async () => {
    const { engine, sockets } = await connected('bbb');
    const s = sockets[0];
    s.push({ ...W, subtype: 'webrtc_call', source: 'aaa', target: 'bbb', initiator: true, state: 'sA', channel: '*c1', hash: 'h1', profile: { name: 'Anna' } });
    await settle();
    engine.accept();
    await settle();
    const answer = s.last('webrtc_call');
    expect(answer).toMatchObject({ data: { accept: true, state: 'sA' } });
    const own = answer.state;
    expect(pcs.length).toBe(1);
    s.push({ ...W, subtype: 'webrtc_signal', source: 'aaa', target: 'bbb', state: 'sA', channel: '*c1', hash: 'h1', pcid: 'p1', data: { type: 'answer', sdp: 'v=0\r\n' } });
    await settle();
    expect(pcs[0].signalingState).toBe('stable');
    // The socket drops (palaverd restarts).
    s.onclose?.({});
    await settle();
    expect(engine.getState().signaling).toBe('reconnecting');
    await vi.advanceTimersByTimeAsync(1600);
    const s2 = sockets[1];
    s2.push({ type: 'hello', self: { id: 'bbb' } });
    await settle();
    const recall = s2.last('webrtc_call');
    expect(recall).toMatchObject({ target: 'aaa', initiator: true, state: own });
    s2.push({ ...W, subtype: 'webrtc_channel', reply_to: recall.id, channel: '*n', hash: 'hn' });
    await settle();
    s2.push({ ...W, subtype: 'webrtc_call', source: 'aaa', target: 'bbb', state: 'sA', channel: '*n', hash: 'hn', data: { accept: true, state: own } });
    await settle();
    expect(pcs.length).toBe(1); // the same peer connection
    expect(pcs[0].config.iceServers).toEqual([{ urls: ['turn:h:2'], username: 'u', credential: 'p' }]);
    // bbb > aaa: this side offers, with an ICE restart, on the new channel.
    expect(pcs[0].offers.some((o) => o.iceRestart)).toBe(true);
    expect(s2.last('webrtc_signal')).toMatchObject({ channel: '*n', hash: 'hn', state: own });
    expect(engine.getState().status.kind).toBe('call');
    engine.close();
  });

  it('rooms: join, accept each member, adopt the pair hash, drop who left', async () => {
    const { engine, sockets } = await connected('bbb');
    const s = sockets[0];
    engine.joinRoom('group', 'team');
    await settle();
    const join = s.last('webrtc_group');
    expect(join).toMatchObject({ target: 'group/team', group: 'group/team', channel: '', hash: '' });
    s.push({ ...W, subtype: 'webrtc_channel', reply_to: join.id, channel: '@group/team', hash: 'gh', data: { group: { group: 'group/team', members: ['aaa', 'bbb', 'ccc'], reset: true } } });
    await settle();
    const accepts = s.sent.filter((m) => m.subtype === 'webrtc_call');
    expect(accepts.map((m) => m.target).sort()).toEqual(['aaa', 'ccc']);
    expect(accepts[0]).toMatchObject({ state: 'group/team', group: 'group/team', hash: 'gh', data: { accept: true, state: 'group/team' } });
    s.push({ ...W, subtype: 'webrtc_call', source: 'aaa', target: 'bbb', state: 'group/team', channel: '@group/team', group: 'group/team', hash: 'pair-ab', profile: { name: '(Guest)Ann' }, data: { accept: true, state: 'group/team' } });
    await settle();
    const p = engine.getState().participants.find((x) => x.id === 'aaa')!;
    expect(p).toMatchObject({ name: 'Ann', guest: true });
    expect(s.last('webrtc_signal')).toMatchObject({ target: 'aaa', hash: 'pair-ab', group: 'group/team' });
    s.push({ ...W, subtype: 'webrtc_channel', channel: '@group/team', data: { group: { group: 'group/team', members: ['bbb', 'ccc'], reset: false } } });
    await settle();
    expect(engine.getState().participants.map((x) => x.id)).toEqual(['ccc']);
    // Chat in the room.
    engine.sendChat('hi all');
    const chat = s.last();
    expect(chat).toMatchObject({ type: 'chats', channel: '@group/team', data: { text: 'hi all', kind: '' } });
    s.push({ type: 'chats', subtype: 'chats_message', reply_to: chat.id, channel: '@group/team', v: 20201201, data: { kind: '', sender: 'bbb', target: '', id: 'srv1', text: 'hi all', ts: 1 } });
    s.push({ type: 'chats', subtype: 'chats_message', channel: '@group/team', v: 20201201, profile: { name: 'Carl' }, data: { kind: '', sender: 'ccc', target: '', id: 'srv2', text: 'hey', ts: 2 } });
    await settle();
    expect(engine.getState().chat.map((c) => [c.fromName, c.text, c.own])).toEqual([
      ['Me', 'hi all', true],
      ['Carl', 'hey', false],
    ]);
    // A message the server refuses (too long in bytes): the send says so, nothing is added.
    const refused = engine.sendChat('ä'.repeat(9000));
    const req = s.last();
    s.push({ type: 'error', reply_to: req.id, error: { code: 'bad_message', msg: 'message text size limit exceeded' } });
    expect(await refused).toBe(false);
    const ok = engine.sendChat('short');
    s.push({ type: 'chats', subtype: 'chats_message', reply_to: s.last().id, channel: '@group/team', v: 20201201, data: { kind: '', sender: 'bbb', target: '', id: 'srv3', text: 'short', ts: 3 } });
    expect(await ok).toBe(true);
    await settle();
    expect(engine.getState().chat.map((c) => c.text)).toEqual(['hi all', 'hey', 'short']);
    expect(engine.getState().error).toBeUndefined();
    engine.leaveRoom();
    expect(s.sent.filter((m) => m.subtype === 'webrtc_hangup')[0]).toMatchObject({ target: 'group/team', group: 'group/team', hash: 'gh' });
    engine.close();
  });

  it('config.json: screen sharing off by the admin, sdpParams bitrate caps the camera', async () => {
    vi.stubGlobal('navigator', { ...navigator, mediaDevices: { getDisplayMedia: () => Promise.reject(new Error('must not be asked')) } });
    const cfg: MeetConfig = { ...config, disableScreenshare: true, kwm: { ...config.kwm, sdpParams: { videoSendBitrate: 300 } } };
    const { engine, sockets } = await connected('bbb', cfg);
    expect(engine.getState().canShareScreen).toBe(false);
    const s = sockets[0];
    engine.call({ id: 'aaa' });
    await settle();
    const req = s.last('webrtc_call');
    s.push({ ...W, subtype: 'webrtc_channel', reply_to: req.id, channel: '*x', hash: 'hx' });
    await settle();
    s.push({ ...W, subtype: 'webrtc_call', source: 'aaa', target: 'bbb', state: 'sA', channel: '*x', hash: 'hx', data: { accept: true, state: req.state } });
    await settle();
    await engine.startScreenShare();
    expect(engine.getState().local.screen).toBeNull();
    expect(engine.getState().error).toBe('noDevices'); // from the missing getUserMedia, not from sharing
    const cam = pcs[0].transceivers[1].sender.getParameters() as { encodings: { maxBitrate?: number }[] };
    expect(cam.encodings[0].maxBitrate).toBe(300000);
    const screen = pcs[0].transceivers[2].sender.getParameters() as { encodings: { maxBitrate?: number }[] };
    expect(screen.encodings[0].maxBitrate).toBe(2500000);
    engine.close();
  });

  it('without the admin switch, screen sharing is offered where the browser has it', async () => {
    vi.stubGlobal('navigator', { ...navigator, mediaDevices: { getDisplayMedia: () => Promise.reject(new Error('x')) } });
    const { engine } = await connected('bbb');
    expect(engine.getState().canShareScreen).toBe(true);
    engine.close();
  });
});

describe('call engine media lifetime', () => {
  /** getUserMedia that answers only when the test says (the permission prompt is open meanwhile). */
  function slowCamera() {
    const asked: ((s: MediaStream) => void)[] = [];
    const stopped: string[] = [];
    vi.stubGlobal('navigator', { ...navigator, mediaDevices: { getUserMedia: () => new Promise<MediaStream>((r) => asked.push(r)) } });
    const stream = (name: string) => new FakeStream([{ kind: 'video', enabled: true, stop: () => stopped.push(name) }]) as unknown as MediaStream;
    return { asked, stopped, stream };
  }

  it('a call hung up while the camera opens does not leave the camera on', async () => {
    const cam = slowCamera();
    const { engine } = await connected();
    engine.call({ id: 'aaa' });
    await settle();
    expect(cam.asked.length).toBe(1);
    engine.hangup();
    cam.asked[0](cam.stream('late'));
    await settle();
    expect(cam.stopped).toEqual(['late']);
    expect(engine.debugInfo().localTracks).toEqual([]);
    engine.close();
  });

  it('leaving a room while the camera opens stops the late stream', async () => {
    const cam = slowCamera();
    const { engine, sockets } = await connected();
    engine.joinRoom('group', 'team');
    await settle();
    engine.leaveRoom();
    cam.asked[0](cam.stream('late'));
    await settle();
    expect(cam.stopped).toEqual(['late']);
    expect(sockets[0].sent.some((m) => m.subtype === 'webrtc_group')).toBe(false);
    engine.close();
  });

  it('accept clicked twice opens the camera once; declining meanwhile stops it', async () => {
    const cam = slowCamera();
    const { engine, sockets } = await connected();
    const s = sockets[0];
    s.push({ ...W, subtype: 'webrtc_call', source: 'aaa', target: 'bbb', initiator: true, state: 'sA', channel: '*c1', hash: 'h1' });
    await settle();
    engine.accept();
    engine.accept();
    await settle();
    expect(cam.asked.length).toBe(1);
    cam.asked[0](cam.stream('first'));
    await settle();
    expect(engine.getState().status.kind).toBe('call');
    expect(s.sent.filter((m) => m.subtype === 'webrtc_call' && m.data?.accept === true).length).toBe(1);
    engine.hangup();
    await settle();
    expect(cam.stopped).toEqual(['first']);

    s.push({ ...W, subtype: 'webrtc_call', source: 'aaa', target: 'bbb', initiator: true, state: 'sA2', channel: '*c2', hash: 'h2' });
    await settle();
    engine.accept();
    await settle();
    engine.decline();
    cam.asked[1](cam.stream('second'));
    await settle();
    expect(cam.stopped).toEqual(['first', 'second']);
    expect(engine.getState().status.kind).toBe('idle');
    engine.close();
  });
});

describe('mesh pair set-up', () => {
  it('an offer the other side dropped is sent again when it asks for one (no pair waits for ever)', async () => {
    const sent: { data: { type?: string; sdp?: string }; pcid: string }[] = [];
    const peer = new Peer({
      id: 'aaa', offerer: true, rtcConfig: {}, audioOnly: false, media: { audio: null, camera: null, screen: null },
      local: { mic: true, cam: true, screen: false, hand: false },
      sdp: {} as never, sdpScreen: {} as never, cameraKbps: 1000,
      send: (data, pcid) => sent.push({ data: data as { type?: string; sdp?: string }, pcid }), changed: () => {},
    });
    await settle();
    const offers = () => sent.filter((m) => m.data.type === 'offer');
    expect(offers()).toHaveLength(1); // the first offer: lost on the way (the peer was not in the room yet)
    await peer.handleSignal({ renegotiate: true, noop: true }, 'theirs');
    await settle();
    expect(offers()).toHaveLength(2);
    expect(offers()[1].data.sdp).toBe(offers()[0].data.sdp);
    // Once answered, a further kick changes nothing.
    await peer.handleSignal({ type: 'answer', sdp: 'v=0\r\n' }, 'theirs');
    await peer.handleSignal({ renegotiate: true, noop: true }, 'theirs');
    await settle();
    expect(offers()).toHaveLength(2);
    peer.close();
  });
});

function meshPeer(offerer: boolean, sent: { data: { type?: string; sdp?: string; renegotiate?: boolean }; pcid: string }[]) {
  return new Peer({
    id: 'aaa', offerer, rtcConfig: {}, audioOnly: false, media: { audio: null, camera: null, screen: null },
    local: { mic: true, cam: true, screen: false, hand: false },
    sdp: {} as never, sdpScreen: {} as never, cameraKbps: 1000,
    send: (data, pcid) => sent.push({ data: data as { type?: string; sdp?: string }, pcid }), changed: () => {},
  });
}

// The order seen in the browsers' traces (window.__palaverDebug.trace()): both sides of a pair make
// their peer connection at about the same time, so the answerer's "noop" kick crosses the offer.
// The offerer then sends its unanswered offer again, and the answerer receives a copy of an offer
// it has answered already. A second answer to that copy must not be taken for the answer to a
// later offer (an ICE restart, e.g. after a reconnect): the two sides' ICE credentials would no
// longer match and the pair would stay without media.
describe('joining a room', () => {
  it('a join without an answer in time is asked again while the socket is up', async () => {
    const { engine, sockets } = await connected('bbb');
    const s = sockets[0];
    engine.joinRoom('group', 'team');
    await settle();
    const first = s.last('webrtc_group');
    await vi.advanceTimersByTimeAsync(5001); // no reply within the request timeout
    // (the keepalive's pongs keep the socket up meanwhile)
    for (const m of s.sent.filter((x) => x.type === 'ping')) s.push({ type: 'pong', reply_to: m.id, ts: m.ts });
    const joins = s.sent.filter((m) => m.subtype === 'webrtc_group');
    expect(joins).toHaveLength(2);
    expect(joins[1]).toMatchObject({ target: 'group/team', state: first.state });
    s.push({ ...W, subtype: 'webrtc_channel', reply_to: joins[1].id, channel: '@group/team', hash: 'gh', data: { group: { group: 'group/team', members: ['aaa', 'bbb'], reset: true } } });
    await settle();
    expect(s.sent.filter((m) => m.subtype === 'webrtc_call').map((m) => m.target)).toEqual(['aaa']);
    expect(engine.getState().status.kind).toBe('room');
    engine.close();
  });
});

describe('a member that loses its signaling socket', () => {
  async function roomWithAnna() {
    const e = await connected('bbb');
    const s = e.sockets[0];
    e.engine.joinRoom('group', 'team');
    await settle();
    const join = s.last('webrtc_group');
    s.push({ ...W, subtype: 'webrtc_channel', reply_to: join.id, channel: '@group/team', hash: 'gh', data: { group: { group: 'group/team', members: ['aaa', 'bbb', 'ccc'], reset: true } } });
    await settle();
    for (const id of ['aaa', 'ccc']) {
      s.push({ ...W, subtype: 'webrtc_call', source: id, target: 'bbb', state: 'group/team', channel: '@group/team', group: 'group/team', hash: `pair-${id}`, data: { accept: true, state: 'group/team' } });
    }
    await settle();
    return { ...e, s };
  }
  const members = (list: string[]) => ({ ...W, subtype: 'webrtc_channel', channel: '@group/team', data: { group: { group: 'group/team', members: list, reset: false } } });

  it('keeps a pair whose media flow and takes the member back without starting over', async () => {
    const { engine, s } = await roomWithAnna();
    expect(pcs).toHaveLength(2);
    const [anna, carl] = pcs;
    anna.iceConnectionState = 'connected'; // media between us flow; Carl's never came up
    const offers = anna.offers.length;
    // Both lose their socket (the server's update), Anna joins back a moment later.
    s.push(members(['bbb']));
    await settle();
    expect(engine.getState().participants.map((p) => p.id)).toEqual(['aaa']);
    expect(anna.closed).toBe(false);
    expect(carl.closed).toBe(true);
    const accepts = s.sent.filter((m) => m.subtype === 'webrtc_call').length;
    s.push(members(['aaa', 'bbb']));
    await settle();
    expect(s.sent.filter((m) => m.subtype === 'webrtc_call').slice(accepts).map((m) => m.target)).toEqual(['aaa']);
    s.push({ ...W, subtype: 'webrtc_call', source: 'aaa', target: 'bbb', state: 'group/team', channel: '@group/team', group: 'group/team', hash: 'pair-aaa', data: { accept: true, state: 'group/team' } });
    await settle();
    expect(pcs).toHaveLength(2); // the same peer connection ...
    expect(anna.offers.length).toBe(offers); // ... untouched: no ICE restart
    await vi.advanceTimersByTimeAsync(25000);
    expect(engine.getState().participants.map((p) => p.id)).toEqual(['aaa']); // and not dropped later
    engine.close();
  });

  it('drops a member kept for its media when it does not come back', async () => {
    const { engine, s } = await roomWithAnna();
    pcs[0].iceConnectionState = 'connected';
    s.push(members(['bbb', 'ccc']));
    await settle();
    expect(engine.getState().participants.map((p) => p.id)).toEqual(['aaa', 'ccc']);
    await vi.advanceTimersByTimeAsync(20001);
    expect(engine.getState().participants.map((p) => p.id)).toEqual(['ccc']);
    expect(pcs[0].closed).toBe(true);
    engine.close();
  });

  it('after a server restart (a new pair hash) a kept pair restarts ICE', async () => {
    const { engine, s } = await roomWithAnna();
    const anna = pcs[0];
    s.push({ ...W, subtype: 'webrtc_signal', source: 'aaa', target: 'bbb', state: 'group/team', channel: '@group/team', group: 'group/team', hash: 'pair-aaa', pcid: 'pa', data: { type: 'answer', sdp: 'v=0\r\na=ice-ufrag:a-o0\r\n' } });
    await settle();
    anna.iceConnectionState = 'connected';
    const offers = anna.offers.length;
    s.push({ ...W, subtype: 'webrtc_call', source: 'aaa', target: 'bbb', state: 'group/team', channel: '@group/team', group: 'group/team', hash: 'pair-aaa-new-key', data: { accept: true, state: 'group/team' } });
    await settle();
    expect(anna.offers.slice(offers).some((o) => o?.iceRestart)).toBe(true);
    engine.close();
  });
});

describe('crossing offers in a mesh pair', () => {
  it('the answerer answers a copy of an offer it answered already only once', async () => {
    const sent: { data: { type?: string; sdp?: string; renegotiate?: boolean }; pcid: string }[] = [];
    const peer = meshPeer(false, sent);
    await settle();
    expect(sent.map((m) => m.data)).toEqual([{ renegotiate: true, noop: true }]); // the kick
    const offer = { type: 'offer', sdp: 'v=0\r\no=- 4611 2 IN IP4 127.0.0.1\r\na=ice-ufrag:o0\r\n' };
    peer.handleSignal(offer, 'theirs');
    // The copy, sent because our kick crossed it: the same offer with the candidates gathered since.
    peer.handleSignal({ ...offer, sdp: `${offer.sdp}a=candidate:1 1 udp 2122260223 127.0.0.1 40000 typ host\r\n` }, 'theirs');
    await settle();
    const answers = () => sent.filter((m) => m.data.type === 'answer');
    expect(answers()).toHaveLength(1);
    expect(pcs[0].answers).toBe(1);
    // A real new offer (ICE restart) is answered.
    peer.handleSignal({ type: 'offer', sdp: 'v=0\r\no=- 4611 3 IN IP4 127.0.0.1\r\na=ice-ufrag:o1\r\n' }, 'theirs');
    await settle();
    expect(answers().map((m) => m.data.sdp)).toEqual(['v=0\r\na=ice-ufrag:a-o0\r\n', 'v=0\r\na=ice-ufrag:a-o1\r\n']);
    peer.close();
  });

  it('the offerer does not take an answer with the old ICE credentials for its ICE restart', async () => {
    const sent: { data: { type?: string; sdp?: string }; pcid: string }[] = [];
    const peer = meshPeer(true, sent);
    await settle();
    const pc = pcs[0];
    const offers = () => sent.filter((m) => m.data.type === 'offer');
    peer.handleSignal({ renegotiate: true, noop: true }, 'theirs'); // the crossing kick
    await settle();
    expect(offers()).toHaveLength(2); // the same offer again
    peer.handleSignal({ type: 'answer', sdp: 'v=0\r\na=ice-ufrag:a-o0\r\n' }, 'theirs');
    await settle();
    expect(pc.signalingState).toBe('stable');
    peer.restartIce(); // e.g. the other side reconnected
    await settle();
    expect(offers()).toHaveLength(3);
    expect(offers()[2].data.sdp).toContain('ice-ufrag:o1');
    // The other side's second answer (to the copy) arrives now, then the one to the restart.
    peer.handleSignal({ type: 'answer', sdp: 'v=0\r\na=ice-ufrag:a-o0\r\n' }, 'theirs');
    await settle();
    expect(pc.signalingState).toBe('have-local-offer');
    peer.handleSignal({ type: 'answer', sdp: 'v=0\r\na=ice-ufrag:a-o1\r\n' }, 'theirs');
    await settle();
    expect(pc.signalingState).toBe('stable');
    expect((pc.remoteDescription as { sdp: string }).sdp).toContain('ice-ufrag:a-o1');
    peer.close();
  });
});

describe('the test-facing debug hook', () => {
  it('holds no credentials and goes away when the engine closes', async () => {
    const sockets: ServerSocket[] = [];
    const engine = createCallEngine({
      config,
      credentials: () => ({ tokenType: 'Bearer', accessToken: 'SECRET-ACCESS', idToken: 'SECRET-ID' }),
      kwm: {
        fetch: (async () => new Response(JSON.stringify({ url: '/ws/k', turn: { username: '1:u', password: 'SECRET-TURN', ttl: 3600, uris: ['turn:h:1'] } }), { status: 200 })) as unknown as typeof fetch,
        openSocket: () => {
          const s = new ServerSocket();
          sockets.push(s);
          return s;
        },
      },
    });
    await settle();
    sockets[0].push({ type: 'hello', self: { id: 'bbb', name: 'Me' } });
    await settle();
    const hook = (window as unknown as { __palaverDebug: { info: () => object; state: () => object; stats: () => Promise<object>; trace: () => { k: string; what: string }[] } }).__palaverDebug;
    // A room with a peer: the trace shows the messages' shapes, never SDP bodies or credentials.
    engine.joinRoom('group', 'team');
    await settle();
    const join = sockets[0].last('webrtc_group');
    sockets[0].push({ ...W, subtype: 'webrtc_channel', reply_to: join.id, channel: '@group/team', hash: 'SECRET-HASH-gh', data: { group: { group: 'group/team', members: ['aaa', 'bbb'], reset: true } } });
    await settle();
    sockets[0].push({ ...W, subtype: 'webrtc_call', source: 'aaa', target: 'bbb', state: 'group/team', channel: '@group/team', group: 'group/team', hash: 'SECRET-HASH-pair', data: { accept: true, state: 'group/team' } });
    await settle();
    sockets[0].push({ ...W, subtype: 'webrtc_signal', source: 'aaa', target: 'bbb', state: 'group/team', channel: '@group/team', group: 'group/team', hash: 'SECRET-HASH-pair', pcid: 'p1', data: { type: 'answer', sdp: 'v=0\r\na=ice-ufrag:abcd\r\na=ice-pwd:SECRET-ICE-PWD\r\n' } });
    await settle();
    const trace = hook.trace();
    expect(trace.map((e) => `${e.k} ${e.what}`)).toEqual(expect.arrayContaining(['out webrtc_group', 'in webrtc_channel', 'in webrtc_call', 'pc create', 'out webrtc_signal', 'in webrtc_signal']));
    expect(JSON.stringify(trace)).toContain('answer ufrag=abcd');
    const seen = JSON.stringify([hook.info(), hook.state(), await hook.stats(), Object.keys(hook), trace]);
    expect(seen).not.toMatch(/HASH/);
    expect(seen).not.toMatch(/SECRET/);
    expect(seen).toContain('turn:h:1');
    engine.close();
    expect((window as unknown as { __palaverDebug?: unknown }).__palaverDebug).toBeUndefined();
  });
});
