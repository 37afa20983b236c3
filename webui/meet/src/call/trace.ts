// A small ring buffer of signaling and peer-connection events, read by the end-to-end tests
// through `window.__palaverDebug.trace()` when a mesh pair stays without media. It records the
// shape of each kwm `webrtc` message in and out (subtype, source/target, channel, state, pcid,
// what the signal data is: offer / answer / candidate type / renegotiate), the RTCPeerConnection
// state changes per peer, and why a message was dropped. Never SDP bodies, never tokens or TURN
// credentials; of the server's hash (an authorisation token for the channel) only whether it is
// the same as before (a 4-character prefix, not enough to forge anything).

export interface TraceEntry {
  /** Milliseconds since the page started (performance.now()). */
  t: number;
  /** in / out: kwm messages (unsent: the socket was down); pc: peer-connection events; drop: a message ignored, and why. */
  k: 'in' | 'out' | 'unsent' | 'pc' | 'drop' | 'note';
  peer?: string;
  what: string;
  [field: string]: unknown;
}

const MAX = 4000;

export class Trace {
  entries: TraceEntry[] = [];

  add(k: TraceEntry['k'], what: string, fields: Record<string, unknown> = {}): void {
    const t = typeof performance !== 'undefined' ? Math.round(performance.now()) : Date.now();
    this.entries.push({ t, k, what, ...fields });
    if (this.entries.length > MAX) this.entries.splice(0, this.entries.length - MAX);
  }

  /** A kwm message, reduced to what helps to follow the mesh set-up. */
  message(dir: 'in' | 'out' | 'unsent', m: Record<string, unknown>): void {
    if (m.type === 'ping' || m.type === 'pong') return;
    if (m.type === 'error') {
      const e = m.error as { code?: string } | undefined;
      this.add(dir, 'error', { code: e?.code, reply_to: m.reply_to });
      return;
    }
    if (m.type === 'chats') {
      this.add(dir, `chats:${String(m.subtype)}`, { channel: m.channel });
      return;
    }
    if (m.type !== 'webrtc') {
      this.add(dir, String(m.type));
      return;
    }
    const f: Record<string, unknown> = {
      peer: dir === 'in' ? m.source : m.target,
      channel: m.channel,
      state: m.state,
    };
    if (m.group) f.group = m.group;
    if (m.pcid) f.pcid = m.pcid;
    if (typeof m.hash === 'string' && m.hash) f.hash = m.hash.slice(0, 4);
    if (m.id) f.id = m.id;
    if (m.reply_to) f.reply_to = m.reply_to;
    if (m.initiator) f.initiator = true;
    f.data = summarize(m.subtype, m.data);
    this.add(dir, String(m.subtype), f);
  }
}

function summarize(subtype: unknown, data: unknown): unknown {
  if (typeof data !== 'object' || data === null) return undefined;
  const d = data as Record<string, unknown>;
  if (subtype === 'webrtc_signal') {
    if (d.renegotiate) return `renegotiate${d.noop ? ' noop' : ''}${d.iceRestart ? ' iceRestart' : ''}`;
    if (d.type === 'offer' || d.type === 'answer') {
      const sdp = typeof d.sdp === 'string' ? d.sdp : '';
      const ufrag = /a=ice-ufrag:(\S+)/.exec(sdp)?.[1] ?? '';
      const version = /^o=\S+ \S+ (\d+)/m.exec(sdp)?.[1] ?? '';
      return `${d.type} ufrag=${ufrag} v=${version} m=${(sdp.match(/^m=/gm) ?? []).length} c=${(sdp.match(/^a=candidate:/gm) ?? []).length}`;
    }
    const c = d.candidate as { candidate?: string } | undefined;
    if (c) return `candidate ${/ typ (\w+)/.exec(c.candidate ?? '')?.[1] ?? (c.candidate ? '?' : 'end')}`;
    return Object.keys(d).join(',');
  }
  if (subtype === 'webrtc_channel') {
    const g = (d.group ?? {}) as { members?: unknown; reset?: unknown };
    if (d.replaced) return 'replaced';
    return { members: g.members, reset: g.reset };
  }
  return { accept: d.accept, state: d.state, reason: d.reason };
}
