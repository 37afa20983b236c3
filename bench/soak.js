#!/usr/bin/env node
// soak.js — the churn client of bench/soak.sh (issue 19, "Soak"): about --clients RTM connections
// kept live for --minutes while they join rooms, place 1:1 calls, exchange signals, leave, hang up,
// disconnect and come back, against one palaverd (normally an ASan build) whose VmRSS is sampled
// every --sample-seconds. Normally started by soak.sh, which starts palaverd pinned to one CPU and
// this process pinned to the other, and checks LeakSanitizer's verdict after palaverd exits.
//
// The clients are --clients / 5 cohorts of 5 connections of 5 different users (a user has one place
// in a room; --users users in all, so each user has many connections at once, as many devices).
// Each cohort loops until the end of the run; one cycle is:
//   - a room (half the cycles): 2-5 of the members join `group/soak-<run>-<cohort>` one after the
//     other (webrtc_group; reply with the member list), send each other the group accept
//     (webrtc_call with group) and adopt the pair hashes, exchange --signals webrtc_signals per
//     pair and direction, one sends a chats_message (reply + delivered to all), then they leave one
//     by one as Meet does (webrtc_hangup to the group, then one per remaining peer); the others
//     must see the membership update and the peer's hangup;
//   - or 1:1 calls (the other half): the members pair up; the caller's webrtc_call rings the callee
//     (on every device of that user), the callee accepts (the caller checks state and hash, the
//     callee's other devices get the "cleared" call), both exchange signals (the offerer rule of
//     spec §4.4.7: renegotiate/noop, offer, answer, --signals candidates each way), then one side
//     hangs up and the other must receive it and, as Meet and kwmjs do, sends nothing.
//   - then each member leaves (closes with 1000) with probability --reconnect and comes back after
//     0.2-1 s with a fresh rtm/connect + TLS WebSocket; the cohort pauses --pause seconds.
// Every message sent is checked at its receiver (state, channel, hash, content) within --timeout.
// Errors (all fail the run): failed connects (rtm/connect, upgrade, hello), `error` messages from
// the server, closes the client did not start, waits that time out, protocol mismatches. After an
// error the cohort closes all its connections and starts again with fresh ones.
// Bounded: fixed counts, every wait has a time limit, --max-seconds in all.
//
// Output: `key=value` lines on stdout (the samples as `sample ...` lines), --json FILE.
'use strict';

const fs = require('fs');
const https = require('https');
const path = require('path');
const crypto = require('crypto');
const { performance } = require('perf_hooks');
const { signIn, form } = require(path.join(__dirname, '..', 'tests', 'node', 'lib', 'palaver.js'));
const WebSocket = require(path.join(__dirname, '..', 'tests', 'node', 'node_modules', 'ws'));

const V = 20180703;
const COHORT = 5;

function parseArgs(argv) {
  const a = {
    iss: process.env.PALAVER_ISS, pid: 0, clients: 1000, minutes: 10, warmupMinutes: 2, users: 50,
    passwordSuffix: '-secret', sampleSeconds: 10, signals: 3, reconnect: 0.3, pauseMin: 2, pauseMax: 6,
    timeout: 20, concurrency: 32, pool: 8, json: '', maxSeconds: 0, heapFile: '',
  };
  for (let i = 2; i < argv.length; i++) {
    const k = argv[i];
    const v = () => argv[++i];
    if (k === '--iss') a.iss = v();
    else if (k === '--pid') a.pid = Number(v());
    else if (k === '--clients') a.clients = Number(v());
    else if (k === '--minutes') a.minutes = Number(v());
    else if (k === '--warmup-minutes') a.warmupMinutes = Number(v());
    else if (k === '--users') a.users = Number(v());
    else if (k === '--password-suffix') a.passwordSuffix = v();
    else if (k === '--sample-seconds') a.sampleSeconds = Number(v());
    else if (k === '--signals') a.signals = Number(v());
    else if (k === '--reconnect') a.reconnect = Number(v());
    else if (k === '--pause') [a.pauseMin, a.pauseMax] = v().split('-').map(Number);
    else if (k === '--timeout') a.timeout = Number(v());
    else if (k === '--concurrency') a.concurrency = Number(v());
    else if (k === '--pool') a.pool = Number(v());
    else if (k === '--json') a.json = v();
    else if (k === '--heap-file') a.heapFile = v();
    else if (k === '--max-seconds') a.maxSeconds = Number(v());
    else throw new Error(`unknown option ${k}`);
  }
  if (!(a.clients >= COHORT) || a.users < COHORT) throw new Error(`--clients and --users must be at least ${COHORT}`);
  if (!(a.pauseMax >= a.pauseMin)) throw new Error('--pause MIN-MAX');
  if (!a.maxSeconds) a.maxSeconds = a.minutes * 60 + 600;
  return a;
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const log = (line) => process.stdout.write(line + '\n');
const rnd = (lo, hi) => lo + Math.random() * (hi - lo);
const newState = () => crypto.randomBytes(6).toString('hex');
const shuffle = (xs) => {
  const out = [...xs];
  for (let i = out.length - 1; i > 0; i--) {
    const j = Math.floor(Math.random() * (i + 1));
    [out[i], out[j]] = [out[j], out[i]];
  }
  return out;
};

function serverMem(pid) {
  const status = fs.readFileSync(`/proc/${pid}/status`, 'utf8');
  const kb = (key) => Number((status.match(new RegExp(`^${key}:\\s+(\\d+)`, 'm')) || [0, 0])[1]);
  return { rss_kb: kb('VmRSS'), anon_kb: kb('RssAnon'), threads: kb('Threads') };
}

function serverCpuS(pid) {
  const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
  const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(f[11]) + Number(f[12])) / 100;
}

// --- HTTPS -------------------------------------------------------------------------------------

const lookup = (hostname, opts, cb) => (opts && opts.all ? cb(null, [{ address: '127.0.0.1', family: 4 }])
  : cb(null, '127.0.0.1', 4));

function post(agent, url, body, headers) {
  return new Promise((resolve, reject) => {
    const req = https.request(url, { method: 'POST', agent, lookup, headers: { ...headers, 'Content-Length': Buffer.byteLength(body) } },
      (res) => {
        let data = '';
        res.setEncoding('utf8');
        res.on('data', (c) => { data += c; });
        res.on('end', () => resolve({ status: res.statusCode, body: data }));
      });
    req.setTimeout(30000, () => req.destroy(new Error('rtm/connect timeout')));
    req.on('error', reject);
    req.end(body);
  });
}

function getText(url) {
  return new Promise((resolve, reject) => {
    const req = https.get(url, { lookup, agent: false }, (res) => {
      let data = '';
      res.setEncoding('utf8');
      res.on('data', (c) => { data += c; });
      res.on('end', () => resolve(data));
    });
    req.setTimeout(10000, () => req.destroy(new Error('metrics timeout')));
    req.on('error', reject);
  });
}

async function metrics(iss) {
  try {
    const text = await getText(`${iss}/metrics`);
    const out = {};
    for (const line of text.split('\n')) {
      const m = line.match(/^(palaver_signaling_(?:connections|users|channels|messages_total\{[^}]*\}|drops_total\{[^}]*\}|connects_total\{[^}]*\})) ([0-9.e+-]+)$/);
      if (m) out[m[1]] = Number(m[2]);
    }
    return out;
  } catch (e) {
    return { error: String(e && e.message ? e.message : e) };
  }
}

// --- counters ------------------------------------------------------------------------------------

const stats = {
  errors: {}, errorCount: 0, errorSamples: [],
  connects: 0, disconnects: 0, sent: 0, received: 0, sentBy: {}, rooms: 0, roomJoins: 0, calls: 0, signals: 0,
  chats: 0, cycles: 0, aborted: 0, live: 0,
};

function error(kind, detail) {
  const k = String(kind).replace(/[0-9a-f-]{20,}/g, '…').slice(0, 120);
  stats.errors[k] = (stats.errors[k] || 0) + 1;
  stats.errorCount += 1;
  if (stats.errorSamples.length < 20) stats.errorSamples.push(`${k}${detail ? `: ${String(detail).slice(0, 200)}` : ''}`);
}

class Failure extends Error {}

// --- one RTM connection ---------------------------------------------------------------------------

let sourceIndex = 0;

class Conn {
  constructor(name, user, timeoutMs) {
    this.name = name;
    this.user = user;
    this.timeoutMs = timeoutMs;
    this.ws = null;
    this.selfId = null;
    this.seq = 0;
    this.inbox = [];
    this.waiters = new Set();
    this.open = false;
    this.closing = false;
    this.closedPromise = null;
  }

  async connect(iss, tokens, agent) {
    this.inbox = [];
    this.closing = false;
    let res;
    try {
      res = await post(agent, `${iss}/api/kwm/v2/rtm/connect`, form({ id_token: tokens.id_token }), {
        'Content-Type': 'application/x-www-form-urlencoded; charset=UTF-8', Authorization: `Bearer ${tokens.access_token}`,
      });
    } catch (e) {
      throw new Failure(`connect: ${e.message}`);
    }
    if (res.status !== 200) throw new Failure(`connect: rtm/connect ${res.status} ${res.body.trim().slice(0, 80)}`);
    const { url } = JSON.parse(res.body);
    const localAddress = `127.0.0.${1 + (sourceIndex++ % 8)}`;
    const ws = new WebSocket(`${iss.replace(/^https/, 'wss')}${url}`, { perMessageDeflate: false, lookup, handshakeTimeout: this.timeoutMs, localAddress });
    this.ws = ws;
    let closed;
    this.closedPromise = new Promise((r) => { closed = r; });
    ws.on('close', (code, reason) => {
      const was = this.open;
      this.open = false;
      if (was) stats.live -= 1;
      if (!this.closing) error(`unexpected close ${code}`, `${this.name} ${reason}`);
      for (const w of [...this.waiters]) w.fail(new Failure(`closed (${code}) while waiting for ${w.what}`));
      closed(code);
    });
    const hello = await new Promise((resolve, reject) => {
      const timer = setTimeout(() => { reject(new Failure('connect: no hello in time')); this.closing = true; ws.terminate(); }, this.timeoutMs);
      ws.once('message', (data) => { clearTimeout(timer); try { resolve(JSON.parse(data)); } catch (e) { reject(new Failure('connect: hello not JSON')); } });
      ws.once('error', (e) => { clearTimeout(timer); this.closing = true; reject(new Failure(`connect: ${e.message}`)); });
      ws.once('unexpected-response', (req, r) => { clearTimeout(timer); this.closing = true; reject(new Failure(`connect: upgrade refused ${r.statusCode}`)); });
    });
    if (hello.type !== 'hello' || !hello.self || !hello.self.id) throw new Failure(`connect: first message not hello: ${JSON.stringify(hello).slice(0, 80)}`);
    this.selfId = hello.self.id;
    this.open = true;
    stats.live += 1;
    stats.connects += 1;
    ws.on('message', (data) => this.onMessage(data));
    ws.on('error', () => {});
  }

  async close() {
    if (!this.ws) return;
    this.closing = true;
    if (this.ws.readyState === WebSocket.OPEN || this.ws.readyState === WebSocket.CONNECTING) {
      try { this.ws.close(1000, 'bye'); } catch { /* gone */ }
      const t = setTimeout(() => this.ws.terminate(), 10000);
      await this.closedPromise;
      clearTimeout(t);
      stats.disconnects += 1;
    }
    this.ws = null;
  }

  send(msg) {
    if (!this.open) throw new Failure(`${this.name}: send on a closed connection`);
    this.seq += 1;
    this.ws.send(JSON.stringify({ id: this.seq, ...msg }));
    stats.sent += 1;
    const k = msg.subtype || msg.type;
    stats.sentBy[k] = (stats.sentBy[k] || 0) + 1;
    return this.seq;
  }

  onMessage(data) {
    let m;
    try { m = JSON.parse(data); } catch { error('message not JSON'); return; }
    stats.received += 1;
    if (m.type === 'error') error(`server error ${m.error && m.error.code}: ${m.error && m.error.msg}`, this.name);
    for (const w of this.waiters) {
      if (w.pred(m)) { w.done(m); return; }
    }
    this.inbox.push(m);
    if (this.inbox.length > 400) this.inbox.splice(0, this.inbox.length - 200);
  }

  // The first message (already here or still to come) that `pred` accepts, within the timeout.
  waitFor(what, pred) {
    const i = this.inbox.findIndex(pred);
    if (i >= 0) return Promise.resolve(this.inbox.splice(i, 1)[0]);
    if (!this.open) return Promise.reject(new Failure(`${this.name}: closed before ${what}`));
    return new Promise((resolve, reject) => {
      const w = {
        what, pred,
        done: (m) => { clearTimeout(w.timer); this.waiters.delete(w); resolve(m); },
        fail: (e) => { clearTimeout(w.timer); this.waiters.delete(w); reject(e); },
      };
      w.timer = setTimeout(() => w.fail(new Failure(`timeout: ${what}`)), this.timeoutMs);
      this.waiters.add(w);
    });
  }

  request(what, msg) {
    const id = this.send(msg);
    return this.waitFor(`reply to ${what}`, (m) => m.reply_to === id);
  }
}

const webrtc = (m) => ({ type: 'webrtc', source: '', v: V, transaction: '', ...m });
const hangupMsg = (target, ownState, channel, hash, ref, group = '') => webrtc({ subtype: 'webrtc_hangup', target, initiator: false,
  state: ownState, channel, group, hash, data: { accept: false, reason: 'hangup', state: ref } });
const signalMsg = (target, ownState, channel, hash, pcid, data, group = '') => ({ type: 'webrtc', subtype: 'webrtc_signal', target,
  source: '', state: ownState, channel, group, hash, pcid, data, v: V });
const candidate = (n, tag) => ({ type: 'candidate', n, tag,
  candidate: { candidate: `candidate:3442447574 1 udp 2122260223 192.168.1.${2 + n} ${40000 + n} typ host generation 0 ufrag Xq3b network-id 1`,
               sdpMid: '0', sdpMLineIndex: 0 } });

function expect(cond, what, detail) {
  if (!cond) throw new Failure(`mismatch: ${what}${detail ? ` (${String(detail).slice(0, 120)})` : ''}`);
}

// --- a room: join, mesh, signals, chat, leave ------------------------------------------------------

async function room(members, group, a, tag) {
  const channel = `@${group}`;
  const inRoom = [];
  for (const c of members) {
    c.state = newState();
    const reply = await c.request('webrtc_group', webrtc({ subtype: 'webrtc_group', target: group, group, initiator: false,
      state: c.state, channel: '', hash: '' }));
    expect(reply.type === 'webrtc' && reply.subtype === 'webrtc_channel' && reply.channel === channel && reply.hash,
      'join reply', JSON.stringify(reply.error || reply));
    const list = reply.data && reply.data.group && reply.data.group.members;
    expect(Array.isArray(list) && list.length === inRoom.length + 1 && list.includes(c.selfId) &&
      inRoom.every((p) => list.includes(p.selfId)), 'member list on join', JSON.stringify(list));
    for (const p of inRoom) {
      // Everyone already in the room hears of the newcomer.
      await p.waitFor(`member update (${c.name} joined)`, (m) => m.subtype === 'webrtc_channel' && m.channel === channel &&
        m.data && m.data.group && m.data.group.members.includes(c.selfId));
    }
    c.groupHash = reply.hash;
    c.pair = new Map();
    inRoom.push(c);
    stats.roomJoins += 1;
  }
  // Mesh: every member accepts every other; the server hands out the symmetric pair hash.
  for (const x of members) {
    for (const y of members) {
      if (x !== y) x.send(webrtc({ subtype: 'webrtc_call', target: y.selfId, initiator: false, state: group, channel, group,
        hash: x.groupHash, data: { accept: true, state: group } }));
    }
  }
  for (const y of members) {
    for (const x of members) {
      if (x === y) continue;
      const m = await y.waitFor(`group accept ${x.name}→${y.name}`, (mm) => mm.subtype === 'webrtc_call' && mm.group === group &&
        mm.source === x.selfId && mm.channel === channel);
      expect(m.data && m.data.accept === true && m.data.state === group && m.hash && m.profile && m.profile.name, 'group accept', JSON.stringify(m));
      y.pair.set(x.selfId, m.hash);
    }
  }
  for (const x of members) for (const y of members) if (x !== y) expect(x.pair.get(y.selfId) === y.pair.get(x.selfId), 'pair hash symmetric');
  // Signals on every pair, both directions.
  for (const x of members) {
    for (const y of members) {
      if (x === y) continue;
      for (let n = 0; n < a.signals; n++) x.send(signalMsg(y.selfId, group, channel, x.pair.get(y.selfId), `pc-${x.name}`, candidate(n, tag), group));
    }
  }
  for (const y of members) {
    for (const x of members) {
      if (x === y) continue;
      for (let n = 0; n < a.signals; n++) {
        await y.waitFor(`signal ${n} ${x.name}→${y.name}`, (m) => m.subtype === 'webrtc_signal' && m.source === x.selfId &&
          m.channel === channel && m.state === group && m.data && m.data.tag === tag && m.data.n === n);
        stats.signals += 1;
      }
    }
  }
  // A chat message: the sender's reply, every other member's copy.
  const speaker = members[Math.floor(Math.random() * members.length)];
  const text = `soak ${tag} from ${speaker.name}`;
  const reply = await speaker.request('chats_message', { type: 'chats', subtype: 'chats_message', channel, transaction: '', v: 20201201,
    data: { kind: '', sender: '', target: '', id: newState(), text } });
  expect(reply.type === 'chats' && reply.subtype === 'chats_message' && reply.data && reply.data.text === text, 'chat reply', JSON.stringify(reply.error || reply));
  for (const y of members) {
    if (y === speaker) continue;
    await y.waitFor(`chat to ${y.name}`, (m) => m.type === 'chats' && m.subtype === 'chats_message' && m.channel === channel &&
      m.data && m.data.text === text && m.data.sender === speaker.selfId);
  }
  stats.chats += 1;
  // Leave one by one as Meet does: the group hangup, then one per peer still there.
  const left = shuffle(members);
  while (left.length) {
    const x = left.shift();
    x.send(hangupMsg(group, x.state, channel, x.groupHash, '', group));
    for (const y of left) x.send(hangupMsg(y.selfId, group, channel, x.pair.get(y.selfId), group, group));
    for (const y of left) {
      await y.waitFor(`member update (${x.name} left)`, (m) => m.subtype === 'webrtc_channel' && m.channel === channel &&
        m.data && m.data.group && Array.isArray(m.data.group.members) && !m.data.group.members.includes(x.selfId));
      await y.waitFor(`hangup ${x.name}→${y.name}`, (m) => m.subtype === 'webrtc_hangup' && m.source === x.selfId && m.channel === channel);
    }
  }
  stats.rooms += 1;
}

// --- a 1:1 call ------------------------------------------------------------------------------------

async function call(A, B, a, tag) {
  const sA = newState();
  const sB = newState();
  const reply = await A.request('webrtc_call', webrtc({ subtype: 'webrtc_call', target: B.selfId, initiator: true, state: sA,
    channel: '', group: '', hash: '' }));
  expect(reply.subtype === 'webrtc_channel' && typeof reply.channel === 'string' && reply.channel.startsWith('*') && reply.hash,
    'call reply', JSON.stringify(reply.error || reply));
  const { channel, hash } = reply;
  const ring = await B.waitFor(`ring ${A.name}→${B.name}`, (m) => m.subtype === 'webrtc_call' && m.initiator && m.state === sA);
  expect(ring.source === A.selfId && ring.channel === channel && ring.hash === hash && ring.profile && ring.profile.name, 'ring', JSON.stringify(ring));
  B.send(webrtc({ subtype: 'webrtc_call', target: A.selfId, initiator: false, state: sB, channel, group: '', hash,
    data: { accept: true, state: sA } }));
  const ans = await A.waitFor(`answer ${B.name}→${A.name}`, (m) => m.subtype === 'webrtc_call' && !m.initiator && m.channel === channel);
  expect(ans.source === B.selfId && ans.hash === hash && ans.state === sB && ans.data && ans.data.accept === true && ans.data.state === sA,
    'answer', JSON.stringify(ans));
  // Spec §4.4.7: the greater user id offers; the other kicks it with renegotiate/noop.
  const [offerer, other] = A.selfId > B.selfId ? [A, B] : [B, A];
  const own = new Map([[A, sA], [B, sB]]);
  const peer = (x) => (x === A ? B : A);
  const sig = (x, data) => x.send(signalMsg(peer(x).selfId, own.get(x), channel, hash, `pc-${x.name}`, { ...data, tag }));
  const got = async (x, what, test) => {
    const m = await peer(x).waitFor(`${what} ${x.name}→${peer(x).name}`, (mm) => mm.subtype === 'webrtc_signal' && mm.source === x.selfId &&
      mm.channel === channel && mm.data && mm.data.tag === tag && test(mm.data));
    expect(m.state === own.get(x), `${what} state`);
    stats.signals += 1;
  };
  sig(other, { renegotiate: true, noop: true });
  await got(other, 'renegotiate', (d) => d.renegotiate === true);
  sig(offerer, { type: 'offer', sdp: `v=0\r\no=- ${tag} 2 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\n` });
  await got(offerer, 'offer', (d) => d.type === 'offer');
  sig(other, { type: 'answer', sdp: `v=0\r\no=- ${tag} 2 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\n` });
  await got(other, 'answer', (d) => d.type === 'answer');
  for (const x of [A, B]) for (let n = 0; n < a.signals; n++) sig(x, candidate(n, tag));
  for (const x of [A, B]) for (let n = 0; n < a.signals; n++) await got(x, `candidate ${n}`, (d) => d.type === 'candidate' && d.n === n);
  // One side hangs up; the other hears it and (Meet, kwmjs) sends nothing back.
  const [quitter, stayer] = Math.random() < 0.5 ? [A, B] : [B, A];
  quitter.send(hangupMsg(stayer.selfId, own.get(quitter), channel, hash, own.get(stayer)));
  const h = await stayer.waitFor(`hangup ${quitter.name}→${stayer.name}`, (m) => m.subtype === 'webrtc_hangup' && m.channel === channel);
  expect(h.source === quitter.selfId && h.state === own.get(quitter) && h.data && h.data.reason === 'hangup', 'hangup', JSON.stringify(h));
  stats.calls += 1;
}

// --- the run ---------------------------------------------------------------------------------------

async function main() {
  const a = parseArgs(process.argv);
  if (!a.iss || !a.pid) throw new Error('--iss and --pid are required');
  const hardStop = setTimeout(() => { log('error=max-seconds reached, aborting'); process.exit(3); }, a.maxSeconds * 1000);
  hardStop.unref();
  const timeoutMs = a.timeout * 1000;
  const users = Array.from({ length: a.users }, (_, i) => `soak${i + 1}`);
  const cohorts = Math.floor(a.clients / COHORT);
  const runTag = Date.now().toString(36);

  let tokens = {};
  let tokensAt = 0;
  const signInAll = async () => {
    const next = {};
    for (const u of users) next[u] = await signIn(a.iss, u, `${u}${a.passwordSuffix}`);
    tokens = next;
    tokensAt = Date.now();
  };
  await signInAll();
  https.globalAgent.destroy();
  let resign = null;
  const freshTokens = async () => {
    // Access tokens live 10 minutes and the upgrade checks them again: sign in anew after 6 in
    // the background (connects go on with the old tokens), wait for it only after 9.
    const age = Date.now() - tokensAt;
    if (age > 6 * 60 * 1000 && !resign) {
      resign = signInAll().catch((e) => error('sign-in again', e.message)).finally(() => { resign = null; });
    }
    if (age > 9 * 60 * 1000 && resign) await resign;
    return tokens;
  };
  const agent = new https.Agent({ keepAlive: true, maxSockets: a.pool, lookup });

  const mem0 = serverMem(a.pid);
  log(`# palaverd pid ${a.pid}, ${mem0.threads} threads, VmRSS ${mem0.rss_kb} kB; soak client node ${process.version} pid ${process.pid}; ` +
      `${cohorts * COHORT} clients in ${cohorts} cohorts of ${COHORT}, ${a.users} users; ${a.minutes} min (warm-up ${a.warmupMinutes}), ` +
      `signals ${a.signals}, reconnect ${a.reconnect}, pause ${a.pauseMin}-${a.pauseMax} s, timeout ${a.timeout} s`);

  const groups = Array.from({ length: cohorts }, (_, g) =>
    Array.from({ length: COHORT }, (_, k) => new Conn(`c${g}.${k}`, users[(g * COHORT + k) % a.users], timeoutMs)));

  const connectOne = async (c) => {
    try {
      await c.connect(a.iss, (await freshTokens())[c.user], agent);
    } catch (e) {
      error(e instanceof Failure ? e.message : `connect: ${e.message}`);
      await c.close();
      throw e;
    }
  };

  // Initial connections, --concurrency at a time.
  const tc0 = performance.now();
  let next = 0;
  await Promise.all(Array.from({ length: Math.max(1, a.concurrency) }, async () => {
    while (next < cohorts * COHORT) {
      const i = next++;
      await connectOne(groups[Math.floor(i / COHORT)][i % COHORT]).catch(() => {});
    }
  }));
  const connectWall = (performance.now() - tc0) / 1000;
  const mem1 = serverMem(a.pid);
  log(`phase=connect live=${stats.live} of ${cohorts * COHORT} wall_s=${connectWall.toFixed(1)} errors=${stats.errorCount} rss_kb=${mem1.rss_kb}`);

  // Churn.
  const t0 = performance.now();
  const endAt = t0 + a.minutes * 60000;
  const samples = [];
  const cpu0 = serverCpuS(a.pid);
  const sample = async () => {
    const t = (performance.now() - t0) / 1000;
    const mem = serverMem(a.pid);
    let heap = {};
    if (a.heapFile) {
      try {
        const [alloc, size, free] = fs.readFileSync(a.heapFile, 'utf8').trim().split(' ').map(Number);
        heap = { heap_alloc_kb: alloc, heap_size_kb: size, heap_free_kb: free };
      } catch { /* not written yet */ }
    }
    const me = await metrics(a.iss);
    const s = { t_s: Math.round(t), rss_kb: mem.rss_kb, anon_kb: mem.anon_kb, live: stats.live, connects: stats.connects,
      rooms: stats.rooms, calls: stats.calls, signals: stats.signals, sent: stats.sent, received: stats.received,
      errors: stats.errorCount, server_connections: me.palaver_signaling_connections, server_channels: me.palaver_signaling_channels,
      server_cpu_s: +(serverCpuS(a.pid) - cpu0).toFixed(1), ...heap };
    samples.push(s);
    log(`sample t_s=${s.t_s} rss_kb=${s.rss_kb} anon_kb=${s.anon_kb}` +
        (s.heap_alloc_kb !== undefined ? ` heap_alloc_kb=${s.heap_alloc_kb} heap_size_kb=${s.heap_size_kb}` : '') +
        ` live=${s.live} server_connections=${s.server_connections} ` +
        `server_channels=${s.server_channels} connects=${s.connects} rooms=${s.rooms} calls=${s.calls} signals=${s.signals} ` +
        `sent=${s.sent} received=${s.received} errors=${s.errors} server_cpu_s=${s.server_cpu_s}`);
  };
  await sample();
  let sampling = true;
  const sampler = (async () => {
    for (let k = 1; sampling; k++) {
      const due = t0 + k * a.sampleSeconds * 1000;
      while (sampling && performance.now() < due) await sleep(Math.min(250, due - performance.now()));
      if (!sampling) break;
      await sample();
    }
  })();

  const cohortLoop = async (members, g) => {
    await sleep(rnd(0, a.pauseMax * 1000));
    let cycle = 0;
    while (performance.now() < endAt) {
      cycle += 1;
      const tag = `${runTag}.${g}.${cycle}`;
      try {
        for (const c of members) if (!c.open) await connectOne(c);
        if (Math.random() < 0.5) {
          const k = 2 + Math.floor(Math.random() * (COHORT - 1));
          await room(shuffle(members).slice(0, k), `group/soak-${runTag}-${g}`, a, tag);
        } else {
          const order = shuffle(members);
          const pairs = [];
          for (let i = 0; i + 1 < order.length; i += 2) pairs.push(call(order[i], order[i + 1], a, `${tag}.${i}`));
          const done = await Promise.allSettled(pairs);
          const bad = done.find((d) => d.status === 'rejected');
          if (bad) throw bad.reason;
        }
        stats.cycles += 1;
        await Promise.all(members.map(async (c) => {
          if (Math.random() >= a.reconnect) return;
          await c.close();
          await sleep(rnd(200, 1000));
          if (performance.now() < endAt) await connectOne(c);
        }));
      } catch (e) {
        stats.aborted += 1;
        if (!(e instanceof Failure) || !String(e.message).startsWith('connect:')) error(e instanceof Failure ? e.message : `client: ${e.stack}`);
        // A clean slate: fresh connections for the whole cohort.
        await Promise.all(members.map((c) => c.close()));
        await sleep(1000);
      }
      await sleep(rnd(a.pauseMin * 1000, a.pauseMax * 1000));
    }
  };
  await Promise.all(groups.map((members, g) => cohortLoop(members, g).catch((e) => error(`cohort: ${e.stack}`))));
  sampling = false;
  await sampler;
  const churnSamples = samples.length;  // the last one below is taken after the churn ended
  await sample();
  const churnWall = (performance.now() - t0) / 1000;
  const cpuChurn = serverCpuS(a.pid) - cpu0;

  // Close everything; the hub must forget every connection and channel.
  const all = groups.flat();
  await Promise.all(all.map((c) => c.close()));
  agent.destroy();
  let end = {};
  for (let i = 0; i < 40; i++) {
    end = await metrics(a.iss);
    if (end.palaver_signaling_connections === 0 && end.palaver_signaling_channels === 0) break;
    await sleep(500);
  }
  if (end.palaver_signaling_connections !== 0) error(`server still counts ${end.palaver_signaling_connections} connections after all closed`);
  if (end.palaver_signaling_channels !== 0) error(`server still counts ${end.palaver_signaling_channels} channels after all closed`);
  const memEnd = serverMem(a.pid);

  // RSS: from the end of the warm-up to the end of the churn.
  const warmS = a.warmupMinutes * 60;
  const churn = samples.slice(0, churnSamples);
  const after = churn.filter((s) => s.t_s >= warmS - 1);
  if (!after.length) after.push(churn[churn.length - 1]);
  const base = after[0];
  const last = churn[churn.length - 1];
  const maxAfter = Math.max(...after.map((s) => s.rss_kb));
  // Least-squares slope of RSS over the samples after the warm-up (kB per minute).
  let slope = NaN;
  if (after.length >= 3) {
    const n = after.length;
    const mx = after.reduce((s, x) => s + x.t_s, 0) / n;
    const my = after.reduce((s, x) => s + x.rss_kb, 0) / n;
    const num = after.reduce((s, x) => s + (x.t_s - mx) * (x.rss_kb - my), 0);
    const den = after.reduce((s, x) => s + (x.t_s - mx) ** 2, 0);
    slope = (num / den) * 60;
  }
  // Live connections while the cohorts churned (not the first sample, taken before, nor the last).
  const liveAfter = samples.slice(1, churnSamples).map((s) => s.live);
  // The ASan heap in use (allocated, not freed), the same way.
  let heap;
  if (a.heapFile && base.heap_alloc_kb !== undefined && last.heap_alloc_kb !== undefined) {
    heap = { warmup_end_kb: base.heap_alloc_kb, last_kb: last.heap_alloc_kb,
             max_after_warmup_kb: Math.max(...after.map((s) => s.heap_alloc_kb || 0)),
             growth_kb: last.heap_alloc_kb - base.heap_alloc_kb,
             growth_pct: ((last.heap_alloc_kb - base.heap_alloc_kb) / base.heap_alloc_kb) * 100,
             heap_size_warmup_end_kb: base.heap_size_kb, heap_size_last_kb: last.heap_size_kb };
  }
  if (!liveAfter.length) liveAfter.push(stats.live);
  const result = {
    clients: cohorts * COHORT, users: a.users, minutes: a.minutes, warmup_minutes: a.warmupMinutes, node: process.version,
    connect_wall_s: connectWall, churn_wall_s: churnWall, server_cpu_s: cpuChurn,
    rss: { before_kb: mem0.rss_kb, connected_kb: mem1.rss_kb, warmup_end_kb: base.rss_kb, warmup_end_t_s: base.t_s,
           last_kb: last.rss_kb, max_after_warmup_kb: maxAfter, growth_kb: last.rss_kb - base.rss_kb,
           growth_pct: ((last.rss_kb - base.rss_kb) / base.rss_kb) * 100, slope_kb_per_min: slope, all_closed_kb: memEnd.rss_kb },
    heap,
    live_min: Math.min(...liveAfter), live_max: Math.max(...liveAfter),
    connects: stats.connects, disconnects: stats.disconnects, cycles: stats.cycles, aborted: stats.aborted, rooms: stats.rooms,
    room_joins: stats.roomJoins, calls: stats.calls, signals: stats.signals, chats: stats.chats, sent: stats.sent,
    received: stats.received, sent_by: stats.sentBy, errors: stats.errorCount, error_kinds: stats.errors,
    error_samples: stats.errorSamples, metrics_end: end, samples,
  };
  const r = result.rss;
  log(`phase=end churn_s=${churnWall.toFixed(0)} connects=${stats.connects} disconnects=${stats.disconnects} cycles=${stats.cycles} ` +
      `aborted=${stats.aborted} rooms=${stats.rooms} room_joins=${stats.roomJoins} calls=${stats.calls} signals=${stats.signals} ` +
      `chats=${stats.chats} sent=${stats.sent} received=${stats.received} live_min=${result.live_min} live_max=${result.live_max} ` +
      `server_cpu_util=${(cpuChurn / churnWall).toFixed(2)} sent_by=${JSON.stringify(stats.sentBy)}`);
  log(`phase=rss before_kb=${r.before_kb} connected_kb=${r.connected_kb} warmup_end_kb=${r.warmup_end_kb} (t=${r.warmup_end_t_s} s) ` +
      `last_kb=${r.last_kb} max_after_warmup_kb=${r.max_after_warmup_kb} growth_kb=${r.growth_kb} growth_pct=${r.growth_pct.toFixed(2)} ` +
      `slope_kb_per_min=${Number.isFinite(slope) ? slope.toFixed(0) : 'n/a'} all_closed_kb=${r.all_closed_kb}`);
  if (heap) {
    log(`phase=heap alloc_warmup_end_kb=${heap.warmup_end_kb} alloc_last_kb=${heap.last_kb} alloc_max_after_warmup_kb=${heap.max_after_warmup_kb} ` +
        `growth_kb=${heap.growth_kb} growth_pct=${heap.growth_pct.toFixed(2)} heap_size_kb=${heap.heap_size_warmup_end_kb}→${heap.heap_size_last_kb}`);
  }
  log(`phase=errors errors=${stats.errorCount} kinds=${JSON.stringify(stats.errors)}` +
      (stats.errorSamples.length ? ` samples=${JSON.stringify(stats.errorSamples)}` : '') +
      ` server_end=${JSON.stringify(end)}`);
  if (a.json) fs.writeFileSync(a.json, JSON.stringify(result, null, 1));
  clearTimeout(hardStop);
  return stats.errorCount === 0 ? 0 : 1;
}

main().then((code) => process.exit(code), (e) => { log(`error=${e && e.stack ? e.stack : e}`); process.exit(2); });
