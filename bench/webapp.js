// The Meet web app's first screen in headless Chromium on loopback (bench/webapp.sh runs it):
//   bytes: JavaScript and CSS the browser fetches up to a usable main screen, gzip-compressed as
//          palaverd serves them (the .gz siblings; brotli alongside);
//   time:  navigation start → main screen usable (the app's `palaver:home-ready` mark: the view is
//          drawn and the recents and address book have answered), with 4× CPU throttling (CDP
//          Emulation.setCPUThrottlingRate) as a phone stand-in; cold (no HTTP cache, no service
//          worker) and warm (service worker and cache) runs; medians.
// usage: node bench/webapp.js <issuer> <ca file> <user> <password> <webui dir> [--runs N] [--throttle 4]
'use strict';

const fs = require('fs');
const path = require('path');
const zlib = require('zlib');
const { launch, newPage, signIn, withTimeout } = require('../tests/node/lib/meet');

const median = (xs) => { const s = [...xs].sort((a, b) => a - b); const m = s.length >> 1; return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2; };

function sizes(webui, urlPath) {
  const file = path.join(webui, urlPath);
  const raw = fs.readFileSync(file);
  const gz = fs.existsSync(file + '.gz') ? fs.statSync(file + '.gz').size : zlib.gzipSync(raw, { level: 9 }).length;
  const br = fs.existsSync(file + '.br') ? fs.statSync(file + '.br').size : zlib.brotliCompressSync(raw).length;
  return { raw: raw.length, gz, br };
}

async function loadOnce(page, iss, throttle, cold) {
  const cdp = await page.context().newCDPSession(page);
  await cdp.send('Network.enable');
  if (cold) {
    await page.evaluate(async () => {
      for (const r of await navigator.serviceWorker.getRegistrations()) await r.unregister();
      for (const k of await caches.keys()) await caches.delete(k);
    });
    await cdp.send('Network.clearBrowserCache');
  }
  const assets = new Map();
  const onResponse = (r) => {
    const type = r.request().resourceType();
    const u = new URL(r.url());
    if ((type === 'script' || type === 'stylesheet') && u.origin === new URL(iss).origin) assets.set(u.pathname, type);
  };
  page.on('response', onResponse);
  await cdp.send('Emulation.setCPUThrottlingRate', { rate: throttle });
  await page.goto(`${iss}/meet/r/call`, { waitUntil: 'commit' });
  await page.waitForSelector('[data-testid=home][data-ready=true]', { timeout: 60000 });
  const { ms, fcp } = await page.evaluate(() => ({
    ms: performance.getEntriesByName('palaver:home-ready')[0].startTime,
    fcp: (performance.getEntriesByName('first-contentful-paint')[0] || { startTime: 0 }).startTime,
  }));
  await cdp.send('Emulation.setCPUThrottlingRate', { rate: 1 });
  page.off('response', onResponse);
  await cdp.detach();
  return { ms, fcp, assets };
}

async function main() {
  const argv = process.argv.slice(2);
  const [iss, ca, username, password, webui] = argv;
  const opt = (name, dflt) => { const i = argv.indexOf(name); return i >= 0 ? Number(argv[i + 1]) : dflt; };
  const runs = opt('--runs', 5);
  const throttle = opt('--throttle', 4);
  const browser = await launch({ iss, ca });
  const out = { runs, throttle, cold_ms: [], warm_ms: [], cold_fcp_ms: [], warm_fcp_ms: [] };
  try {
    const page = await newPage(browser, { viewport: { width: 390, height: 844 } });
    await signIn(page, iss, username, password);
    await page.waitForSelector('[data-testid=home][data-ready=true]');
    let assets;
    for (let i = 0; i < runs; i++) {
      const cold = await loadOnce(page, iss, throttle, true);
      out.cold_ms.push(Math.round(cold.ms));
      out.cold_fcp_ms.push(Math.round(cold.fcp));
      assets = assets || cold.assets;
      // Warm: the service worker now controls the page and has the shell cached.
      await page.evaluate(() => navigator.serviceWorker.ready);
      const warm = await loadOnce(page, iss, throttle, false);
      out.warm_ms.push(Math.round(warm.ms));
      out.warm_fcp_ms.push(Math.round(warm.fcp));
    }
    out.files = [...assets.entries()].map(([p, type]) => ({ path: p, type, ...sizes(webui, p) })).sort((a, b) => a.path.localeCompare(b.path));
    out.total = out.files.reduce((t, f) => ({ raw: t.raw + f.raw, gz: t.gz + f.gz, br: t.br + f.br }), { raw: 0, gz: 0, br: 0 });
    out.cold_median_ms = median(out.cold_ms);
    out.warm_median_ms = median(out.warm_ms);
    out.cold_fcp_median_ms = median(out.cold_fcp_ms);
    out.warm_fcp_median_ms = median(out.warm_fcp_ms);
    out.chromium = browser.version();
  } finally {
    await browser.close();
  }
  console.log(JSON.stringify(out));
}

withTimeout(main(), 600000, 'webapp bench').catch((e) => { console.error(e.message); process.exit(1); });
