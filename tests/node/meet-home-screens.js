// Screenshots of the main screens for the user manual (docs/user/): desktop 1280×800 and phone
// 390×844, English and German. usage: node meet-home-screens.js <issuer> <ca> <user> <password> <out dir>
// Prints the written files as JSON.
'use strict';

const path = require('path');
const { launch, newPage, signIn, runScript } = require('./lib/meet');

const sizes = { desktop: { width: 1280, height: 800 }, phone: { width: 390, height: 844 } };
const locales = { en: 'en-US', de: 'de-DE' };

async function settle(page) {
  await page.waitForSelector('[data-testid=preview][data-state=live] video', { timeout: 10000 }).catch(() => {});
  await page.waitForTimeout(700);
}

const [iss, ca, username, password, dir] = process.argv.slice(2);
const out = { step: 'launch', files: [] };
let browser;
let page;
const shot = async (p, name, opts = {}) => {
  const file = path.join(dir, `${name}.png`);
  await p.screenshot({ path: file, ...opts });
  out.files.push(path.basename(file));
};
runScript('meet-home-screens', 170000, out, () => ({ browser, page }), async () => {
  browser = await launch({ iss, ca });
  for (const [lang, locale] of Object.entries(locales)) {
    for (const [size, viewport] of Object.entries(sizes)) {
      out.step = `${lang} ${size}`;
      page = await newPage(browser, { locale, viewport });
      await page.setExtraHTTPHeaders({ 'Accept-Language': `${locale},${lang};q=0.9` });
      await signIn(page, iss, username, password);
      await page.waitForSelector('[data-testid=home]');
      if (!out.seeded) {
        // Recents for the pictures: two contacts viewed.
        await page.click('[data-testid=new-call]');
        for (const who of ['Carla Christ', 'Bert Berg']) {
          await page.fill('[data-testid=contact-search]', who.split(' ')[0]);
          await page.click(`[data-testid=contact-list] .list-item:has-text("${who}")`);
          await page.waitForSelector('[data-testid=contact-view]');
          await page.goBack();
          await page.waitForSelector('[data-testid=home]');
          await page.click('[data-testid=new-call]');
        }
        out.seeded = true;
        await page.goto(`${iss}/meet/`);
        await page.waitForSelector('[data-testid=recents-list]');
      }
      await page.waitForSelector('[data-testid=recents-list]');
      await settle(page);
      await shot(page, `main-${size}-${lang}`);
      await page.click('[data-testid=new-call]');
      await page.waitForSelector('[data-testid=contact-list] .list-item');
      await page.waitForTimeout(300);
      await shot(page, `contacts-${size}-${lang}`);
      await page.click('[data-testid=contact-list] .list-item:has-text("Bert Berg")');
      await page.waitForSelector('[data-testid=contact-view]');
      await page.waitForTimeout(300);
      await shot(page, `contact-${size}-${lang}`);
      await page.goto(`${iss}/meet/`);
      await page.waitForSelector('[data-testid=home]');
      await page.click('[data-testid=open-settings]');
      await page.waitForSelector('dialog[open][data-testid=settings]');
      await page.waitForSelector('[data-testid=settings-preview][data-state=live] video', { timeout: 10000 }).catch(() => {});
      await page.waitForTimeout(700);
      await shot(page, `settings-${size}-${lang}`);
      await page.context().close();
    }
    // First use: the browser has not been asked yet, so the app explains the prompt first.
    out.step = `${lang} first use`;
    page = await newPage(browser, { locale, viewport: sizes.desktop, permissions: [] });
    await page.setExtraHTTPHeaders({ 'Accept-Language': `${locale},${lang};q=0.9` });
    await signIn(page, iss, username, password);
    // Headless Chromium answers "denied" where a desktop browser would ask; for the picture the
    // page is told the browser has not decided yet, which is what a first visit looks like.
    await page.addInitScript(() => {
      const query = navigator.permissions.query.bind(navigator.permissions);
      navigator.permissions.query = (d) => (d && (d.name === 'camera' || d.name === 'microphone') ? Promise.resolve({ state: 'prompt' }) : query(d));
    });
    await page.reload();
    await page.waitForSelector('[data-testid=home]');
    await page.waitForTimeout(1000);
    out.first_use_state = await page.getAttribute('[data-testid=preview]', 'data-state');
    out.perm = await page.evaluate(() => navigator.permissions.query({ name: 'camera' }).then((s) => s.state));
    if (out.first_use_state !== 'explain') throw new Error(`first use: ${out.first_use_state}, permission ${out.perm}`);
    await shot(page, `first-use-desktop-${lang}`);
    await page.context().close();
  }
});
