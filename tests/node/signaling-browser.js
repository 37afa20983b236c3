// A 1:1 call through palaverd's kwm signaling in a real browser with HTTP/2 on (Chromium's
// default): two users, each in a browser context of their own, sign in on the page (the sign-in
// API, then the code flow with PKCE), call rtm/connect with fetch, open the signaling WebSocket
// with `new WebSocket()` and wait for hello. The caller rings the callee by the id of the callee's
// hello; the callee sees the ring and accepts; then a real SDP offer made by the caller's
// RTCPeerConnection goes to the callee, whose RTCPeerConnection answers through the same path.
// Everything the pages send goes through the browser's own network stack, as the Meet app's would.
//
// usage: node signaling-browser.js <issuer> <ca.pem> <caller>:<password> <callee>:<password> [--chromium-arg ARG]...
// Prints one JSON object with what it saw (also on failure, with `error` and the step that
// failed); exits 0 when the call went through, 1 when a step failed, 3 on the hard timeout.
//
// Certificates: Node checks the server's certificate against the test CA for `localhost`, and
// Chromium is told to accept exactly that key and the CA's (--ignore-certificate-errors-spki-list)
// rather than ignoring certificate errors, so that the browser treats the origin as it would a
// trusted one. The browser is kept on loopback (dead proxy for everything else).
'use strict';

const fs = require('fs');
const os = require('os');
const path = require('path');
const { chromium } = require('playwright-core');

const HARD_MS = 45000;  // the whole run; the Python wrapper allows a little more
const STEP_MS = 8000;   // any single step
const OPEN_MS = 5000;   // kwmjs's WebSocket open timeout (shared/specs/kwm-protocol.md §3.2)

function parseArgs(argv) {
  const pos = [];
  const chromiumArgs = [];
  for (let i = 0; i < argv.length; i++) {
    if (argv[i] === '--chromium-arg' && i + 1 < argv.length) chromiumArgs.push(argv[++i]);
    else pos.push(argv[i]);
  }
  if (pos.length !== 4) {
    process.stderr.write('usage: node signaling-browser.js <issuer> <ca.pem> <user>:<password> <user>:<password> ' +
                         '[--chromium-arg ARG]...\n');
    process.exit(2);
  }
  const cred = (s) => ({ user: s.slice(0, s.indexOf(':')), password: s.slice(s.indexOf(':') + 1) });
  return { iss: pos[0].replace(/\/$/, ''), ca: pos[1], caller: cred(pos[2]), callee: cred(pos[3]), chromiumArgs };
}

// base64(SHA-256(SPKI)) of the CA certificate(s) and of the leaf palaverd presents (lib/meet.js).
const { trustedSpkis } = require('./lib/meet');

// The kwm client that runs in each page (installed with page.evaluate). Messages are kept in an
// inbox; next(match) takes the first unseen one whose fields equal those of `match`.
function installClient() {
  const V = 20180703;
  const b64url = (bytes) => btoa(String.fromCharCode(...new Uint8Array(bytes)))
    .replace(/=+$/, '').replace(/\+/g, '-').replace(/\//g, '_');
  const matches = (m, pattern) => Object.entries(pattern).every(([k, v]) =>
    (v !== null && typeof v === 'object') ? (m[k] !== null && typeof m[k] === 'object' && matches(m[k], v)) : m[k] === v);
  const k = {
    V, inbox: [], waiters: [], ws: null, hello: null, closed: null, lastId: 0, pc: null,

    // The sign-in API (as the sign-in page posts it), then authorize with prompt=none and the
    // token endpoint (as kpop does): the browser's cookies carry the session in between.
    async signIn(user, password) {
      const logon = await fetch('/signin/v1/identifier/_/logon', {
        method: 'POST', credentials: 'same-origin',
        headers: { 'Content-Type': 'application/json', 'Kopano-Konnect-XSRF': '1' },
        body: JSON.stringify({ state: 'e2e', params: [user, password, '1'] }),
      });
      if (logon.status !== 200) throw new Error(`sign-in logon: HTTP ${logon.status} ${(await logon.text()).slice(0, 200)}`);
      const verifier = b64url(crypto.getRandomValues(new Uint8Array(32)));
      const challenge = b64url(await crypto.subtle.digest('SHA-256', new TextEncoder().encode(verifier)));
      const redirect = `${location.origin}/meet/`;
      const clientId = `kpop-${redirect}`;
      const params = new URLSearchParams({
        client_id: clientId, redirect_uri: redirect, response_type: 'code', scope: 'openid profile email kopano/kwm kopano/gc kopano/kvs',
        state: 'e2e-state', nonce: 'e2e-nonce', code_challenge: challenge, code_challenge_method: 'S256', prompt: 'none',
        claims: JSON.stringify({ id_token: { name: null } }),
      });
      const auth = await fetch(`/signin/v1/identifier/_/authorize?${params}`, { credentials: 'same-origin' });
      const code = new URL(auth.url).searchParams.get('code');
      if (!code) throw new Error(`authorize: HTTP ${auth.status}, ended at ${new URL(auth.url).pathname}${new URL(auth.url).search.replace(/code=[^&]*/, 'code=…')}`);
      const token = await fetch('/konnect/v1/token', {
        method: 'POST', headers: { 'Content-Type': 'application/x-www-form-urlencoded' },
        body: new URLSearchParams({ grant_type: 'authorization_code', code, client_id: clientId, redirect_uri: redirect,
                                    code_verifier: verifier }),
      });
      if (token.status !== 200) throw new Error(`token: HTTP ${token.status} ${(await token.text()).slice(0, 200)}`);
      k.tokens = await token.json();
      return { scope: k.tokens.scope || new URL(auth.url).searchParams.get('scope') };
    },

    // rtm/connect as kwmjs sends it, then the WebSocket; resolves with hello. Like kwmjs, gives
    // the WebSocket OPEN_MS to open (then closes it and fails).
    async open(OPEN_MS) {
      const res = await fetch('/api/kwm/v2/rtm/connect', {
        method: 'POST',
        headers: { 'Content-Type': 'application/x-www-form-urlencoded; charset=UTF-8',
                   Authorization: `${k.tokens.token_type || 'Bearer'} ${k.tokens.access_token}` },
        body: new URLSearchParams({ id_token: k.tokens.id_token }),
      });
      if (res.status !== 200) throw new Error(`rtm/connect: HTTP ${res.status} ${(await res.text()).slice(0, 200)}`);
      const connect = await res.json();
      const url = new URL(connect.url, location.href);
      url.protocol = url.protocol === 'https:' ? 'wss:' : 'ws:';
      const events = [];
      const t0 = performance.now();
      let openMs = null;
      k.hello = await new Promise((resolve, reject) => {
        const ws = new WebSocket(url.href);
        k.ws = ws;
        const timer = setTimeout(() => {
          reject(new Error(`the WebSocket did not open within ${OPEN_MS} ms (kwmjs's open timeout), ` +
                           `events [${events.join(', ')}]`));
          ws.close();
        }, OPEN_MS);
        ws.onopen = () => { openMs = Math.round(performance.now() - t0); clearTimeout(timer); events.push('open'); };
        ws.onerror = () => events.push('error');
        ws.onclose = (e) => {
          clearTimeout(timer);
          k.closed = { code: e.code, reason: e.reason, wasClean: e.wasClean };
          events.push(`close ${e.code}`);
          reject(new Error(`WebSocket closed before hello: events [${events.join(', ')}], ` +
                           `code ${e.code}${e.reason ? ` reason "${e.reason}"` : ''}`));
          for (const w of k.waiters.splice(0)) w.check();
        };
        ws.onmessage = (e) => {
          const m = JSON.parse(e.data);
          if (!k.hello && m.type === 'hello') resolve(m); else k.inbox.push(m);
          for (const w of [...k.waiters]) w.check();
        };
      });
      return { connect_ok: connect.ok, url_path: url.pathname.replace(/[^/]+$/, '<key>'), open_ms: openMs, hello: k.hello };
    },

    send(msg) {
      k.lastId += 1;
      k.ws.send(JSON.stringify({ id: k.lastId, ...msg }));
      return k.lastId;
    },

    next(pattern, ms, what) {
      return new Promise((resolve, reject) => {
        const w = {
          check: () => {
            const i = k.inbox.findIndex((m) => matches(m, pattern));
            if (i >= 0) {
              clearTimeout(w.timer);
              k.waiters.splice(k.waiters.indexOf(w), 1);
              resolve(k.inbox.splice(i, 1)[0]);
            } else if (k.closed) {
              clearTimeout(w.timer);
              k.waiters.splice(k.waiters.indexOf(w), 1);
              reject(new Error(`WebSocket closed (${k.closed.code}) while waiting for ${what}`));
            }
          },
        };
        w.timer = setTimeout(() => {
          k.waiters.splice(k.waiters.indexOf(w), 1);
          reject(new Error(`timeout waiting for ${what}; inbox: ${JSON.stringify(k.inbox).slice(0, 400)}`));
        }, ms);
        k.waiters.push(w);
        w.check();
      });
    },

    // A real offer and answer from the browser's WebRTC stack (a data channel, no media).
    async makeOffer() {
      k.pc = new RTCPeerConnection();
      k.pc.createDataChannel('e2e');
      const offer = await k.pc.createOffer();
      await k.pc.setLocalDescription(offer);
      return { type: offer.type, sdp: offer.sdp };
    },
    async makeAnswer(offer) {
      k.pc = new RTCPeerConnection();
      await k.pc.setRemoteDescription(offer);
      const answer = await k.pc.createAnswer();
      await k.pc.setLocalDescription(answer);
      return { type: answer.type, sdp: answer.sdp };
    },
    async takeAnswer(answer) {
      await k.pc.setRemoteDescription(answer);
      return k.pc.signalingState;
    },

    // How the browser reached the server: the document and every request to the kwm API.
    protocols() {
      const nav = performance.getEntriesByType('navigation')[0];
      const api = performance.getEntriesByType('resource').filter((e) => e.name.includes('/api/kwm/'))
        .map((e) => e.nextHopProtocol);
      return { navigation: nav ? nav.nextHopProtocol : null, kwm_api: [...new Set(api)] };
    },

    close() {
      if (k.ws) k.ws.close();
      if (k.pc) k.pc.close();
    },
  };
  window.kwm = k;
  return true;
}

// What Chromium's network stack did with each WebSocket handshake, from its net log: whether it
// went as an RFC 8441 extended CONNECT on an HTTP/2 connection or as an HTTP/1.1 Upgrade, the
// response, stream errors, and retries of the request after an error. (The page cannot see any of
// this: a WebSocket that opens at the second try looks the same as one that opened at once.)
function websocketHandshakes(file) {
  const text = fs.readFileSync(file, 'utf8');
  let log;
  try {
    log = JSON.parse(text);
  } catch {
    log = JSON.parse(`${text.replace(/[,\s]*$/, '')}]}`);  // a log the browser did not finish
  }
  const types = Object.fromEntries(Object.entries(log.constants.logEventTypes).map(([k, v]) => [v, k]));
  const requests = new Map();
  for (const e of log.events) {
    const t = types[e.type];
    const p = e.params || {};
    if (t === 'REQUEST_ALIVE' && /^wss?:/.test(p.url || '')) {
      requests.set(e.source.id, { url: redact(p.url), h2_extended_connect: 0, http1_upgrade: 0, responses: [],
                                  stream_errors: [], restarts_after_error: [] });
      continue;
    }
    const r = requests.get(e.source.id);
    if (!r) continue;
    const headers = p.headers || [];
    if (t === 'HTTP_TRANSACTION_HTTP2_SEND_REQUEST_HEADERS' && headers.some((h) => /^:protocol: websocket$/i.test(h))) r.h2_extended_connect += 1;
    else if (t === 'HTTP_TRANSACTION_SEND_REQUEST_HEADERS' && headers.some((h) => /^upgrade: websocket$/i.test(h))) r.http1_upgrade += 1;
    else if (t === 'HTTP_TRANSACTION_READ_RESPONSE_HEADERS') r.responses.push(headers.find((h) => /^(HTTP\/|:status)/.test(h)) || headers[0]);
    else if (t === 'HTTP2_STREAM_ERROR') r.stream_errors.push(`${p.net_error} (${p.description})`);
    else if (t === 'HTTP_TRANSACTION_RESTART_AFTER_ERROR') r.restarts_after_error.push(p.net_error);
  }
  const netErrors = log.constants.netError || {};
  const name = (n) => Object.keys(netErrors).find((k) => netErrors[k] === n) || n;
  return [...requests.values()].map((r) => ({ ...r, restarts_after_error: r.restarts_after_error.map(name) }));
}

const redact = (s) => String(s).replace(/(websocket\/)[A-Za-z0-9_-]{8,}/g, '$1<key>')
  .replace(/(code=)[^&\s'"]+/g, '$1…');

function withTimeout(promise, ms, what) {
  let timer;
  return Promise.race([promise, new Promise((_, reject) => {
    timer = setTimeout(() => reject(new Error(`timeout after ${ms} ms: ${what}`)), ms);
  })]).finally(() => clearTimeout(timer));
}

async function main() {
  const opt = parseArgs(process.argv.slice(2));
  const out = { step: 'start', console: [] };
  const hard = setTimeout(() => {
    out.error = `hard timeout ${HARD_MS} ms in step ${out.step}`;
    process.stdout.write(JSON.stringify(out) + '\n');
    process.exit(3);
  }, HARD_MS);
  hard.unref();
  let browser = null;
  let code = 0;
  const logDir = fs.mkdtempSync(path.join(os.tmpdir(), 'palaver-signaling-browser-'));
  const netLog = path.join(logDir, 'netlog.json');
  try {
    out.step = 'certificates';
    const spkis = await trustedSpkis(opt.ca, opt.iss);
    out.step = 'launch';
    browser = await withTimeout(chromium.launch({
      executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
      headless: true,
      args: ['--no-sandbox', '--disable-gpu', '--no-first-run', '--disable-background-networking',
             '--disable-component-update', '--disable-sync', '--disable-default-apps', '--disable-extensions',
             '--proxy-server=http://127.0.0.1:9', '--proxy-bypass-list=<-loopback>;localhost;127.0.0.1',
             // localhost is the name on palaverd's certificate; only 127.0.0.1 listens.
             '--host-resolver-rules=MAP localhost 127.0.0.1',
             `--ignore-certificate-errors-spki-list=${spkis.join(',')}`,
             `--log-net-log=${netLog}`,
             ...opt.chromiumArgs],
    }), 15000, 'launching Chromium');
    out.browser = browser.version();
    const pages = {};
    for (const role of ['caller', 'callee']) {
      out.step = `${role}: open page`;
      const context = await browser.newContext({ locale: 'en-US' });
      context.setDefaultTimeout(STEP_MS);
      const page = await context.newPage();
      page.on('console', (m) => out.console.push(`${role}: ${m.type()}: ${redact(m.text())}`));
      page.on('pageerror', (e) => out.console.push(`${role}: pageerror: ${redact(e.message)}`));
      // A same-origin page of palaverd's that runs no app of its own (/meet/ is the Meet app now,
      // which would sign in and navigate away under the test).
      const resp = await page.goto(`${opt.iss}/healthz`);
      out[`${role}_page_status`] = resp && resp.status();
      await page.evaluate(installClient);
      pages[role] = page;
    }
    const inPage = (role, what, fn, arg) => {
      out.step = `${role}: ${what}`;
      return withTimeout(pages[role].evaluate(fn, arg), STEP_MS, out.step);
    };

    for (const role of ['caller', 'callee']) {
      const { user, password } = opt[role];
      out[`${role}_scope`] = (await inPage(role, 'sign in', ([u, p]) => window.kwm.signIn(u, p), [user, password])).scope;
    }
    // The protocol the pages were loaded with, before the WebSocket is tried (a failure must
    // still tell whether the browser was on HTTP/2).
    out.protocols = {};
    for (const role of ['caller', 'callee']) out.protocols[role] = await inPage(role, 'protocols', () => window.kwm.protocols());
    for (const role of ['caller', 'callee']) {
      const r = await inPage(role, 'rtm/connect and WebSocket', (ms) => window.kwm.open(ms), OPEN_MS);
      out[`${role}_ws_open_ms`] = r.open_ms;
      out[`${role}_hello`] = { type: r.hello.type, id: r.hello.self && r.hello.self.id, name: r.hello.self && r.hello.self.name };
      out.ws_path = r.url_path;
    }
    for (const role of ['caller', 'callee']) out.protocols[role] = await inPage(role, 'protocols', () => window.kwm.protocols());

    const A = out.caller_hello.id;
    const B = out.callee_hello.id;
    // The caller rings the callee by the id the callee's hello named.
    const callId = await inPage('caller', 'send call', (target) => window.kwm.send({
      type: 'webrtc', subtype: 'webrtc_call', target, initiator: true, state: 'sA', channel: '', group: '', hash: '',
      transaction: '', v: window.kwm.V }), B);
    const channel = await inPage('caller', 'wait for the call channel', (id) =>
      window.kwm.next({ type: 'webrtc', subtype: 'webrtc_channel', reply_to: id }, 5000, 'webrtc_channel'), callId);
    out.channel = { channel: channel.channel, has_hash: Boolean(channel.hash) };
    const ring = await inPage('callee', 'wait for the ring', (src) =>
      window.kwm.next({ type: 'webrtc', subtype: 'webrtc_call', source: src }, 5000, 'the ring (webrtc_call)'), A);
    out.ring = { subtype: ring.subtype, source: ring.source, target: ring.target, initiator: ring.initiator,
                 channel: ring.channel, same_hash: ring.hash === channel.hash, state: ring.state, profile: ring.profile };
    // The callee accepts.
    await inPage('callee', 'send accept', (r) => window.kwm.send({
      type: 'webrtc', subtype: 'webrtc_call', target: r.source, initiator: false, state: 'sB', channel: r.channel,
      group: '', hash: r.hash, transaction: '', data: { accept: true, state: r.state }, v: window.kwm.V }), ring);
    const accept = await inPage('caller', 'wait for the accept', (src) =>
      window.kwm.next({ type: 'webrtc', subtype: 'webrtc_call', source: src }, 5000, 'the accept (webrtc_call)'), B);
    out.accept = { source: accept.source, channel: accept.channel, data: accept.data, profile: accept.profile,
                   same_hash: accept.hash === channel.hash };
    // The caller's real SDP offer, then the callee's real answer, through palaverd.
    const offer = await inPage('caller', 'create the offer', () => window.kwm.makeOffer());
    await inPage('caller', 'send the offer', ([target, ch, data]) => window.kwm.send({
      type: 'webrtc', subtype: 'webrtc_signal', target, state: 'sA', channel: ch.channel, group: '', hash: ch.hash,
      pcid: 'pc-caller', data, v: window.kwm.V }), [B, channel, offer]);
    const offerIn = await inPage('callee', 'wait for the offer', (src) =>
      window.kwm.next({ type: 'webrtc', subtype: 'webrtc_signal', source: src }, 5000, 'the offer (webrtc_signal)'), A);
    out.offer = { source: offerIn.source, pcid: offerIn.pcid, type: offerIn.data && offerIn.data.type,
                  sdp_intact: Boolean(offerIn.data) && offerIn.data.sdp === offer.sdp };
    const answer = await inPage('callee', 'answer the offer', (m) => window.kwm.makeAnswer(m.data), offerIn);
    await inPage('callee', 'send the answer', ([target, ch, data]) => window.kwm.send({
      type: 'webrtc', subtype: 'webrtc_signal', target, state: 'sB', channel: ch.channel, group: '', hash: ch.hash,
      pcid: 'pc-callee', data, v: window.kwm.V }), [A, channel, answer]);
    const answerIn = await inPage('caller', 'wait for the answer', (src) =>
      window.kwm.next({ type: 'webrtc', subtype: 'webrtc_signal', source: src }, 5000, 'the answer (webrtc_signal)'), B);
    out.answer = { source: answerIn.source, type: answerIn.data && answerIn.data.type,
                   sdp_intact: Boolean(answerIn.data) && answerIn.data.sdp === answer.sdp };
    out.caller_signaling_state = await inPage('caller', 'apply the answer', (d) => window.kwm.takeAnswer(d), answerIn.data);
    for (const role of ['caller', 'callee']) await inPage(role, 'close', () => window.kwm.close());
    out.step = 'done';
  } catch (e) {
    out.error = redact(e.message || e).split('\n')[0];
    code = 1;
  } finally {
    if (browser) await withTimeout(browser.close(), 5000, 'closing Chromium').catch(() => {});
    try {
      out.ws_handshakes = websocketHandshakes(netLog);
    } catch (e) {
      out.netlog_error = String(e.message || e);
    }
    fs.rmSync(logDir, { recursive: true, force: true });
  }
  process.stdout.write(JSON.stringify(out) + '\n');
  process.exit(code);
}

main().catch((e) => {
  process.stderr.write(`signaling-browser: ${e.stack || e}\n`);
  process.exit(4);
});
