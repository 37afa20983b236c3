// The kwm signaling client (spec kwm-protocol.md §2.2, §3): rtm/connect with the access token and
// the ID token, the RTM WebSocket, hello, keepalive (ping every 5 s, pong within 4.5 s), request /
// reply matching, reconnect with kwmjs's back-off, and 403 → "denied" (no more attempts).
// Sockets, fetch and timers are injected, so the logic is unit-tested without a network.
import { parseServerMessage, reconnectDelay, replyTo, type SelfInfo, type ServerMessage } from './messages';

export type SignalingState = 'connecting' | 'connected' | 'reconnecting' | 'offline' | 'denied';

export interface KwmCredentials {
  tokenType: string;
  accessToken: string;
  idToken: string;
}

export interface TurnInfo {
  username: string;
  password: string;
  ttl: number;
  uris: string[];
}

/** The part of a WebSocket the client uses (a fake in unit tests). */
export interface SocketLike {
  onopen: ((ev: unknown) => void) | null;
  onmessage: ((ev: { data: unknown }) => void) | null;
  onclose: ((ev: unknown) => void) | null;
  onerror: ((ev: unknown) => void) | null;
  send(data: string): void;
  close(code?: number, reason?: string): void;
}

export interface KwmDeps {
  fetch: typeof fetch;
  openSocket: (url: string) => SocketLike;
  setTimeout: (fn: () => void, ms: number) => unknown;
  clearTimeout: (t: unknown) => void;
  now: () => number;
  random: () => number;
}

export interface KwmOptions {
  /** config.json kwm.url (the origin when empty). */
  baseUrl: string;
  apiPrefix: string;
  /** config.json useIdentifiedUser → `auth=1`. */
  useIdentifiedUser: boolean;
  credentials: () => KwmCredentials | null;
  deps?: Partial<KwmDeps>;
  pingInterval?: number;
  pongTimeout?: number;
  openTimeout?: number;
  replyTimeout?: number;
}

export interface KwmEvents {
  state: (s: SignalingState) => void;
  /** After every hello; `reconnect` is true for all but the first. */
  hello: (self: SelfInfo, reconnect: boolean) => void;
  message: (m: ServerMessage) => void;
  turn: (t: TurnInfo) => void;
}

export class RequestError extends Error {
  constructor(
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

interface Pending {
  resolve: (m: ServerMessage) => void;
  reject: (e: Error) => void;
  timer: unknown;
}

function defaultDeps(): KwmDeps {
  return {
    fetch: (...a) => fetch(...a),
    openSocket: (url) => new WebSocket(url) as unknown as SocketLike,
    setTimeout: (fn, ms) => setTimeout(fn, ms),
    clearTimeout: (t) => clearTimeout(t as ReturnType<typeof setTimeout>),
    now: () => Date.now(),
    random: Math.random,
  };
}

/** Makes the absolute WebSocket URL from the connect answer's `url` (a path or a full URL). */
export function websocketUrl(base: string, url: string): string {
  const abs = url.includes('://') ? url : base.replace(/\/$/, '') + url;
  return abs.replace(/^http(s?):\/\//, 'ws$1://');
}

export class KwmClient {
  private deps: KwmDeps;
  private socket: SocketLike | null = null;
  private nextId = 1;
  private pending = new Map<number, Pending>();
  private listeners: { [K in keyof KwmEvents]: Set<KwmEvents[K]> } = { state: new Set(), hello: new Set(), message: new Set(), turn: new Set() };
  private timers = new Set<unknown>();
  private pingTimer: unknown = null;
  private reconnectTimer: unknown = null;
  private turnTimer: unknown = null;
  private attempt = 0;
  private everConnected = false;
  private stopped = true;
  /** Sees every message in and out (the call engine's debug trace); must not throw. */
  tap: ((dir: 'in' | 'out' | 'unsent', m: Record<string, unknown>) => void) | null = null;
  private generation = 0;
  state: SignalingState = 'offline';
  self: SelfInfo | null = null;
  turn: TurnInfo | null = null;

  constructor(private readonly opts: KwmOptions) {
    this.deps = { ...defaultDeps(), ...opts.deps };
  }

  on<K extends keyof KwmEvents>(ev: K, fn: KwmEvents[K]): () => void {
    this.listeners[ev].add(fn);
    return () => void this.listeners[ev].delete(fn);
  }

  private emit<K extends keyof KwmEvents>(ev: K, ...args: Parameters<KwmEvents[K]>): void {
    for (const fn of [...this.listeners[ev]]) (fn as (...a: unknown[]) => void)(...args);
  }

  private setState(s: SignalingState): void {
    if (this.state === s) return;
    this.state = s;
    this.emit('state', s);
  }

  private later(fn: () => void, ms: number): unknown {
    const t = this.deps.setTimeout(() => {
      this.timers.delete(t);
      fn();
    }, ms);
    this.timers.add(t);
    return t;
  }

  private cancel(t: unknown): void {
    if (t == null) return;
    this.deps.clearTimeout(t);
    this.timers.delete(t);
  }

  start(): void {
    if (!this.stopped) return;
    this.stopped = false;
    this.setState('connecting');
    void this.connect();
  }

  /** Closes the socket and stops reconnecting. */
  stop(): void {
    this.stopped = true;
    this.generation++;
    for (const t of this.timers) this.deps.clearTimeout(t);
    this.timers.clear();
    this.pingTimer = this.reconnectTimer = this.turnTimer = null;
    this.failPending(new RequestError('closed', 'signaling stopped'));
    const s = this.socket;
    this.socket = null;
    if (s) {
      s.onclose = s.onmessage = s.onerror = s.onopen = null;
      try {
        s.close(1000);
      } catch {
        /* already closed */
      }
    }
    this.setState('offline');
  }

  /**
   * New credentials (a renewed access token): after a 403 — which an expired token also gets, e.g.
   * when a laptop wakes and reconnects before the token is renewed — try again once with them.
   */
  credentialsChanged(): void {
    if (this.state !== 'denied') return;
    this.attempt = 0;
    this.stopped = true;
    this.start();
  }

  /** Drops the current connection and reconnects at once (e.g. the browser came back online). */
  reconnectNow(): void {
    if (this.stopped || this.state === 'denied') return;
    this.attempt = 0;
    this.dropSocket();
    this.cancel(this.reconnectTimer);
    this.reconnectTimer = null;
    void this.connect();
  }

  private form(): URLSearchParams {
    const c = this.opts.credentials();
    const body = new URLSearchParams();
    if (c?.idToken) body.set('id_token', c.idToken);
    if (this.opts.useIdentifiedUser) body.set('auth', '1');
    return body;
  }

  private async post(path: string): Promise<Response> {
    const c = this.opts.credentials();
    if (!c) throw new RequestError('no_credentials', 'not signed in');
    return this.deps.fetch(this.opts.baseUrl.replace(/\/$/, '') + this.opts.apiPrefix + path, {
      method: 'POST',
      headers: { Authorization: `${c.tokenType || 'Bearer'} ${c.accessToken}`, 'Content-Type': 'application/x-www-form-urlencoded; charset=UTF-8' },
      body: this.form().toString(),
      credentials: 'omit',
      cache: 'no-store',
    });
  }

  private async connect(): Promise<void> {
    const gen = ++this.generation;
    let answer: { url?: string; self?: SelfInfo; turn?: TurnInfo };
    try {
      const res = await this.post('/rtm/connect');
      if (gen !== this.generation) return;
      if (res.status === 403) {
        this.stopped = true;
        this.setState('denied');
        return;
      }
      if (res.status !== 200) throw new Error(`http_error_${res.status}`);
      answer = (await res.json()) as typeof answer;
      if (gen !== this.generation) return;
      if (typeof answer.url !== 'string') throw new Error('connect answer without url');
    } catch {
      if (gen === this.generation) this.scheduleReconnect();
      return;
    }
    if (answer.turn?.uris?.length) this.setTurn(answer.turn);
    let socket: SocketLike;
    try {
      socket = this.deps.openSocket(websocketUrl(this.opts.baseUrl, answer.url));
    } catch {
      this.scheduleReconnect();
      return;
    }
    this.socket = socket;
    const openTimer = this.later(() => {
      if (this.socket === socket) this.onSocketGone(socket);
    }, this.opts.openTimeout ?? 5000);
    socket.onopen = () => this.cancel(openTimer);
    socket.onerror = () => {
      /* onclose follows */
    };
    socket.onclose = () => {
      this.cancel(openTimer);
      this.onSocketGone(socket);
    };
    socket.onmessage = (ev) => {
      if (this.socket !== socket || typeof ev.data !== 'string') return;
      this.onFrame(ev.data, openTimer);
    };
  }

  private setTurn(t: TurnInfo): void {
    this.turn = t;
    this.emit('turn', t);
    this.cancel(this.turnTimer);
    const ms = Math.max(60, t.ttl || 3600) * 900;
    this.turnTimer = this.later(() => void this.refreshTurn(), ms);
  }

  /** rtm/turn (§2.5): fresh TURN credentials at 90 % of their lifetime; retried after 5 s. */
  private async refreshTurn(): Promise<void> {
    if (this.stopped) return;
    // stop() while the request is under way: nothing more (no timer, no event after sign-out).
    try {
      const res = await this.post('/rtm/turn');
      if (res.status !== 200) throw new Error(`http_error_${res.status}`);
      const body = (await res.json()) as { turn?: TurnInfo };
      if (this.stopped) return;
      if (body.turn?.uris?.length) this.setTurn(body.turn);
    } catch {
      if (!this.stopped) this.turnTimer = this.later(() => void this.refreshTurn(), 5000);
    }
  }

  private onFrame(raw: string, openTimer: unknown): void {
    const m = parseServerMessage(raw);
    if (!m) return;
    this.tap?.('in', m as unknown as Record<string, unknown>);
    if (m.type === 'hello') {
      this.cancel(openTimer);
      this.self = m.self;
      const reconnect = this.everConnected;
      this.everConnected = true;
      this.attempt = 0;
      this.setState('connected');
      this.startPing();
      this.emit('hello', m.self, reconnect);
      return;
    }
    if (m.type === 'goodbye') {
      // Server shutting down: close, and reconnect slowly (attempt 1), as kwmjs.
      this.attempt = 1;
      this.dropSocket();
      this.scheduleReconnect();
      return;
    }
    const r = replyTo(m);
    if (r !== undefined) {
      // A message with reply_to is never given to the dispatcher (kwmjs).
      const p = this.pending.get(r);
      if (p) {
        this.pending.delete(r);
        this.cancel(p.timer);
        if (m.type === 'error') p.reject(new RequestError(m.error.code, m.error.msg));
        else p.resolve(m);
      }
      return;
    }
    this.emit('message', m);
  }

  private startPing(): void {
    this.cancel(this.pingTimer);
    this.pingTimer = this.later(() => {
      if (this.state !== 'connected') return;
      this.request({ type: 'ping', ts: this.deps.now() }, this.opts.pongTimeout ?? 4500).then(
        () => this.startPing(),
        () => {
          // No pong in time: the connection is dead (e.g. Wi-Fi → mobile). Reconnect.
          if (this.state === 'connected') {
            this.dropSocket();
            this.scheduleReconnect(true);
          }
        },
      );
    }, this.opts.pingInterval ?? 5000);
  }

  private dropSocket(): void {
    const s = this.socket;
    this.socket = null;
    this.cancel(this.pingTimer);
    this.pingTimer = null;
    this.failPending(new RequestError('disconnected', 'signaling connection lost'));
    if (s) {
      s.onclose = s.onmessage = s.onerror = s.onopen = null;
      try {
        s.close(1000);
      } catch {
        /* gone */
      }
    }
  }

  private onSocketGone(socket: SocketLike): void {
    if (this.socket !== socket) return;
    const wasConnected = this.state === 'connected';
    this.dropSocket();
    // An old socket closing while connected: reconnect immediately (kwmjs), else back off.
    this.scheduleReconnect(wasConnected);
  }

  private scheduleReconnect(immediate = false): void {
    if (this.stopped) return;
    this.generation++;
    this.setState(this.everConnected ? 'reconnecting' : 'connecting');
    this.cancel(this.reconnectTimer);
    const delay = immediate ? 0 : reconnectDelay(this.attempt, this.deps.random);
    this.attempt++;
    this.reconnectTimer = this.later(() => {
      this.reconnectTimer = null;
      void this.connect();
    }, delay);
  }

  private failPending(e: Error): void {
    for (const [, p] of this.pending) {
      this.cancel(p.timer);
      p.reject(e);
    }
    this.pending.clear();
  }

  /** Sends a message with the next id; returns the id, or 0 when not connected. */
  send(msg: object): number {
    if (!this.socket || this.state !== 'connected') {
      this.tap?.('unsent', msg as Record<string, unknown>);
      return 0;
    }
    const id = this.nextId++;
    try {
      const full = { ...msg, id };
      this.socket.send(JSON.stringify(full));
      this.tap?.('out', full);
    } catch {
      return 0;
    }
    return id;
  }

  /** Sends and waits for the message answering it (`reply_to`); an `error` answer rejects. */
  request(msg: object, timeout = this.opts.replyTimeout ?? 5000): Promise<ServerMessage> {
    return new Promise((resolve, reject) => {
      const id = this.send(msg);
      if (!id) {
        reject(new RequestError('disconnected', 'not connected'));
        return;
      }
      const timer = this.later(() => {
        this.pending.delete(id);
        reject(new RequestError('timeout', 'no reply'));
      }, timeout);
      this.pending.set(id, { resolve, reject, timer });
    });
  }
}
