// WebRTC media through palaverd's TURN server in a real browser (Debian's Chromium through
// playwright-core), relay-only, one TURN URI per case: two RTCPeerConnections in one page, the
// fake camera and microphone from one to the other, iceTransportPolicy "relay" and a single
// iceServers entry. A case passes when video frames are decoded and getStats() shows, on both
// connections, a selected candidate pair relay/relay whose local candidate was allocated through
// the URI under test with the expected relayProtocol (udp, tcp, tls).
//
// usage: node turn-relay.js --secret-file PATH [--ca PATH] [--frames N] [--hold-ms MS]
//                           [--timeout-ms MS] CASE... [--wrong CASE...]
//   CASE = name=URI, e.g. udp=turn:localhost:3478?transport=udp, tls=turns:localhost:5349?transport=tcp
//   cases after --wrong use a wrong password and must NOT connect (negative control).
//   --secret-file  the TURN REST secret (palaverd's <state_dir>/turn_secret); --secret S also works
//   --ca           palaverd's CA certificate (PEM), needed for turns: cases: Node checks each TLS
//                  listener's certificate against it (for the URI's host name), and Chromium is
//                  told to accept exactly those keys (see tlsArgs below)
//   --frames N     decoded video frames a case needs (default 10)
//   --hold-ms MS   then keep each call up this long; frames must keep coming (at least 5 per
//                  second) and ICE stay connected (default 0)
//   --timeout-ms   per case, to reach the frames (default 12000; the hold comes on top)
//
// Prints one JSON object per case on stdout; exits 0 only if every case came out as expected
// (1: a case did not, 2: usage, 3: hard timeout, 4: crash).
//
// The browser is kept on loopback: no host name resolves except localhost/127.0.0.1, and any
// non-loopback HTTP would go to a dead proxy (loopback bypasses proxies implicitly).
'use strict';

const crypto = require('crypto');
const fs = require('fs');
const http = require('http');
const net = require('net');
const os = require('os');
const path = require('path');
const tls = require('tls');
const { chromium } = require('playwright-core');

function usage(msg) {
  process.stderr.write(`turn-relay: ${msg}\nusage: node turn-relay.js --secret-file PATH [--ca PATH] ` +
                       '[--frames N] [--hold-ms MS] [--timeout-ms MS] name=URI... [--wrong name=URI...]\n');
  process.exit(2);
}

function parseArgs(argv) {
  const o = { secret: null, ca: null, frames: 10, holdMs: 0, timeoutMs: 12000, failHoldMs: 2000, cases: [] };
  let wrong = false;
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const value = () => { if (i + 1 >= argv.length) usage(`${a} needs a value`); return argv[++i]; };
    if (a === '--secret-file') o.secret = fs.readFileSync(value(), 'utf8').trim();
    else if (a === '--secret') o.secret = value();
    else if (a === '--ca') o.ca = value();
    else if (a === '--frames') o.frames = Number(value());
    else if (a === '--hold-ms') o.holdMs = Number(value());
    else if (a === '--timeout-ms') o.timeoutMs = Number(value());
    else if (a === '--wrong') wrong = true;
    else if (/^[\w.-]+=(turns?):/.test(a)) {
      const eq = a.indexOf('=');
      o.cases.push({ name: a.slice(0, eq), url: a.slice(eq + 1), wrongPassword: wrong });
    } else usage(`unknown argument ${a}`);
  }
  if (!o.secret) usage('--secret-file or --secret is required');
  if (!o.cases.length) usage('no cases');
  for (const c of o.cases) {
    const m = /^(turns?):(\[[^\]]+\]|[^:?]+):(\d+)\?transport=(udp|tcp)$/.exec(c.url);
    if (!m) usage(`cannot read TURN URI ${c.url}`);
    // Loopback only: this is a test, and the browser is fenced in anyway.
    if (!/^(localhost|127\.\d+\.\d+\.\d+|\[::1\])$/.test(m[2])) usage(`refusing non-loopback TURN host ${m[2]}`);
    c.expectRelayProtocol = m[1] === 'turns' ? 'tls' : m[4];
    c.host = m[2].replace(/^\[|\]$/g, '');
    c.port = Number(m[3]);
    if (m[1] === 'turns' && !o.ca) usage(`${c.name}: turns: cases need --ca`);
  }
  return o;
}

function restCredentials(secret, user, ttlSeconds = 3600) {
  const username = `${Math.floor(Date.now() / 1000) + ttlSeconds}:${user}`;
  const credential = crypto.createHmac('sha1', secret).update(username).digest('base64');
  return { username, credential };
}

const spkiHash = (x509) => crypto.createHash('sha256')
  .update(x509.publicKey.export({ type: 'spki', format: 'der' })).digest('base64');

// base64(SHA-256(SubjectPublicKeyInfo)) of the CA certificate(s) and of the certificate each TLS
// listener presents — the form --ignore-certificate-errors-spki-list wants. The listener's chain is
// verified here against the CA for the URI's host name, so only a certificate that a browser
// trusting palaverd's CA would accept gets through.
async function trustedSpkis(caFile, cases) {
  const caPem = fs.readFileSync(caFile, 'utf8');
  const hashes = new Set((caPem.match(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g) || [])
    .map((b) => spkiHash(new crypto.X509Certificate(b))));
  for (const c of cases.filter((x) => x.expectRelayProtocol === 'tls')) {
    const leaf = await new Promise((resolve, reject) => {
      const sock = tls.connect({ host: '127.0.0.1', port: c.port, ca: caPem, servername: net.isIP(c.host) ? undefined : c.host,
                                 checkServerIdentity: (_, cert) => tls.checkServerIdentity(c.host, cert) });
      sock.setTimeout(5000, () => sock.destroy(new Error(`${c.name}: TLS handshake timeout`)));
      sock.once('secureConnect', () => { const x = sock.getPeerX509Certificate(); sock.destroy(); resolve(x); });
      sock.once('error', (e) => reject(new Error(`${c.name}: ${c.host}:${c.port}: ${e.message}`)));
    });
    hashes.add(spkiHash(leaf));
  }
  return [...hashes];
}

// The page: everything runs inside runCase(cfg), called through page.evaluate().
const PAGE = `<!doctype html>
<html><head><meta charset="utf-8"><title>turn-relay</title></head>
<body><video id="remote" autoplay playsinline muted></video>
<script>
'use strict';
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

async function selectedPair(pc) {
  const stats = await pc.getStats();
  let pairId = null;
  const local = [];
  let video = null;
  stats.forEach((s) => {
    if (s.type === 'transport' && s.selectedCandidatePairId) pairId = s.selectedCandidatePairId;
    if (s.type === 'local-candidate') {
      local.push({ type: s.candidateType, protocol: s.protocol, relayProtocol: s.relayProtocol || null,
                   address: s.address, port: s.port, url: s.url || null });
    }
    if (s.type === 'inbound-rtp' && s.kind === 'video') {
      video = { framesDecoded: s.framesDecoded || 0, bytesReceived: s.bytesReceived || 0,
                packetsReceived: s.packetsReceived || 0, packetsLost: s.packetsLost || 0,
                width: s.frameWidth || 0, height: s.frameHeight || 0 };
    }
  });
  let pair = null;
  if (pairId && stats.get(pairId)) {
    const p = stats.get(pairId);
    const l = stats.get(p.localCandidateId) || {};
    const r = stats.get(p.remoteCandidateId) || {};
    pair = { state: p.state, bytesSent: p.bytesSent, bytesReceived: p.bytesReceived,
             rttMs: p.currentRoundTripTime != null ? Math.round(p.currentRoundTripTime * 10000) / 10 : null,
             local: { type: l.candidateType, protocol: l.protocol, relayProtocol: l.relayProtocol || null,
                      address: l.address, port: l.port, url: l.url || null },
             remote: { type: r.candidateType, protocol: r.protocol, address: r.address, port: r.port } };
  }
  return { pair, local, video };
}

window.runCase = async function (cfg) {
  const t0 = performance.now();
  const ms = () => Math.round(performance.now() - t0);
  const events = {};
  const mark = (k) => { if (!(k in events)) events[k] = ms(); };
  const candErrors = [];
  const pcConfig = { iceServers: [cfg.iceServer], iceTransportPolicy: 'relay', bundlePolicy: 'max-bundle' };
  const a = new RTCPeerConnection(pcConfig);
  const b = new RTCPeerConnection(pcConfig);
  let failed = false;
  for (const [pc, name] of [[a, 'sender'], [b, 'receiver']]) {
    pc.addEventListener('icecandidateerror', (e) => {
      candErrors.push({ pc: name, url: e.url, code: e.errorCode, text: e.errorText });
    });
    pc.addEventListener('icegatheringstatechange', () => { if (pc.iceGatheringState === 'complete') mark(name + '_gathered'); });
    pc.addEventListener('iceconnectionstatechange', () => {
      const s = pc.iceConnectionState;
      if (s === 'connected' || s === 'completed') mark(name + '_ice_connected');
      if (s === 'failed') { mark(name + '_ice_failed'); failed = true; }
    });
  }
  a.onicecandidate = (e) => { if (e.candidate) b.addIceCandidate(e.candidate).catch(() => {}); };
  b.onicecandidate = (e) => { if (e.candidate) a.addIceCandidate(e.candidate).catch(() => {}); };
  b.ontrack = (e) => { document.getElementById('remote').srcObject = e.streams[0]; };
  const stream = await navigator.mediaDevices.getUserMedia({ audio: true, video: { width: 320, height: 240 } });
  mark('got_media');
  stream.getTracks().forEach((t) => a.addTrack(t, stream));
  await a.setLocalDescription(await a.createOffer());
  await b.setRemoteDescription(a.localDescription);
  await b.setLocalDescription(await b.createAnswer());
  await a.setRemoteDescription(b.localDescription);
  mark('sdp_done');

  // Wait for cfg.frames decoded frames, ICE failure, or the deadline. A case that is expected to
  // fail (wrong password) stops early once both sides have gathered and failHoldMs has passed.
  let rx = null;
  const deadline = t0 + cfg.timeoutMs;
  while (performance.now() < deadline && !failed) {
    rx = await selectedPair(b);
    if (rx.video && rx.video.framesDecoded > 0) mark('first_frame');
    if (rx.video && rx.video.framesDecoded >= cfg.frames) { mark('frames_done'); break; }
    // Gathering is over and one side has no (relay) candidate: nothing can connect any more.
    if (!cfg.expectFailure && 'sender_gathered' in events && 'receiver_gathered' in events &&
        (!rx.local.length || !(await selectedPair(a)).local.length)) {
      mark('no_candidates');
      break;
    }
    if (cfg.expectFailure && 'sender_gathered' in events && 'receiver_gathered' in events &&
        ms() > Math.max(events.sender_gathered, events.receiver_gathered) + cfg.failHoldMs) break;
    await sleep(50);
  }
  // Then keep the call up for holdMs: frames must keep coming (a relay connection that some
  // timeout cuts after a few seconds shows here).
  let hold = null;
  if (cfg.holdMs > 0 && 'frames_done' in events) {
    const before = (await selectedPair(b)).video.framesDecoded;
    const end = performance.now() + cfg.holdMs;
    while (performance.now() < end && !failed) await sleep(100);
    const after = (await selectedPair(b)).video.framesDecoded;
    hold = { ms: Math.round(performance.now() - end + cfg.holdMs), framesBefore: before, framesAfter: after };
  }
  rx = await selectedPair(b);
  const tx = await selectedPair(a);
  const result = { events, candErrors, receiver: rx, sender: tx, ice: [a.iceConnectionState, b.iceConnectionState],
                   hold, elapsedMs: ms() };
  a.close(); b.close();
  stream.getTracks().forEach((t) => t.stop());
  return result;
};
</script></body></html>`;

function startPageServer() {
  const server = http.createServer((req, res) => {
    if (req.url === '/') {
      res.writeHead(200, { 'content-type': 'text/html; charset=utf-8', 'cache-control': 'no-store' });
      res.end(PAGE);
    } else {
      res.writeHead(404);
      res.end();
    }
  });
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve(server));
  });
}

function withTimeout(p, ms, what) {
  let t;
  return Promise.race([p, new Promise((_, rej) => { t = setTimeout(() => rej(new Error(`${what}: timeout after ${ms} ms`)), ms); })])
    .finally(() => clearTimeout(t));
}

// What a case must show: relay/relay on both connections, the local candidate allocated through
// the URI under test over the expected protocol, and decoded frames.
function judge(c, r, frames, holdMs) {
  const problems = [];
  if (holdMs > 0) {
    const h = r.hold;
    const want = Math.floor(holdMs / 1000 * 5);
    if (!h) problems.push('no hold (frames never reached)');
    else if (h.framesAfter - h.framesBefore < want) {
      problems.push(`only ${h.framesAfter - h.framesBefore} frames decoded in the ${h.ms} ms hold, want >= ${want}`);
    }
    if (r.ice.some((s) => s !== 'connected' && s !== 'completed')) problems.push(`ICE ${r.ice.join('/')} after the hold`);
  }
  for (const side of ['sender', 'receiver']) {
    const p = r[side].pair;
    if (!p) { problems.push(`${side}: no selected candidate pair`); continue; }
    if (p.local.type !== 'relay' || p.remote.type !== 'relay') problems.push(`${side}: pair ${p.local.type}/${p.remote.type}`);
    if (p.local.relayProtocol !== c.expectRelayProtocol) {
      problems.push(`${side}: relayProtocol ${p.local.relayProtocol}, want ${c.expectRelayProtocol}`);
    }
    if (p.local.url !== c.url) problems.push(`${side}: local candidate url ${p.local.url}, want ${c.url}`);
    const nonRelay = r[side].local.filter((l) => l.type !== 'relay');
    if (nonRelay.length) problems.push(`${side}: non-relay local candidates ${JSON.stringify(nonRelay)}`);
  }
  const decoded = (r.receiver.video && r.receiver.video.framesDecoded) || 0;
  if (decoded < frames) problems.push(`frames decoded ${decoded} < ${frames}`);
  return problems;
}

async function main() {
  const opt = parseArgs(process.argv.slice(2));
  const t0 = Date.now();
  // Bounded: per case timeoutMs (+ slack for getUserMedia and page load), plus the launch.
  const hardMs = 20000 + opt.cases.length * (opt.timeoutMs + opt.holdMs + 3000);
  const hard = setTimeout(() => { process.stderr.write(`turn-relay: hard timeout ${hardMs} ms\n`); process.exit(3); }, hardMs);
  hard.unref();

  const server = await startPageServer();
  const base = `http://127.0.0.1:${server.address().port}/`;
  const profile = fs.mkdtempSync(path.join(os.tmpdir(), 'palaver-turn-relay-'));
  // TURN over TLS: Chromium's WebRTC TLS sockets (P2P sockets in the network service) check the
  // server certificate with the browser's ordinary certificate verifier: an untrusted CA fails the
  // candidate ("Failed to establish connection", error 701), and Playwright's ignoreHTTPSErrors
  // does not reach them. What works: --ignore-certificate-errors (everything), trusting the CA in
  // the NSS database under $HOME/.pki/nssdb (needs certutil), or, used here because it is exact,
  // --ignore-certificate-errors-spki-list with the keys Node verified above (honoured only with a
  // user data dir, hence the persistent context).
  const tlsArgs = opt.ca ? [`--ignore-certificate-errors-spki-list=${(await trustedSpkis(opt.ca, opt.cases)).join(',')}`] : [];
  let context = null;
  let allOk = true;
  try {
    context = await chromium.launchPersistentContext(profile, {
      executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
      headless: true,
      args: [
        '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking',
        '--disable-component-update', '--disable-sync', '--disable-default-apps', '--disable-extensions',
        '--use-fake-device-for-media-stream', '--use-fake-ui-for-media-stream',
        // Keep the browser on loopback: nothing resolves but localhost (the name on palaverd's
        // certificate, used in the TURN URIs) and non-loopback HTTP goes to a dead proxy
        // (loopback bypasses it implicitly). localhost maps to 127.0.0.1 only, where the TURN
        // listeners are, so every case takes the same path. (Left alone, Chromium tries ::1
        // first: refused by the TURN listeners, but accepted by the HTTPS one, which listens on
        // every address whatever [palaver] listen says.)
        // "localhost." too: the network service adds a dot to the names it resolves for WebRTC
        // UDP sockets. (An IPv6 network interface still reports one harmless "host lookup"
        // candidate error (701) per connection: there is no IPv6 address for localhost.)
        '--host-resolver-rules=MAP localhost 127.0.0.1, MAP localhost. 127.0.0.1, MAP * ~NOTFOUND, EXCLUDE 127.0.0.1',
        '--proxy-server=http://127.0.0.1:9',
        ...tlsArgs,
      ],
    });
    const launchMs = Date.now() - t0;
    for (const c of opt.cases) {
      const c0 = Date.now();
      const creds = restCredentials(opt.secret, `turn-relay-${c.name}`);
      if (c.wrongPassword) creds.credential = crypto.createHmac('sha1', 'not-the-secret').update(creds.username).digest('base64');
      const cfg = { iceServer: { urls: [c.url], username: creds.username, credential: creds.credential },
                    frames: opt.frames, holdMs: opt.holdMs, timeoutMs: opt.timeoutMs, failHoldMs: opt.failHoldMs, expectFailure: c.wrongPassword };
      const out = { case: c.name, url: c.url, wrong_password: c.wrongPassword, launch_ms: launchMs };
      let page = null;
      try {
        page = await context.newPage();
        await page.goto(base);
        const r = await withTimeout(page.evaluate((x) => window.runCase(x), cfg), opt.timeoutMs + opt.holdMs + 5000, c.name);
        const problems = judge(c, r, opt.frames, c.wrongPassword ? 0 : opt.holdMs);
        const p = r.receiver.pair;
        Object.assign(out, {
          relayed: problems.length === 0,
          problems,
          pair: p ? `${p.local.type}/${p.remote.type}` : 'none/none',
          relay_protocol: p ? p.local.relayProtocol : null,
          local_url: p ? p.local.url : null,
          local: p ? `${p.local.address}:${p.local.port}` : null,
          remote: p ? `${p.remote.address}:${p.remote.port}` : null,
          sender_pair: r.sender.pair ? `${r.sender.pair.local.type}/${r.sender.pair.remote.type} ` +
                       `${r.sender.pair.local.relayProtocol} ${r.sender.pair.local.url}` : 'none',
          frames_decoded: (r.receiver.video && r.receiver.video.framesDecoded) || 0,
          video_bytes: (r.receiver.video && r.receiver.video.bytesReceived) || 0,
          rtt_ms: p ? p.rttMs : null,
          ice: r.ice,
          first_frame_ms: r.events.first_frame ?? null,
          hold: r.hold,
          events: r.events,
          cand_errors: r.candErrors,
          page_ms: r.elapsedMs,
        });
      } catch (e) {
        Object.assign(out, { relayed: false, problems: [String(e.message || e)] });
      } finally {
        if (page) await page.close().catch(() => {});
      }
      out.wall_ms = Date.now() - c0;
      // The negative control must fail for the right reason: the server refused the credentials.
      out.ok = c.wrongPassword
        ? !out.relayed && !out.frames_decoded && (out.cand_errors || []).some((e) => e.code === 401 && e.url === c.url)
        : out.relayed;
      allOk = allOk && out.ok;
      process.stdout.write(JSON.stringify(out) + '\n');
    }
  } finally {
    if (context) await context.close().catch(() => {});
    server.close();
    fs.rmSync(profile, { recursive: true, force: true });
  }
  process.stderr.write(`turn-relay: ${allOk ? 'ok' : 'FAILED'} in ${Date.now() - t0} ms\n`);
  process.exit(allOk ? 0 : 1);
}

main().catch((e) => {
  process.stderr.write(`turn-relay: ${e.stack || e}\n`);
  process.exit(4);
});
