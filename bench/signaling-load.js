#!/usr/bin/env node
// signaling-load.js — the load client of bench/signaling.sh (signaling: concurrent RTM
// connections, fan-out latency, palaverd CPU and memory). Normally started by that script, which
// starts palaverd pinned to one CPU and this process pinned to the other.
//
// 1. Signs the --users in once through the OpenID provider (tests/node/lib/palaver.js signIn: sign-in
//    API, authorize with PKCE, token endpoint); the tokens serve every connection (signed in again
//    when older than 8 minutes; access tokens live 10).
// 2. Opens --conns RTM connections in rooms of as many connections as there are users (one of each
//    user per room; a user has one connection per room): rtm/connect (HTTPS POST on a small pool of
//    keep-alive connections, like a browser that already has the page open) + a new TLS WebSocket
//    each, `hello`; then, per room, every member joins (`webrtc_group`, one after the other, as
//    Meet does) and sends the group accept (`webrtc_call` with `group`) to every other member, so
//    each connection holds the pair hash of each peer (signaling.test.js's mesh set-up). At most
//    --concurrency connections are being set up at once.
// 3. Idle: the connect pool is closed, and after --settle seconds palaverd's VmRSS and its CPU
//    over --idle-seconds are read with all connections open and quiet.
// 4. Load, per --rates entry: `webrtc_signal`s at a steady total rate for --duration seconds, sent
//    round-robin by every connection to the next member of its room (pair hash, ~200-byte ICE
//    candidate `data` carrying the send time); latency = receive time at the peer − send time,
//    both on this process's monotonic clock. palaverd CPU (/proc/<pid>/stat utime+stime, and
//    per-thread schedstat) over the sending window, VmRSS sampled each second.
// Dropped connections (and when), errors received, lost signals, the CPU other processes used on
// the machine (/proc/stat) and the host's/module's counters from /metrics are reported. Bounded: fixed counts, every wait has a time limit, --max-seconds in all.
//
// Output: `key=value` lines on stdout, and --json FILE (the figures of this run).
// `--report a.json b.json ...` prints the markdown table of several runs instead.
'use strict';

const fs = require('fs');
const https = require('https');
const path = require('path');
const { performance, monitorEventLoopDelay } = require('perf_hooks');
const { signIn, form } = require(path.join(__dirname, '..', 'tests', 'node', 'lib', 'palaver.js'));
const WebSocket = require(path.join(__dirname, '..', 'tests', 'node', 'node_modules', 'ws'));

const V = 20180703;
const CLK_TCK = 100;  // USER_HZ on Linux

function parseArgs(argv) {
  const a = {
    iss: process.env.PALAVER_ISS, pid: 0, conns: 1000, rates: [2000], duration: 20, concurrency: 64, pool: 8,
    users: ['bench1', 'bench2', 'bench3', 'bench4', 'bench5'], passwordSuffix: '-secret', settle: 5, idleSeconds: 5,
    json: '', maxSeconds: 840, report: null,
  };
  for (let i = 2; i < argv.length; i++) {
    const k = argv[i];
    const v = () => argv[++i];
    if (k === '--iss') a.iss = v();
    else if (k === '--pid') a.pid = Number(v());
    else if (k === '--conns') a.conns = Number(v());
    else if (k === '--rates' || k === '--rate') a.rates = v().split(',').map(Number);
    else if (k === '--duration') a.duration = Number(v());
    else if (k === '--concurrency') a.concurrency = Number(v());
    else if (k === '--pool') a.pool = Number(v());
    else if (k === '--users') a.users = v().split(',');
    else if (k === '--password-suffix') a.passwordSuffix = v();
    else if (k === '--settle') a.settle = Number(v());
    else if (k === '--idle-seconds') a.idleSeconds = Number(v());
    else if (k === '--json') a.json = v();
    else if (k === '--max-seconds') a.maxSeconds = Number(v());
    else if (k === '--report') { a.report = argv.slice(i + 1); break; }
    else throw new Error(`unknown option ${k}`);
  }
  return a;
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const log = (line) => process.stdout.write(line + '\n');

// --- palaverd from /proc ---------------------------------------------------------------------

function serverCpu(pid) {
  const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
  const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  const ticks = Number(f[11]) + Number(f[12]);
  const threads = {};
  let ns = 0;
  for (const tid of fs.readdirSync(`/proc/${pid}/task`)) {
    try {
      const t = Number(fs.readFileSync(`/proc/${pid}/task/${tid}/schedstat`, 'utf8').split(' ')[0]);
      const comm = fs.readFileSync(`/proc/${pid}/task/${tid}/comm`, 'utf8').trim();
      ns += t;
      threads[comm] = (threads[comm] || 0) + t;
    } catch { /* thread gone */ }
  }
  const c = process.cpuUsage();
  return { stat_s: ticks / CLK_TCK, sched_s: ns / 1e9, threads, t: performance.now(), busy_s: machineBusy(),
           client_s: (c.user + c.system) / 1e6 };
}

// Busy time of the whole machine (all CPUs, /proc/stat), to tell other processes' load apart.
function machineBusy() {
  const line = fs.readFileSync('/proc/stat', 'utf8').split('\n')[0].trim().split(/\s+/).slice(1).map(Number);
  const [user, nice, system, , , irq, softirq, steal] = line;
  return (user + nice + system + irq + softirq + steal) / CLK_TCK;
}

function cpuDelta(a, b) {
  const threads = {};
  for (const [k, v] of Object.entries(b.threads)) threads[k] = (v - (a.threads[k] || 0)) / 1e9;
  const wall = (b.t - a.t) / 1000;
  // CPU used by neither palaverd nor this client (other processes on the machine), in cores.
  const other = Math.max(0, (b.busy_s - a.busy_s) - (b.stat_s - a.stat_s) - (b.client_s - a.client_s)) / wall;
  return { stat_s: b.stat_s - a.stat_s, sched_s: b.sched_s - a.sched_s, wall_s: wall, threads, other };
}

function serverMem(pid) {
  const status = fs.readFileSync(`/proc/${pid}/status`, 'utf8');
  const kb = (key) => Number((status.match(new RegExp(`^${key}:\\s+(\\d+)`, 'm')) || [0, 0])[1]);
  return { rss_kb: kb('VmRSS'), anon_kb: kb('RssAnon'), threads: kb('Threads') };
}

function pct(sorted, q) {
  if (!sorted.length) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))];
}

// --- HTTP(S) with a bounded keep-alive pool ----------------------------------------------------

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
      const m = line.match(/^((?:palaver_signaling_|palaver_http_websocket|palaver_http_connections|palaver_http_header_timeouts)[^ ]*) ([0-9.e+-]+)$/);
      if (m) out[m[1]] = Number(m[2]);
    }
    return out;
  } catch (e) {
    return { error: String(e) };
  }
}

// --- one RTM connection ----------------------------------------------------------------------

const stats = {
  closed: 0, closeCodes: {}, errors: 0, errorSamples: [], stray: 0, late: 0, received: 0, lat: null, latN: 0, phase: 0,
  replacedNotes: 0, expectClose: false, closeTimes: [],
};

let sourceIndex = 0;  // next source address (connect)

class Conn {
  constructor(index, user) {
    this.index = index;
    this.user = user;
    this.ws = null;
    this.selfId = null;
    this.seq = 0;
    this.replies = new Map();  // id -> resolve
    this.pair = new Map();     // peer id -> pair hash (from the peer's group accept)
    this.pairWaiter = null;
    this.groupHash = null;
    this.open = false;
  }

  async connect(iss, tokens, agent) {
    const t0 = performance.now();
    const res = await post(agent, `${iss}/api/kwm/v2/rtm/connect`, form({ id_token: tokens.id_token }), {
      'Content-Type': 'application/x-www-form-urlencoded; charset=UTF-8', Authorization: `Bearer ${tokens.access_token}`,
    });
    if (res.status !== 200) throw new Error(`rtm/connect ${res.status} ${res.body.trim().slice(0, 80)}`);
    const t1 = performance.now();
    const { url } = JSON.parse(res.body);
    // Source addresses spread over 127.0.0.1-8: one source address has only the ephemeral port
    // range (~28 000 ports) towards one server port, too few for 50 000 connections.
    const localAddress = `127.0.0.${1 + (sourceIndex++ % 8)}`;
    const ws = new WebSocket(`${iss.replace(/^https/, 'wss')}${url}`, { perMessageDeflate: false, lookup, handshakeTimeout: 30000, localAddress });
    this.ws = ws;
    const hello = await new Promise((resolve, reject) => {
      const timer = setTimeout(() => { reject(new Error('no hello within 30 s')); ws.terminate(); }, 30000);
      ws.once('message', (data) => { clearTimeout(timer); resolve(JSON.parse(data)); });
      ws.once('error', (e) => { clearTimeout(timer); reject(e); });
      ws.once('unexpected-response', (req, r) => { clearTimeout(timer); reject(new Error(`upgrade refused: ${r.statusCode}`)); });
    });
    if (hello.type !== 'hello' || !hello.self || !hello.self.id) throw new Error(`first message not hello: ${JSON.stringify(hello).slice(0, 100)}`);
    this.selfId = hello.self.id;
    this.open = true;
    ws.on('message', (data) => this.onMessage(data));
    ws.on('error', () => {});
    ws.on('close', (code) => {
      this.open = false;
      if (!stats.expectClose) {
        stats.closed += 1;
        stats.closeTimes.push(performance.now());
        stats.closeCodes[code] = (stats.closeCodes[code] || 0) + 1;
      }
    });
    return { connect_ms: t1 - t0, upgrade_ms: performance.now() - t1 };
  }

  send(msg) {
    this.seq += 1;
    this.ws.send(JSON.stringify({ id: this.seq, ...msg }));
    return this.seq;
  }

  onMessage(data) {
    let m;
    try { m = JSON.parse(data); } catch { stats.stray += 1; return; }
    if (m.type === 'webrtc') {
      if (m.subtype === 'webrtc_signal') {
        const d = m.data;
        if (d && typeof d.ts === 'number' && d.ph !== stats.phase) {
          stats.late += 1;  // from an earlier rate's phase
        } else if (d && typeof d.ts === 'number' && stats.lat) {
          if (stats.latN < stats.lat.length) stats.lat[stats.latN++] = performance.now() - d.ts;
          stats.received += 1;
        } else {
          stats.stray += 1;
        }
        return;
      }
      if (m.reply_to && this.replies.has(m.reply_to)) {
        const r = this.replies.get(m.reply_to);
        this.replies.delete(m.reply_to);
        r(m);
        return;
      }
      if (m.subtype === 'webrtc_call' && m.group && m.data && m.data.accept) {
        this.pair.set(m.source, m.hash);
        if (this.pairWaiter) this.pairWaiter();
        return;
      }
      if (m.subtype === 'webrtc_channel' && m.data && m.data.replaced) stats.replacedNotes += 1;
      return;  // membership updates
    }
    if (m.type === 'error') {
      stats.errors += 1;
      if (stats.errorSamples.length < 5) stats.errorSamples.push(m.error);
      if (m.reply_to && this.replies.has(m.reply_to)) {
        const r = this.replies.get(m.reply_to);
        this.replies.delete(m.reply_to);
        r(m);
      }
    }
    // chats_system joined/left notes, pongs: nothing to do
  }

  request(msg, ms = 15000) {
    const id = this.send(msg);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => { this.replies.delete(id); reject(new Error(`no reply to ${msg.subtype}`)); }, ms);
      this.replies.set(id, (m) => { clearTimeout(timer); resolve(m); });
    });
  }

  waitPairs(n, ms = 15000) {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => { this.pairWaiter = null; reject(new Error(`only ${this.pair.size} of ${n} group accepts`)); }, ms);
      this.pairWaiter = () => {
        if (this.pair.size >= n) { clearTimeout(timer); this.pairWaiter = null; resolve(); }
      };
      this.pairWaiter();
    });
  }
}

// --- phases ----------------------------------------------------------------------------------

async function main() {
  const a = parseArgs(process.argv);
  if (a.report) return report(a.report);
  if (!a.iss || !a.pid) throw new Error('--iss and --pid are required');
  const hardStop = setTimeout(() => { log('error=max-seconds reached, aborting'); process.exit(3); }, a.maxSeconds * 1000);
  hardStop.unref();
  const result = { conns: a.conns, users: a.users.length, rates: [], node: process.version };
  const roomSize = a.users.length;
  const rooms = Math.floor(a.conns / roomSize);
  const runTag = Date.now().toString(36);

  // Sign in once (re-sign after 8 minutes).
  let tokens = {};
  let tokensAt = 0;
  const signInAll = async () => {
    const next = {};
    for (const u of a.users) next[u] = await signIn(a.iss, u, `${u}${a.passwordSuffix}`);
    tokens = next;
    tokensAt = Date.now();
  };
  await signInAll();
  https.globalAgent.destroy();  // sign-in's keep-alive connections: not part of the figures
  let resign = null;
  const freshTokens = async () => {
    if (Date.now() - tokensAt > 8 * 60 * 1000) {
      resign = resign || signInAll().finally(() => { resign = null; });
      await resign;
    }
    return tokens;
  };

  await sleep(1000);
  const memBefore = serverMem(a.pid);
  result.before = memBefore;
  log(`# palaverd pid ${a.pid}, ${memBefore.threads} threads; load client node ${process.version} pid ${process.pid}; ` +
      `${a.conns} connections in ${rooms} rooms of ${roomSize}; concurrency ${a.concurrency}; rtm/connect pool ${a.pool}`);
  log(`phase=before rss_kb=${memBefore.rss_kb} anon_kb=${memBefore.anon_kb}`);

  // Connect, join, mesh.
  const agent = new https.Agent({ keepAlive: true, maxSockets: a.pool, lookup });
  const conns = [];
  const readyRooms = [];
  const failures = {};
  const openTimes = [];
  const fail = (e) => {
    const k = String(e && e.message ? e.message : e).replace(/[0-9a-f-]{20,}/g, '…').slice(0, 100);
    failures[k] = (failures[k] || 0) + 1;
  };
  const cpuC0 = serverCpu(a.pid);
  const clC0 = process.cpuUsage();
  let nextRoom = 0;
  let doneConns = 0;
  let lastLog = performance.now();
  const worker = async () => {
    while (nextRoom < rooms) {
      const r = nextRoom++;
      const group = `group/bench-${runTag}-${r}`;
      const tok = await freshTokens();
      const members = a.users.map((u, k) => new Conn(r * roomSize + k, u));
      conns.push(...members);
      const opened = await Promise.allSettled(members.map((c) => c.connect(a.iss, tok[c.user], agent)));
      doneConns += roomSize;
      let ok = true;
      for (const o of opened) {
        if (o.status === 'fulfilled') openTimes.push(o.value.connect_ms + o.value.upgrade_ms);
        else { ok = false; fail(o.reason); }
      }
      if (!ok) continue;
      try {
        for (const c of members) {
          const reply = await c.request({ type: 'webrtc', subtype: 'webrtc_group', target: group, group, initiator: false,
                                          state: `j${c.index}`, channel: '', hash: '', transaction: '', v: V });
          if (reply.type !== 'webrtc' || reply.channel !== `@${group}`) throw new Error(`join refused: ${JSON.stringify(reply.error || reply).slice(0, 80)}`);
          c.groupHash = reply.hash;
        }
        for (const from of members) {
          for (const to of members) {
            if (from === to) continue;
            from.send({ type: 'webrtc', subtype: 'webrtc_call', target: to.selfId, initiator: false, state: group,
                        channel: `@${group}`, group, hash: from.groupHash, transaction: '',
                        data: { accept: true, state: group }, v: V });
          }
        }
        await Promise.all(members.map((c) => c.waitPairs(roomSize - 1)));
        for (const x of members) {
          for (const y of members) {
            if (x !== y && x.pair.get(y.selfId) !== y.pair.get(x.selfId)) throw new Error('pair hash not symmetric');
          }
        }
        readyRooms.push({ group, members });
      } catch (e) {
        fail(e);
      }
      if (performance.now() - lastLog > 5000) {
        lastLog = performance.now();
        log(`# ${doneConns}/${rooms * roomSize} connections set up, ${Object.values(failures).reduce((s, x) => s + x, 0)} failed`);
      }
    }
  };
  const tConnect0 = performance.now();
  await Promise.all(Array.from({ length: Math.max(1, Math.ceil(a.concurrency / roomSize)) }, worker));
  const connectWall = (performance.now() - tConnect0) / 1000;
  const cpuC = cpuDelta(cpuC0, serverCpu(a.pid));
  const clC = process.cpuUsage(clC0);
  agent.destroy();  // the rtm/connect pool: not part of the idle figure
  const opened = conns.filter((c) => c.open).length;
  const failed = Object.values(failures).reduce((s, x) => s + x, 0);
  openTimes.sort((x, y) => x - y);
  result.connect = {
    attempted: rooms * roomSize, opened: openTimes.length, ready: readyRooms.length * roomSize, failed, failures,
    wall_s: connectWall, per_s: openTimes.length / connectWall,
    open_p50_ms: pct(openTimes, 0.5), open_p99_ms: pct(openTimes, 0.99),
    server_cpu_us_per_conn: (cpuC.sched_s / Math.max(1, openTimes.length)) * 1e6, server_util: cpuC.sched_s / cpuC.wall_s,
    client_util: (clC.user + clC.system) / 1e6 / connectWall, other_util: cpuC.other,
  };
  const rc = result.connect;
  log(`phase=connect attempted=${rc.attempted} opened=${rc.opened} meshed=${rc.ready} failed=${failed} wall_s=${connectWall.toFixed(1)} ` +
      `conn_per_s=${rc.per_s.toFixed(0)} open_p50_ms=${rc.open_p50_ms.toFixed(1)} open_p99_ms=${rc.open_p99_ms.toFixed(1)} ` +
      `server_cpu_us_per_conn=${rc.server_cpu_us_per_conn.toFixed(0)} server_cpu_util=${rc.server_util.toFixed(2)} ` +
      `client_cpu_util=${rc.client_util.toFixed(2)} other_cpu=${cpuC.other.toFixed(2)}` + (failed ? ` failures=${JSON.stringify(failures)}` : ''));

  // Idle with every connection open.
  await sleep(a.settle * 1000);
  const cpuI0 = serverCpu(a.pid);
  const windows = [];
  for (let left = a.idleSeconds; left > 0; left -= 5) {
    const w0 = serverCpu(a.pid);
    await sleep(Math.min(5, left) * 1000);
    const w = cpuDelta(w0, serverCpu(a.pid));
    windows.push((w.sched_s / w.wall_s).toFixed(2));
  }
  const cpuI = cpuDelta(cpuI0, serverCpu(a.pid));
  const memIdle = serverMem(a.pid);
  const heldIdle = conns.filter((c) => c.open).length;
  result.idle = { ...memIdle, held: heldIdle, server_util: cpuI.sched_s / cpuI.wall_s, server_util_5s: windows, other_util: cpuI.other,
                  rss_per_conn_bytes: ((memIdle.rss_kb - memBefore.rss_kb) * 1024) / Math.max(1, heldIdle),
                  anon_per_conn_bytes: ((memIdle.anon_kb - memBefore.anon_kb) * 1024) / Math.max(1, heldIdle) };
  result.metrics_idle = await metrics(a.iss);
  log(`phase=idle held=${heldIdle} rss_kb=${memIdle.rss_kb} anon_kb=${memIdle.anon_kb} ` +
      `rss_per_conn_bytes=${result.idle.rss_per_conn_bytes.toFixed(0)} anon_per_conn_bytes=${result.idle.anon_per_conn_bytes.toFixed(0)} ` +
      `server_cpu_util=${result.idle.server_util.toFixed(3)} server_cpu_util_per_5s=${windows.join(',')} other_cpu=${cpuI.other.toFixed(2)} dropped=${stats.closed} ` +
      `palaverd_ws_open=${result.metrics_idle.palaver_http_websockets_open} signaling_connections=${result.metrics_idle.palaver_signaling_connections}`);

  // Load at each rate.
  const senders = [];
  for (let k = 0; k < roomSize; k++) {
    for (const room of readyRooms) {
      const c = room.members[k];
      const peer = room.members[(k + 1) % roomSize];
      const prefix = `{"type":"webrtc","subtype":"webrtc_signal","target":${JSON.stringify(peer.selfId)},"state":${JSON.stringify(room.group)},` +
        `"channel":${JSON.stringify('@' + room.group)},"group":${JSON.stringify(room.group)},"hash":${JSON.stringify(c.pair.get(peer.selfId))},` +
        `"pcid":"pc-${c.index}","v":${V},"data":{"type":"candidate","candidate":{"candidate":` +
        `"candidate:3442447574 1 udp 2122260223 192.168.${k}.${(c.index % 250) + 2} ${40000 + (c.index % 20000)} typ host generation 0 ufrag Xq3b network-id 1",` +
        `"sdpMid":"0","sdpMLineIndex":0},"ts":`;
      senders.push({ c, prefix });
    }
  }
  const eld = monitorEventLoopDelay({ resolution: 1 });
  for (const rate of a.rates) {
    if (!senders.length) break;
    const total = Math.round(rate * a.duration);
    stats.lat = new Float64Array(total);
    stats.latN = 0;
    stats.received = 0;
    stats.phase += 1;
    const ph = stats.phase;
    const errors0 = stats.errors;
    const closed0 = stats.closed;
    const m0 = await metrics(a.iss);
    let sent = 0;
    let next = 0;
    const rssSamples = [];
    const sampler = setInterval(() => rssSamples.push(serverMem(a.pid).rss_kb), 1000);
    eld.reset();
    eld.enable();
    const cl0 = process.cpuUsage();
    const cpu0 = serverCpu(a.pid);
    const t0 = performance.now();
    await new Promise((resolve) => {
      const tick = () => {
        const due = Math.min(total, Math.floor(((performance.now() - t0) / 1000) * rate));
        while (sent < due) {
          const s = senders[next];
          next = (next + 1) % senders.length;
          if (s.c.open) {
            s.c.seq += 1;
            s.c.ws.send(`${s.prefix}${performance.now().toFixed(3)},"ph":${ph}},"id":${s.c.seq}}`);
          }
          sent += 1;
        }
        if (sent >= total) resolve(); else setTimeout(tick, 1);
      };
      tick();
    });
    const sendWall = (performance.now() - t0) / 1000;
    const cpu = cpuDelta(cpu0, serverCpu(a.pid));
    const cl = process.cpuUsage(cl0);
    eld.disable();
    clearInterval(sampler);
    const memLoad = serverMem(a.pid);
    rssSamples.push(memLoad.rss_kb);
    const drainUntil = performance.now() + 5000;
    while (stats.received < sent && performance.now() < drainUntil) await sleep(20);
    const m1 = await metrics(a.iss);
    const lat = Array.from(stats.lat.subarray(0, stats.latN)).sort((x, y) => x - y);
    const key = 'palaver_signaling_messages_total{direction="in"}';
    const fwdIn = key in m0 && key in m1 ? m1[key] - m0[key] : NaN;
    const r = {
      rate, duration_s: a.duration, sent, received: stats.received, lost: sent - stats.received, send_wall_s: sendWall,
      achieved_rate: sent / sendWall, p50_ms: pct(lat, 0.5), p90_ms: pct(lat, 0.9), p99_ms: pct(lat, 0.99),
      p999_ms: pct(lat, 0.999), max_ms: lat.length ? lat[lat.length - 1] : NaN,
      server_cpu_us_per_msg: (cpu.sched_s / Math.max(1, sent)) * 1e6, server_cpu_us_per_msg_stat: (cpu.stat_s / Math.max(1, sent)) * 1e6,
      server_util: cpu.sched_s / cpu.wall_s, server_threads: cpu.threads,
      client_util: (cl.user + cl.system) / 1e6 / sendWall,
      client_loop_delay_p99_ms: eld.percentile(99) / 1e6, client_loop_delay_max_ms: eld.max / 1e6,
      rss_kb: memLoad.rss_kb, rss_max_kb: Math.max(...rssSamples), errors: stats.errors - errors0,
      dropped: stats.closed - closed0, server_messages_in: fwdIn, other_util: cpu.other,  // (after /metrics)
    };
    r.metrics_error = m0.error || m1.error;
    r.t0 = t0;
    const drops = stats.closeTimes.slice(closed0).map((t) => (t - t0) / 1000);
    if (drops.length) r.drops_s = [Math.min(...drops), Math.max(...drops)];
    result.rates.push(r);
    const threads = Object.entries(cpu.threads).filter(([, s]) => s > 0.01).map(([k, s]) => `${k}:${(s / cpu.wall_s).toFixed(2)}`).join(',');
    log(`phase=load rate=${rate} sent=${sent} received=${r.received} lost=${r.lost} achieved_per_s=${r.achieved_rate.toFixed(0)} ` +
        `p50_ms=${r.p50_ms.toFixed(2)} p90_ms=${r.p90_ms.toFixed(2)} p99_ms=${r.p99_ms.toFixed(2)} p999_ms=${r.p999_ms.toFixed(2)} max_ms=${r.max_ms.toFixed(1)} ` +
        `server_cpu_us_per_msg=${r.server_cpu_us_per_msg.toFixed(1)} server_cpu_util=${r.server_util.toFixed(2)} threads=${threads} ` +
        `client_cpu_util=${r.client_util.toFixed(2)} client_loop_delay_p99_ms=${r.client_loop_delay_p99_ms.toFixed(1)} ` +
        `other_cpu=${r.other_util.toFixed(2)} rss_kb=${r.rss_kb} rss_max_kb=${r.rss_max_kb} errors=${r.errors} dropped=${r.dropped} server_in=${fwdIn}` +
        (r.drops_s ? ` drops_between_s=${r.drops_s.map((x) => x.toFixed(1)).join('..')}` : '') +
        (r.errors ? ` error_samples=${JSON.stringify(stats.errorSamples)}` : ''));
    await sleep(2000);
  }

  // Let late disconnects (an overloaded server's idle timeouts) show: until none for 10 s, 90 s at most.
  for (let seen = -1, waited = 0; seen !== stats.closed && waited < 90; waited += 10) {
    seen = stats.closed;
    await sleep(10000);
  }
  result.metrics_end = await metrics(a.iss);
  result.held_end = conns.filter((c) => c.open).length;
  result.dropped = stats.closed;
  // Drops per load phase: from its start to the next phase's start (or the end).
  result.rates.forEach((r, i) => {
    const until = i + 1 < result.rates.length ? result.rates[i + 1].t0 : Infinity;
    const mine = stats.closeTimes.filter((t) => t >= r.t0 && t < until).map((t) => (t - r.t0) / 1000);
    r.dropped = mine.length;
    r.drops_s = mine.length ? [Math.min(...mine), Math.max(...mine)] : undefined;
    if (mine.length) log(`# rate=${r.rate}: ${mine.length} connections dropped ${r.drops_s[0].toFixed(1)}–${r.drops_s[1].toFixed(1)} s after its start`);
  });
  result.close_codes = stats.closeCodes;
  result.errors = stats.errors;
  result.stray = stats.stray;
  result.late = stats.late;
  const me = result.metrics_end;
  log(`phase=end held=${result.held_end} dropped=${stats.closed} close_codes=${JSON.stringify(stats.closeCodes)} errors=${stats.errors} ` +
      `stray=${stats.stray} late=${stats.late} metrics=${JSON.stringify(me)}`);
  if (a.json) fs.writeFileSync(a.json, JSON.stringify(result, null, 1));
  stats.expectClose = true;
  for (const c of conns) if (c.ws) c.ws.terminate();
  clearTimeout(hardStop);
  return result.held_end === rc.attempted && failed === 0 && stats.closed === 0 ? 0 : 1;
}

// --- markdown from several runs' JSON ---------------------------------------------------------

function report(files) {
  const runs = files.map((f) => JSON.parse(fs.readFileSync(f, 'utf8')));
  const n = (x, d = 0) => (Number.isFinite(x) ? x.toFixed(d).replace(/\B(?=(\d{3})+(?!\d))/g, ' ') : '—');
  const mb = (kb) => `${(kb / 1024).toFixed(1)} MB`;
  const rows = [];
  const head = `| | ${runs.map((r) => `N = ${n(r.conns)}`).join(' | ')} |`;
  rows.push(head, `|---|${runs.map(() => '---:').join('|')}|`);
  const row = (label, f) => rows.push(`| ${label} | ${runs.map((r) => { try { return f(r); } catch { return '—'; } }).join(' | ')} |`);
  row('connections opened and meshed (hello, join, pair hashes)', (r) => `${n(r.connect.ready)} of ${n(r.connect.attempted)} (${n(r.connect.failed)} failed)`);
  row('connections held with all idle (none dropped)', (r) => `${n(r.idle.held)}`);
  row('connections held at the end (dropped: close codes)', (r) => `${n(r.held_end)} (${n(r.dropped)}${r.dropped ? `: ${Object.entries(r.close_codes).map(([k, v]) => `${n(v)}× ${k}`).join(', ')}` : ''})`);
  row('connect rate (rtm/connect + TLS WebSocket + hello; join and mesh included)', (r) => `${n(r.connect.per_s)}/s (${n(r.connect.wall_s, 1)} s)`);
  row('connect latency p50 / p99', (r) => `${n(r.connect.open_p50_ms, 1)} / ${n(r.connect.open_p99_ms, 1)} ms`);
  row('palaverd CPU per connection set-up', (r) => `${n(r.connect.server_cpu_us_per_conn)} µs (${n(r.connect.server_util * 100)} % of a core)`);
  row('load client CPU while connecting', (r) => `${n(r.connect.client_util * 100)} % of a core`);
  row('palaverd RSS before connecting', (r) => mb(r.before.rss_kb));
  row('palaverd RSS with all connections idle', (r) => mb(r.idle.rss_kb));
  row('**RSS per idle connection** (RssAnon per connection)', (r) => `**${n(r.idle.rss_per_conn_bytes / 1024, 1)} KB** (${n(r.idle.anon_per_conn_bytes / 1024, 1)} KB)`);
  row('palaverd CPU, idle connections', (r) => `${n(r.idle.server_util * 100, 1)} % of a core`);
  const rates = [...new Set(runs.flatMap((r) => r.rates.map((x) => x.rate)))].sort((x, y) => x - y);
  for (const rate of rates) {
    const at = (r) => r.rates.find((x) => x.rate === rate);
    const tag = `@ ${n(rate)}/s`;
    row(`${tag}: signals sent / received (not received 5 s after the last send)`, (r) => `${n(at(r).sent)} / ${n(at(r).received)} (${n(at(r).lost)})`);
    row(`${tag}: connections dropped (from this phase's start to the next)`, (r) => n(at(r).dropped));
    row(`${tag}: **fan-out latency p50 / p99** (p99.9, max)`, (r) => `**${n(at(r).p50_ms, 2)} / ${n(at(r).p99_ms, 2)} ms** (${n(at(r).p999_ms, 1)}, ${n(at(r).max_ms, 1)})`);
    row(`${tag}: palaverd CPU per message / % of a core`, (r) => `${n(at(r).server_cpu_us_per_msg, 1)} µs / ${n(at(r).server_util * 100)} %`);
    row(`${tag}: palaverd RSS under load (max)`, (r) => `${mb(at(r).rss_kb)} (${mb(at(r).rss_max_kb)})`);
    row(`${tag}: load client CPU / event-loop delay p99`, (r) => `${n(at(r).client_util * 100)} % / ${n(at(r).client_loop_delay_p99_ms, 1)} ms`);
    row(`${tag}: other processes' CPU on the machine`, (r) => `${n(at(r).other_util * 100)} % of a core`);
  }
  log(rows.join('\n'));
  return 0;
}

main().then((code) => process.exit(code), (e) => { log(`error=${e && e.stack ? e.stack : e}`); process.exit(2); });
