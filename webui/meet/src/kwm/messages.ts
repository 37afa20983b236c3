// kwm RTM wire messages (spec kwm-protocol.md §3, §4): types, builders and the checks kwmjs makes
// on what it receives. Pure: no sockets, no timers.

export const WEBRTC_V = 20180703;
export const CHATS_V = 20201201;

export interface Profile {
  name?: string;
}

/** The `webrtc` envelope (§3.4); one shape for both directions. */
export interface WebrtcMessage {
  type: 'webrtc';
  subtype: 'webrtc_call' | 'webrtc_channel' | 'webrtc_hangup' | 'webrtc_signal' | 'webrtc_group';
  id?: number;
  reply_to?: number;
  target: string;
  source: string;
  profile?: Profile;
  initiator?: boolean;
  state: string;
  channel: string;
  group?: string;
  hash: string;
  transaction?: string;
  pcid?: string;
  v: number;
  data?: unknown;
}

export interface ChatData {
  kind: '' | 'system' | 'delivery_queued' | string;
  sender: string;
  target: string;
  ts?: number;
  id: string;
  text: string;
  richText?: string;
  extra?: { id?: string };
}

export interface ChatsMessage {
  type: 'chats';
  subtype: 'chats_message' | 'chats_system';
  id?: number;
  reply_to?: number;
  channel: string;
  transaction?: string;
  v: number;
  profile?: Profile;
  data: ChatData;
}

export interface SelfInfo {
  id: string;
  name: string;
  auth?: string;
}

export interface HelloMessage {
  type: 'hello';
  self: SelfInfo;
  server_status?: unknown;
}

export interface ErrorMessage {
  type: 'error';
  reply_to?: number;
  error: { code: string; msg: string };
}

export interface PongMessage {
  type: 'pong';
  id?: number;
  reply_to?: number;
  ts?: number;
}

export type ServerMessage =
  | WebrtcMessage
  | ChatsMessage
  | HelloMessage
  | ErrorMessage
  | PongMessage
  | { type: 'goodbye' }
  | { type: 'server'; server_status?: unknown };

/** Accept/reject/hangup payload (`data` of webrtc_call answers and webrtc_hangup). */
export interface AcceptData {
  accept: boolean;
  state: string;
  reason?: 'reject' | 'reject_busy' | 'hangup' | '';
}

export interface GroupData {
  group?: { group: string; members: string[]; reset: boolean };
  replaced?: boolean;
  pipeline?: unknown;
}

function isObj(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/**
 * Parses one text frame. Returns null for anything kwmjs would ignore: not JSON, no type, webrtc
 * messages without `v` or older than 20180703, chats older than 20201201, hello without self.id.
 */
export function parseServerMessage(raw: string): ServerMessage | null {
  let m: unknown;
  try {
    m = JSON.parse(raw);
  } catch {
    return null;
  }
  if (!isObj(m) || typeof m.type !== 'string') return null;
  switch (m.type) {
    case 'webrtc':
      if (typeof m.v !== 'number' || m.v < WEBRTC_V || typeof m.subtype !== 'string') return null;
      return {
        ...m,
        target: typeof m.target === 'string' ? m.target : '',
        source: typeof m.source === 'string' ? m.source : '',
        state: typeof m.state === 'string' ? m.state : '',
        channel: typeof m.channel === 'string' ? m.channel : '',
        hash: typeof m.hash === 'string' ? m.hash : '',
      } as WebrtcMessage;
    case 'chats':
      if (typeof m.v !== 'number' || m.v < CHATS_V || !isObj(m.data)) return null;
      return m as unknown as ChatsMessage;
    case 'hello':
      if (!isObj(m.self) || typeof m.self.id !== 'string' || !m.self.id) return null;
      return { type: 'hello', self: { id: m.self.id, name: String(m.self.name ?? ''), auth: String(m.self.auth ?? '') }, server_status: m.server_status };
    case 'error':
      if (!isObj(m.error)) return null;
      return { type: 'error', reply_to: typeof m.reply_to === 'number' ? m.reply_to : undefined, error: { code: String(m.error.code ?? ''), msg: String(m.error.msg ?? '') } };
    case 'pong':
    case 'goodbye':
    case 'server':
      return m as unknown as ServerMessage;
    default:
      return null;
  }
}

/** The request id a server message answers (pong echoes the ping's id). */
export function replyTo(m: ServerMessage): number | undefined {
  if ('reply_to' in m && typeof m.reply_to === 'number' && m.reply_to > 0) return m.reply_to;
  if (m.type === 'pong' && typeof m.id === 'number' && m.id > 0) return m.id;
  return undefined;
}

/** A random per-call state nonce as kwmjs makes it (12 hex characters). */
export function newState(random: () => number = Math.random): string {
  let s = '';
  for (let i = 0; i < 12; i++) s += Math.floor(random() * 16).toString(16);
  return s;
}

type Out = Omit<WebrtcMessage, 'source' | 'v'> & { source?: string; v?: number };

function webrtc(m: Out): WebrtcMessage {
  return { source: '', v: WEBRTC_V, transaction: '', ...m } as WebrtcMessage;
}

/** §4.4 step 1: call request (no data; empty channel and hash). */
export function callRequest(target: string, state: string): WebrtcMessage {
  return webrtc({ type: 'webrtc', subtype: 'webrtc_call', target, initiator: true, state, channel: '', group: '', hash: '' });
}

/** §4.4 step 5: the callee's accept or reject. */
export function callAnswer(target: string, ownState: string, channel: string, hash: string, callerState: string, accept: boolean, reason: AcceptData['reason'] = accept ? undefined : 'reject'): WebrtcMessage {
  const data: AcceptData = { accept, state: callerState };
  if (reason) data.reason = reason;
  return webrtc({ type: 'webrtc', subtype: 'webrtc_call', target, initiator: false, state: ownState, channel, group: '', hash, data });
}

/** §4.6.1: join (or refresh) a group. */
export function groupJoin(group: string, state: string): WebrtcMessage {
  return webrtc({ type: 'webrtc', subtype: 'webrtc_group', target: group, group, initiator: false, state, channel: '', hash: '' });
}

/** §4.6.2: the pairwise group accept to a member. */
export function groupAccept(target: string, group: string, channel: string, hash: string): WebrtcMessage {
  return webrtc({ type: 'webrtc', subtype: 'webrtc_call', target, initiator: false, state: group, channel, group, hash, data: { accept: true, state: group } });
}

/** §4.4 step 9 / §4.6.3: hangup; `ref` is the peer's state (group: the group name, or "" to the group). */
export function hangup(target: string, ownState: string, channel: string, hash: string, ref: string, group = ''): WebrtcMessage {
  return webrtc({ type: 'webrtc', subtype: 'webrtc_hangup', target, initiator: false, state: ownState, channel, group, hash, data: { accept: false, reason: 'hangup', state: ref } });
}

/** §4.4 step 8: a WebRTC signal (simple-peer style data, opaque to the server). */
export function signal(target: string, ownState: string, channel: string, hash: string, pcid: string, data: unknown, group = ''): WebrtcMessage {
  const m = webrtc({ type: 'webrtc', subtype: 'webrtc_signal', target, state: ownState, channel, group, hash, pcid, data });
  delete m.transaction;
  delete m.initiator;
  return m;
}

/** §4.8: a chat message to a channel. */
export function chatMessage(channel: string, clientId: string, text: string): ChatsMessage {
  return { type: 'chats', subtype: 'chats_message', channel, transaction: '', v: CHATS_V, data: { kind: '', sender: '', target: '', id: clientId, text } };
}

/** kwmjs's initiator rule (§4.4 step 7): the greater user id (JS string compare) sends the offer. */
export function isOfferer(ownId: string, peerId: string): boolean {
  return ownId > peerId;
}

/** The reconnect delay of kwmjs (§3.2): 1 s × trunc(1.5^attempt), at most 30 s, plus 0–500 ms. */
export function reconnectDelay(attempt: number, random: () => number = Math.random): number {
  return Math.min(30000, 1000 * Math.trunc(1.5 ** attempt)) + Math.floor(random() * 500);
}

/** Peer-set change for a group member list (§4.6.2): who to add, who to drop. */
export function memberDiff(selfId: string, known: Iterable<string>, members: readonly string[], reset: boolean): { add: string[]; drop: string[]; selfMissing: boolean } {
  const knownSet = new Set(known);
  const list = new Set(members.filter((m) => m !== selfId));
  const add = [...list].filter((m) => reset || !knownSet.has(m));
  const drop = [...knownSet].filter((m) => !list.has(m));
  return { add, drop, selfMissing: members.length > 0 && !members.includes(selfId) };
}
