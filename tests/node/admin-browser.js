// The admin console in a real browser (Debian's Chromium through playwright-core): an admin signs
// in with the keyboard through our own sign-in page, previews the public-room rule live, turns
// guests on and screen sharing off, and config.json reflects both at once; the status page
// refreshes itself; no CSP violation anywhere. With a screenshot directory, every console page is
// captured in English and German (docs/admin/).
//
// usage: node admin-browser.js <issuer> <username> <password> [<screenshot dir>]
// Prints one JSON object with what it saw; exits 1 on error.
'use strict';

const path = require('path');
const { chromium } = require('playwright-core');

const [iss, username, password, shots] = process.argv.slice(2);
const PAGES = ['guests', 'media', 'branding', 'users', 'status', 'certificates', 'turn', 'audit'];

async function signIn(context, out, key) {
  const page = await context.newPage();
  page.on('console', (m) => {
    if (/Content Security Policy|Refused to/.test(m.text())) out.csp_errors.push(m.text());
  });
  await page.goto(`${iss}/admin/`);
  // Our own sign-in page, keyboard only.
  out[`${key}_signin_path`] = new URL(page.url()).pathname;
  await page.keyboard.type(username);
  await page.keyboard.press('Tab');
  await page.keyboard.type(password);
  await Promise.all([page.waitForURL(/\/admin\/guests$/, { timeout: 15000 }), page.keyboard.press('Enter')]);
  return page;
}

async function config(page) {
  return (await page.request.get(`${iss}/api/config/v1/kopano/meet/config.json`, { headers: { 'Kopano-XSRF': '1' } })).json();
}

async function main() {
  const out = { csp_errors: [] };
  const browser = await chromium.launch({
    executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
    headless: true,
    args: ['--no-sandbox', '--disable-gpu', '--no-first-run', '--disable-background-networking',
           '--disable-component-update', '--disable-sync', '--proxy-server=http://127.0.0.1:9',
           '--proxy-bypass-list=<-loopback>;localhost;127.0.0.1'],
  });
  try {
    // A tablet in landscape.
    const context = await browser.newContext({ ignoreHTTPSErrors: true, locale: 'en-US',
                                               viewport: { width: 1024, height: 768 } });
    const page = await signIn(context, out, 'en');
    out.h1 = (await page.textContent('h1')).trim();

    // Guests: the live preview (JavaScript) while typing the rule.
    await page.fill('#preview_names', 'group/public/team\ngroup/extern/visit\ngroup/board');
    await page.fill('#public_regexp', '^group/(public|extern)/.*');
    await page.waitForFunction(() => document.querySelectorAll('#preview li.match').length === 2, null, { timeout: 10000 });
    out.preview_matches = await page.$$eval('#preview li.match code', (els) => els.map((e) => e.textContent));
    out.preview_button_hidden = await page.$eval('button[value=preview]', (b) => getComputedStyle(b).display === 'none');
    await page.fill('#public_regexp', '(unclosed');
    await page.waitForSelector('#public_regexp[aria-invalid=true]', { timeout: 10000 });
    out.preview_error = (await page.textContent('#preview .error')).trim();
    await page.fill('#public_regexp', '^group/(public|extern)/.*');
    if (!(await page.isChecked('#guests_enabled'))) await page.check('#guests_enabled');
    await Promise.all([page.waitForNavigation(), page.click('button[value=save]')]);
    out.guests_notice = (await page.textContent('.notice')).trim();
    let cfg = await config(page);
    out.config_guests_enabled = cfg.guests.enabled;
    out.config_public_regexp = cfg.guests.publicGroupRegexp;

    // Screen sharing off.
    await page.click('nav a[href="/admin/media"]');
    await page.waitForURL(/\/admin\/media$/);
    await page.uncheck('#screenshare_enabled');
    await page.fill('#camera_bitrate', '800');
    await Promise.all([page.waitForNavigation(), page.click('button[value=save]')]);
    out.media_notice = (await page.textContent('.notice')).trim();
    cfg = await config(page);
    out.config_disable_screenshare = cfg.disableScreenshare;
    out.config_camera_bitrate = cfg.kwm.sdpParams.videoSendBitrate;

    // Status: refreshed in place (no reload) by admin.js.
    await page.goto(`${iss}/admin/status`);
    await page.evaluate(() => { window.__noReload = true; });
    await page.waitForSelector('[data-refreshed]', { timeout: 15000 });
    out.status_no_reload = await page.evaluate(() => window.__noReload === true);
    out.status_modules = await page.$$eval('#modules th', (els) => els.map((e) => e.textContent));

    if (shots) {
      for (const name of PAGES) {
        await page.goto(`${iss}/admin/${name}`);
        await page.screenshot({ path: path.join(shots, `console-${name}.en.png`), fullPage: true });
      }
      const de = await browser.newContext({ ignoreHTTPSErrors: true, locale: 'de-DE', viewport: { width: 1024, height: 768 } });
      const dpage = await signIn(de, out, 'de');
      out.de_h1 = (await dpage.textContent('h1')).trim();
      for (const name of PAGES) {
        await dpage.goto(`${iss}/admin/${name}`);
        await dpage.screenshot({ path: path.join(shots, `console-${name}.de.png`), fullPage: true });
      }
    }
  } finally {
    await browser.close();
  }
  process.stdout.write(JSON.stringify(out) + '\n');
}

main().catch((e) => {
  process.stderr.write(`admin-browser: ${e.stack || e}\n`);
  process.exit(1);
});
