// Helpers for the Meet web app's end-to-end tests (tests/node/meet-*.js): Debian's Chromium
// through playwright-core with fake camera and microphone, trusting palaverd's certificate by
// its key (so that the service worker registers, as for a real certificate), kept on loopback.
'use strict';

const crypto = require('crypto');
const fs = require('fs');
const tls = require('tls');
const { chromium } = require('playwright-core');

const spkiHash = (x509) => crypto.createHash('sha256').update(x509.publicKey.export({ type: 'spki', format: 'der' })).digest('base64');

// SPKI hashes of the CA file's certificates and of the leaf palaverd serves for `iss`.
async function trustedSpkis(caFile, iss) {
  const caPem = fs.readFileSync(caFile, 'utf8');
  const hashes = new Set((caPem.match(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g) || [])
    .map((b) => spkiHash(new crypto.X509Certificate(b))));
  const u = new URL(iss);
  const leaf = await new Promise((resolve, reject) => {
    const sock = tls.connect({ host: '127.0.0.1', port: Number(u.port || 443), ca: caPem, servername: u.hostname,
                               checkServerIdentity: (_, cert) => tls.checkServerIdentity(u.hostname, cert) });
    sock.setTimeout(5000, () => sock.destroy(new Error('TLS handshake timeout')));
    sock.once('secureConnect', () => { const x = sock.getPeerX509Certificate(); sock.destroy(); resolve(x); });
    sock.once('error', (e) => reject(new Error(`${u.host}: ${e.message}`)));
  });
  hashes.add(spkiHash(leaf));
  return [...hashes];
}

// Launches Chromium for Meet tests. `extraArgs` go last (e.g. a fake capture source).
async function launch({ iss, ca, extraArgs = [] }) {
  const spkis = await trustedSpkis(ca, iss);
  return chromium.launch({
    executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
    headless: true,
    args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking',
           '--disable-component-update', '--disable-sync', '--disable-default-apps', '--disable-extensions',
           '--use-fake-device-for-media-stream', '--use-fake-ui-for-media-stream', '--autoplay-policy=no-user-gesture-required',
           '--proxy-server=http://127.0.0.1:9', '--proxy-bypass-list=<-loopback>;localhost;127.0.0.1',
           '--host-resolver-rules=MAP localhost 127.0.0.1, MAP localhost. 127.0.0.1, MAP * ~NOTFOUND, EXCLUDE 127.0.0.1',
           `--ignore-certificate-errors-spki-list=${spkis.join(',')}`,
           ...extraArgs],
  });
}

// A browser context (one "device") whose page log is kept for failure reports.
async function newPage(browser, { locale = 'en-US', viewport, permissions = ['camera', 'microphone'], origin } = {}) {
  const context = await browser.newContext({ locale, viewport, permissions, ...(origin ? {} : {}) });
  context.setDefaultTimeout(20000);
  const page = await context.newPage();
  page.log = [];
  page.on('console', (m) => page.log.push(`${m.type()}: ${m.text()}`));
  page.on('pageerror', (e) => page.log.push(`pageerror: ${e.message}`));
  return page;
}

// Opens the app and signs in through palaverd's sign-in page; resolves when the main screen shows.
async function signIn(page, iss, username, password, path = '/meet/') {
  await page.goto(iss + path);
  await page.waitForURL(/\/signin\/v1\/identifier/);
  await page.fill('#username', username);
  await page.fill('#password', password);
  await Promise.all([page.waitForURL((u) => u.pathname.startsWith('/meet/') && !u.pathname.endsWith('oidc-callback')),
                     page.press('#password', 'Enter')]);
  await page.waitForSelector('[data-testid=user-name]');
}

// Runs `fn`, bounded by `ms`.
function withTimeout(promise, ms, what) {
  let timer;
  return Promise.race([promise, new Promise((_, reject) => { timer = setTimeout(() => reject(new Error(`timeout: ${what}`)), ms); })])
    .finally(() => clearTimeout(timer));
}

// The call engine's signaling / peer-connection trace of each page (window.__palaverDebug.trace(),
// webui/meet/src/call/trace.ts: message shapes and states, no SDP, no credentials), keyed by `names`.
// Written to $PALAVER_MESH_TRACE/<label>-<time>.json when that directory is set; returned compact
// (ICE candidates and gathering left out, the last `keep` entries per page) for failure reports.
async function collectTraces(pages, names, label, keep = 120) {
  const all = {};
  for (let i = 0; i < pages.length; i++) {
    all[names[i] || `page${i}`] = await pages[i].evaluate(() => (window.__palaverDebug && window.__palaverDebug.trace
      ? window.__palaverDebug.trace() : null)).catch(() => null);
  }
  const dir = process.env.PALAVER_MESH_TRACE;
  if (dir) {
    fs.mkdirSync(dir, { recursive: true });
    fs.writeFileSync(`${dir}/${label}-${Date.now()}.json`, JSON.stringify(all));
  }
  const compact = {};
  for (const [who, list] of Object.entries(all)) {
    compact[who] = (list || []).filter((e) => !/^candidate/.test(String(e.data || '')) && e.what !== 'gathering')
      .slice(-keep).map((e) => `${e.t} ${e.k} ${e.what} ${JSON.stringify(Object.fromEntries(Object.entries(e).filter(([k]) => !['t', 'k', 'what'].includes(k))))}`);
  }
  return compact;
}

/**
 * Runs a one-shot browser script the Python suites call: `body()` within `budgetMs`; `out` gets
 * step "done", or the error and the page's last console lines (exit code 1); the browser is
 * closed either way and `out` is printed as one JSON line. `current()` gives the script's
 * { browser, page } at the moment (either may be unset yet).
 */
function runScript(name, budgetMs, out, current, body) {
  const main = async () => {
    try {
      await body();
      out.step = 'done';
    } catch (e) {
      const { page } = current();
      out.error = e.message;
      out.console = page && page.log ? page.log.slice(-20) : [];
      process.exitCode = 1;
    } finally {
      const { browser } = current();
      if (browser) await browser.close();
    }
    console.log(JSON.stringify(out));
  };
  return withTimeout(main(), budgetMs, name).catch((e) => {
    console.log(JSON.stringify({ ...out, error: e.message }));
    process.exit(1);
  });
}

module.exports = { launch, newPage, signIn, withTimeout, runScript, trustedSpkis, collectTraces };
