// "Update available — reload" end to end: the app (build A) runs under its service worker; build B
// is written into the same directory; the open app notices the new version (the check it makes when
// it comes back to the foreground), shows the banner, and "Reload" brings up build B.
// usage: node meet-home-update.js <issuer> <ca file> <user> <password> <meet source dir> <served meet dir>
'use strict';

const { execFileSync } = require('child_process');
const fs = require('fs');
const path = require('path');
const { launch, newPage, signIn, runScript } = require('./lib/meet');

function build(src, out, id) {
  execFileSync('npx', ['vite', 'build', '--logLevel', 'error'], { cwd: src, env: { ...process.env, PALAVER_MEET_OUT: out, VITE_PALAVER_BUILD: id }, stdio: ['ignore', 'ignore', 'inherit'], timeout: 120000 });
  return /<script type="module"[^>]*src="([^"]+)"/.exec(fs.readFileSync(path.join(out, 'index.html'), 'utf8'))[1];
}

const mainScript = (page) => page.evaluate(() => new URL(document.querySelector('script[type=module]').src).pathname);

const [iss, ca, username, password, src, out_dir] = process.argv.slice(2);
const out = { step: 'launch' };
let browser;
let page;
runScript('meet-home-update', 170000, out, () => ({ browser, page }), async () => {
  browser = await launch({ iss, ca });
  page = await newPage(browser);
  out.step = 'sign in (build A)';
  await signIn(page, iss, username, password);
  await page.evaluate(() => navigator.serviceWorker.ready);
  await page.reload();
  await page.waitForSelector('[data-testid=home]');
  out.controlled = await page.evaluate(() => Boolean(navigator.serviceWorker.controller));
  out.script_a = await mainScript(page);
  out.banner_before = await page.$$eval('.banner', (b) => b.map((x) => x.textContent.trim()));
  out.step = 'build B';
  out.script_b = build(src, out_dir, 'B');
  out.step = 'the app looks for an update when it comes to the foreground';
  await page.evaluate(() => document.dispatchEvent(new Event('visibilitychange')));
  await page.waitForSelector('.banner:has-text("An update is available")', { timeout: 20000 });
  out.banner = (await page.textContent('.banner:has-text("An update is available")')).trim();
  out.script_still = await mainScript(page);
  out.step = 'reload';
  await Promise.all([page.waitForEvent('load', { timeout: 20000 }), page.click('.banner button:has-text("Reload")')]);
  await page.waitForSelector('[data-testid=home]');
  out.script_after = await mainScript(page);
  out.banner_after = await page.$$eval('.banner', (b) => b.map((x) => x.textContent.trim()));
  out.sw_after = await page.evaluate(async () => (await caches.keys()).filter((k) => k.startsWith('palaver-meet-')).length);
});
