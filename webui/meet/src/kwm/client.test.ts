import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { KwmClient, websocketUrl, type SocketLike } from './client';
import { callAnswer, callRequest, groupAccept, hangup, isOfferer, memberDiff, newState, parseServerMessage, reconnectDelay, signal, chatMessage } from './messages';

class FakeSocket implements SocketLike {
  onopen: ((ev: unknown) => void) | null = null;
  onmessage: ((ev: { data: unknown }) => void) | null = null;
  onclose: ((ev: unknown) => void) | null = null;
  onerror: ((ev: unknown) => void) | null = null;
  sent: Record<string, unknown>[] = [];
  closed = false;
  constructor(readonly url: string) {}
  send(d: string) {
    this.sent.push(JSON.parse(d));
  }
  close() {
    this.closed = true;
  }
  serverSends(m: object) {
    this.onmessage?.({ data: JSON.stringify(m) });
  }
}

function setup(statuses: number[] = [200]) {
  const sockets: FakeSocket[] = [];
  const requests: { url: string; init: RequestInit }[] = [];
  let n = 0;
  const fetchFn = vi.fn(async (url: string, init: RequestInit) => {
    requests.push({ url, init });
    const status = statuses[Math.min(n++, statuses.length - 1)];
    if (status === 0) throw new TypeError('network');
    return new Response(JSON.stringify({ ok: true, url: `/api/kwm/v2/rtm/websocket/k${n}`, self: { id: 'u1', name: 'U' }, turn: { username: 'x:u1', password: 'p', ttl: 3600, uris: ['turn:h:3478'] } }), { status });
  });
  const client = new KwmClient({
    baseUrl: 'https://meet.example',
    apiPrefix: '/api/kwm/v2',
    useIdentifiedUser: false,
    credentials: () => ({ tokenType: 'Bearer', accessToken: 'AT', idToken: 'IDT' }),
    deps: {
      fetch: fetchFn as unknown as typeof fetch,
      openSocket: (url) => {
        const s = new FakeSocket(url);
        sockets.push(s);
        return s;
      },
      random: () => 0,
    },
  });
  const states: string[] = [];
  client.on('state', (s) => states.push(s));
  return { client, sockets, requests, states };
}

async function flush() {
  for (let i = 0; i < 5; i++) await Promise.resolve();
  await vi.advanceTimersByTimeAsync(0);
}

beforeEach(() => vi.useFakeTimers());
afterEach(() => vi.useRealTimers());

describe('kwm client', () => {
  it('connects with Bearer and id_token, opens the socket and is connected after hello', async () => {
    const { client, sockets, requests, states } = setup();
    const hellos: boolean[] = [];
    client.on('hello', (_s, re) => hellos.push(re));
    client.start();
    await flush();
    expect(requests[0].url).toBe('https://meet.example/api/kwm/v2/rtm/connect');
    expect((requests[0].init.headers as Record<string, string>).Authorization).toBe('Bearer AT');
    expect(String(requests[0].init.body)).toBe('id_token=IDT');
    expect(sockets[0].url).toBe('wss://meet.example/api/kwm/v2/rtm/websocket/k1');
    expect(client.turn?.uris).toEqual(['turn:h:3478']);
    expect(client.state).toBe('connecting');
    sockets[0].serverSends({ type: 'hello', self: { id: 'u1', name: 'U', auth: '' }, server_status: {} });
    expect(client.state).toBe('connected');
    expect(client.self?.id).toBe('u1');
    expect(hellos).toEqual([false]);
    expect(states).toEqual(['connecting', 'connected']);
    client.stop();
  });

  it('pings every 5 s and reconnects when no pong comes within 4.5 s', async () => {
    const { client, sockets } = setup();
    const hellos: boolean[] = [];
    client.on('hello', (_s, re) => hellos.push(re));
    client.start();
    await flush();
    sockets[0].serverSends({ type: 'hello', self: { id: 'u1' } });
    await vi.advanceTimersByTimeAsync(5000);
    const ping = sockets[0].sent.find((m) => m.type === 'ping')!;
    expect(ping.id).toBeGreaterThan(0);
    sockets[0].serverSends({ ...ping, type: 'pong' });
    await vi.advanceTimersByTimeAsync(5000);
    const pings = sockets[0].sent.filter((m) => m.type === 'ping');
    expect(pings.length).toBe(2);
    // No pong for the second ping: after 4.5 s the socket is dropped and a new connect follows.
    await vi.advanceTimersByTimeAsync(4600);
    expect(sockets[0].closed).toBe(true);
    expect(client.state).toBe('reconnecting');
    await flush();
    expect(sockets.length).toBe(2);
    sockets[1].serverSends({ type: 'hello', self: { id: 'u1' } });
    expect(client.state).toBe('connected');
    expect(hellos).toEqual([false, true]);
    client.stop();
  });

  it('backs off when connect fails and stops for good on 403', async () => {
    const { client, requests } = setup([0, 500, 403, 200]);
    client.start();
    await flush();
    expect(requests.length).toBe(1);
    await vi.advanceTimersByTimeAsync(999);
    expect(requests.length).toBe(1);
    await vi.advanceTimersByTimeAsync(1);
    await flush();
    expect(requests.length).toBe(2); // after 1 s
    await vi.advanceTimersByTimeAsync(1000);
    await flush();
    expect(requests.length).toBe(3); // after 1 s × trunc(1.5)
    expect(client.state).toBe('denied');
    await vi.advanceTimersByTimeAsync(60000);
    expect(requests.length).toBe(3);
    // A renewed token (the 403 was an expired one): one more attempt, which connects.
    client.credentialsChanged();
    await flush();
    expect(requests.length).toBe(4);
    expect(client.state).toBe('connecting');
    client.stop();
  });

  it('reconnects when the socket closes and matches replies by reply_to', async () => {
    const { client, sockets } = setup();
    const got: unknown[] = [];
    client.on('message', (m) => got.push(m));
    client.start();
    await flush();
    sockets[0].serverSends({ type: 'hello', self: { id: 'u1' } });
    const p = client.request(callRequest('u2', 'abc'));
    const id = sockets[0].sent[0].id as number;
    sockets[0].serverSends({ type: 'webrtc', subtype: 'webrtc_channel', reply_to: id, channel: '*c', hash: 'h', v: 20180703 });
    const reply = await p;
    expect(reply).toMatchObject({ channel: '*c', hash: 'h' });
    const p2 = client.request(callRequest('u3', 'abd'));
    const id2 = sockets[0].sent[1].id as number;
    sockets[0].serverSends({ type: 'error', reply_to: id2, error: { code: 'bad_message', msg: 'target same as source' } });
    await expect(p2).rejects.toMatchObject({ code: 'bad_message' });
    // Messages with reply_to never reach the dispatcher; others do.
    expect(got).toEqual([]);
    sockets[0].serverSends({ type: 'webrtc', subtype: 'webrtc_call', source: 'u2', target: 'u1', state: 's', channel: '*c', hash: 'h', initiator: true, v: 20180703 });
    sockets[0].serverSends({ type: 'webrtc', subtype: 'webrtc_call', source: 'u2', v: 1 }); // too old: ignored
    expect(got.length).toBe(1);
    sockets[0].onclose?.({});
    expect(client.state).toBe('reconnecting');
    await flush();
    expect(sockets.length).toBe(2);
    client.stop();
    expect(client.state).toBe('offline');
  });

  it('sends goodbye → slow reconnect', async () => {
    const { client, sockets, requests } = setup();
    client.start();
    await flush();
    sockets[0].serverSends({ type: 'hello', self: { id: 'u1' } });
    sockets[0].serverSends({ type: 'goodbye' });
    expect(client.state).toBe('reconnecting');
    await vi.advanceTimersByTimeAsync(999);
    expect(requests.length).toBe(1);
    await vi.advanceTimersByTimeAsync(10);
    await flush();
    expect(requests.length).toBe(2);
    client.stop();
  });
});

describe('kwm messages', () => {
  it('builds the wire shapes of the spec', () => {
    expect(callRequest('B', 'sA')).toEqual({ type: 'webrtc', subtype: 'webrtc_call', target: 'B', source: '', initiator: true, state: 'sA', channel: '', group: '', hash: '', transaction: '', v: 20180703 });
    expect(callAnswer('A', 'sB', '*X', 'h', 'sA', true).data).toEqual({ accept: true, state: 'sA' });
    expect(callAnswer('A', 'sB', '*X', 'h', 'sA', false).data).toEqual({ accept: false, state: 'sA', reason: 'reject' });
    expect(groupAccept('P', 'group/team', '@group/team', 'gh')).toMatchObject({ subtype: 'webrtc_call', initiator: false, state: 'group/team', group: 'group/team', data: { accept: true, state: 'group/team' } });
    expect(hangup('B', 'sA', '*X', 'h', 'sB').data).toEqual({ accept: false, reason: 'hangup', state: 'sB' });
    const s = signal('B', 'sA', '*X', 'h', 'pc1', { renegotiate: true, noop: true });
    expect(s).not.toHaveProperty('initiator');
    expect(s).not.toHaveProperty('transaction');
    expect(s).toMatchObject({ subtype: 'webrtc_signal', pcid: 'pc1', group: '' });
    expect(chatMessage('@group/x', 'c1', 'hi')).toEqual({ type: 'chats', subtype: 'chats_message', channel: '@group/x', transaction: '', v: 20201201, data: { kind: '', sender: '', target: '', id: 'c1', text: 'hi' } });
  });

  it('parses and filters what kwmjs would ignore', () => {
    expect(parseServerMessage('nope')).toBeNull();
    expect(parseServerMessage('{"type":"hello","self":{}}')).toBeNull();
    expect(parseServerMessage('{"type":"chats","v":20180703,"data":{}}')).toBeNull();
    expect(parseServerMessage('{"type":"webrtc","subtype":"webrtc_call","v":20180703}')).toMatchObject({ source: '', target: '', hash: '' });
  });

  it('initiator rule, state nonce, back-off and member diffs', () => {
    expect(isOfferer('b', 'a')).toBe(true);
    expect(isOfferer('a', 'b')).toBe(false);
    expect(newState()).toMatch(/^[0-9a-f]{12}$/);
    expect([0, 1, 2, 3, 10].map((a) => reconnectDelay(a, () => 0))).toEqual([1000, 1000, 2000, 3000, 30000]);
    expect(reconnectDelay(0, () => 0.999)).toBe(1499);
    expect(memberDiff('me', ['a', 'b'], ['me', 'b', 'c'], false)).toEqual({ add: ['c'], drop: ['a'], selfMissing: false });
    expect(memberDiff('me', ['b'], ['me', 'b'], true)).toEqual({ add: ['b'], drop: [], selfMissing: false });
    expect(memberDiff('me', [], ['x'], false).selfMissing).toBe(true);
    expect(websocketUrl('http://h:1/', '/ws/k')).toBe('ws://h:1/ws/k');
    expect(websocketUrl('https://h', 'https://o/ws')).toBe('wss://o/ws');
  });
});

describe('KwmClient stop', () => {
  it('a TURN refresh under way when it stops starts no timer and reports nothing', async () => {
    let answer: (r: Response) => void = () => undefined;
    let n = 0;
    const fetchFn = vi.fn(async () => {
      if (n++ === 0) return new Response(JSON.stringify({ url: '/ws/k', turn: { username: 'u', password: 'p', ttl: 100, uris: ['turn:h:1'] } }), { status: 200 });
      return new Promise<Response>((r) => (answer = r));
    });
    const client = new KwmClient({
      baseUrl: 'https://meet.example',
      apiPrefix: '/api/kwm/v2',
      useIdentifiedUser: false,
      credentials: () => ({ tokenType: 'Bearer', accessToken: 'AT', idToken: 'IDT' }),
      deps: { fetch: fetchFn as unknown as typeof fetch, openSocket: (url) => new FakeSocket(url), random: () => 0 },
      openTimeout: 1e9,
    });
    const turns: unknown[] = [];
    client.on('turn', (t) => turns.push(t));
    client.start();
    await flush();
    expect(turns.length).toBe(1);
    await vi.advanceTimersByTimeAsync(90_000); // 90 % of the ttl: rtm/turn is asked
    expect(fetchFn).toHaveBeenCalledTimes(2);
    client.stop();
    answer(new Response(JSON.stringify({ turn: { username: 'u2', password: 'p2', ttl: 100, uris: ['turn:h:2'] } }), { status: 200 }));
    await flush();
    expect(turns.length).toBe(1);
    expect(vi.getTimerCount()).toBe(0);
  });
});
