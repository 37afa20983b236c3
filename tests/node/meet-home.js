// The Meet app's main screen in a real browser against the real palaverd: contacts search finds
// the second user (with the photo the directory holds for them), viewing a contact puts it into
// recents, which survive a reload and sit in kvs in the original app's format (checked with an
// HTTP call of our own), removing one deletes it; settings persist across a reload and take effect
// (German UI, audio-only mode); a German browser gets the German UI; a browser without camera
// permission shows the "camera denied" message; an install offer appears on beforeinstallprompt.
// usage: node meet-home.js <issuer> <ca file> <user> <password> <other user's login> <other's display name> <de user> <de password>
'use strict';

const fs = require('fs');
const https = require('https');
const { launch, newPage, signIn, runScript } = require('./lib/meet');

// A request of our own to palaverd's API with the page's access token (not through the page).
function api(iss, ca, path, token, method = 'GET') {
  return new Promise((resolve, reject) => {
    const u = new URL(path, iss);
    const req = https.request({ host: '127.0.0.1', servername: 'localhost', port: u.port, path: u.pathname + u.search, method, ca: fs.readFileSync(ca),
      headers: { Authorization: `Bearer ${token}`, 'Kopano-XSRF': '1', Host: u.host } }, (res) => {
      let body = '';
      res.on('data', (d) => { body += d; });
      res.on('end', () => resolve({ status: res.statusCode, type: res.headers['content-type'], body }));
    });
    req.setTimeout(10000, () => req.destroy(new Error('api timeout')));
    req.on('error', reject);
    req.end();
  });
}

// The signed-in user's access token, as oidc-client-ts keeps it in this tab.
const accessToken = (page) => page.evaluate(() => {
  for (let i = 0; i < sessionStorage.length; i++) {
    const k = sessionStorage.key(i);
    if (k.startsWith('oidc.user:')) return JSON.parse(sessionStorage.getItem(k)).access_token;
  }
  return null;
});

async function recentsInKvs(iss, ca, page) {
  const r = await api(iss, ca, '/api/kvs/v1/kv/user/kopano-meet-recents?recurse=1', await accessToken(page));
  if (r.status !== 200) throw new Error(`kvs answered ${r.status}`);
  return JSON.parse(r.body);
}

const recentNames = (page) => page.$$eval('[data-testid=recents-list] .list-title', (els) => els.map((e) => e.textContent.trim()));

const [iss, ca, username, password, otherLogin, otherName, deUser, dePassword] = process.argv.slice(2);
const out = { step: 'launch' };
let browser;
let page;
runScript('meet-home', 150000, out, () => ({ browser, page }), async () => {
  browser = await launch({ iss, ca });
  page = await newPage(browser, { viewport: { width: 1280, height: 800 } });
  out.step = 'sign in';
  await signIn(page, iss, username, password);
  await page.waitForSelector('[data-testid=home]');
  out.preview = await page.waitForSelector('[data-testid=preview][data-state=live]', { timeout: 10000 }).then(() => 'live', () => page.getAttribute('[data-testid=preview]', 'data-state'));
  out.video_playing = await page.$eval('.preview-video', (v) => new Promise((res) => {
    const ok = () => res(v.videoWidth > 0 && !v.paused);
    if (v.readyState >= 2) ok(); else v.addEventListener('loadeddata', ok, { once: true });
    setTimeout(() => res(false), 5000);
  })).catch(() => false);

  out.step = 'keyboard: arrow keys move between the tabs';
  await page.focus('#tab-recents');
  await page.keyboard.press('ArrowRight');
  out.arrow_tab = await page.evaluate(() => ({ focused: document.activeElement?.id, selected: document.querySelector('[role=tab][aria-selected=true]')?.id }));
  await page.keyboard.press('ArrowLeft');

  out.step = 'new call opens the contact search';
  await page.click('[data-testid=new-call]');
  await page.waitForSelector('[data-testid=contact-search]');
  // The search takes the focus in an effect after it is rendered (a moment later on a busy
  // machine): wait for it, up to 5 s, rather than look once as soon as the field exists.
  out.search_focused = await page.waitForFunction(
    () => document.activeElement?.getAttribute('data-testid') === 'contact-search', null, { timeout: 5000 },
  ).then(() => true, () => false);
  await page.fill('[data-testid=contact-search]', otherName.split(' ')[0].toLowerCase());
  await page.waitForFunction((n) => [...document.querySelectorAll('[data-testid=contact-list] .list-title')].some((e) => e.textContent.trim() === n), otherName);
  await page.waitForTimeout(500);
  out.found = await page.$$eval('[data-testid=contact-list] .list-title', (els) => els.map((e) => e.textContent.trim()));
  await page.fill('[data-testid=contact-search]', '');
  await page.waitForTimeout(400);
  out.browse_all = await page.$$eval('[data-testid=contact-list] .list-title', (els) => els.map((e) => e.textContent.trim())).catch(() => []);
  await page.fill('[data-testid=contact-search]', otherName.split(' ')[0]);
  await page.waitForSelector(`[data-testid=contact-list] .list-item:has-text("${otherName}")`);
  out.photo = await page.$eval(`[data-testid=contact-list] .list-item:has-text("${otherName}")`, (b) => {
    const img = b.querySelector('img[data-testid=avatar-photo]');
    return img ? new Promise((res) => (img.complete ? res(img.naturalWidth) : img.addEventListener('load', () => res(img.naturalWidth)))) : 0;
  }).catch(() => 0);
  // The photo arrives after the list: wait for it a little.
  if (!out.photo) {
    await page.waitForSelector(`[data-testid=contact-list] .list-item:has-text("${otherName}") img[data-testid=avatar-photo]`, { timeout: 5000 }).catch(() => {});
    out.photo = await page.$eval(`[data-testid=contact-list] .list-item:has-text("${otherName}") img`, (i) => i.naturalWidth).catch(() => 0);
  }

  out.step = 'contact view';
  await page.click(`[data-testid=contact-list] .list-item:has-text("${otherName}")`);
  await page.waitForSelector('[data-testid=contact-view]');
  await page.waitForFunction((n) => document.querySelector('[data-testid=contact-name]')?.textContent.trim() === n, otherName);
  out.contact_path = new URL(page.url()).pathname;
  out.call_button = await page.$eval('[data-testid=call]', (b) => ({ text: b.textContent.trim(), disabled: b.disabled }));
  out.contact_fields = await page.$$eval('.fields dd', (els) => els.map((e) => e.textContent.trim()));
  await page.goBack();
  await page.waitForSelector('[data-testid=home]');
  await page.waitForFunction((n) => [...document.querySelectorAll('[data-testid=recents-list] .list-title')].some((e) => e.textContent.trim() === n), otherName);

  out.step = 'recents survive a reload';
  await page.reload();
  await page.waitForSelector('[data-testid=recents-list]');
  out.recents_after_reload = await recentNames(page);
  out.kvs = await recentsInKvs(iss, ca, page);

  out.step = 'remove from recents';
  await page.click(`[data-testid=recents-list] li:has-text("${otherName}") button[aria-label*="Remove"]`);
  await page.waitForFunction(() => !document.querySelector('[data-testid=recents-list]'));
  const deadline = Date.now() + 5000;
  do { out.kvs_after_remove = await recentsInKvs(iss, ca, page); } while (out.kvs_after_remove.length && Date.now() < deadline && !(await page.waitForTimeout(200)));
  // Back into recents for the screenshots and later steps.
  await page.goto(`${iss}${out.contact_path}`);
  await page.waitForSelector('[data-testid=contact-view]');

  out.step = 'settings: cancel discards, focus returns';
  await page.goto(`${iss}/meet/`);
  await page.waitForSelector('[data-testid=home]');
  await page.click('[data-testid=open-settings]');
  await page.waitForSelector('dialog[open][data-testid=settings]');
  out.dialog_modal = await page.$eval('dialog[data-testid=settings]', (d) => d.matches(':modal'));
  out.devices = await page.$$eval('[data-testid=camera-select] option', (o) => o.length - 1);
  await page.check('[data-testid=audio-only]');
  await page.keyboard.press('Escape');
  await page.waitForSelector('dialog[data-testid=settings]', { state: 'detached' });
  out.focus_returned = await page.evaluate(() => document.activeElement?.getAttribute('data-testid'));
  out.after_cancel = await page.getAttribute('[data-testid=preview]', 'data-state');

  out.step = 'settings: done applies and persists';
  await page.click('[data-testid=open-settings]');
  await page.waitForSelector('dialog[open][data-testid=settings]');
  await page.check('[data-testid=audio-only]');
  await page.selectOption('[data-testid=language-select]', 'de');
  out.before_done = (await page.textContent('[data-testid=new-call]')).trim();
  await page.click('[data-testid=settings-done]');
  await page.waitForSelector('[data-testid=preview][data-state=audio-only]');
  out.after_done = (await page.textContent('[data-testid=new-call]')).trim();
  await page.reload();
  await page.waitForSelector('[data-testid=home]');
  out.after_reload = {
    new_call: (await page.textContent('[data-testid=new-call]')).trim(),
    lang: await page.getAttribute('html', 'lang'),
    preview: await page.getAttribute('[data-testid=preview]', 'data-state'),
  };
  // Back to the defaults.
  await page.evaluate(() => { localStorage.removeItem('palaver.meet.media'); localStorage.removeItem('palaver.meet.lang'); });

  out.step = 'install offer';
  await page.reload();
  await page.waitForSelector('[data-testid=home]');
  await page.evaluate(() => {
    const e = new Event('beforeinstallprompt', { cancelable: true });
    e.prompt = () => { window.__prompted = true; return Promise.resolve(); };
    e.userChoice = Promise.resolve({ outcome: 'accepted' });
    window.dispatchEvent(e);
  });
  await page.waitForSelector('[data-testid=install-offer]');
  await page.click('[data-testid=install-offer] button.primary');
  await page.waitForSelector('[data-testid=install-offer]', { state: 'detached' });
  out.install_prompted = await page.evaluate(() => window.__prompted === true);
  await page.context().close();

  out.step = 'German browser';
  const de = await newPage(browser, { locale: 'de-DE', viewport: { width: 390, height: 844 } });
  await de.setExtraHTTPHeaders({ 'Accept-Language': 'de-DE,de;q=0.9' });
  await signIn(de, iss, deUser, dePassword);
  await de.waitForSelector('[data-testid=home]');
  out.german = { lang: await de.getAttribute('html', 'lang'), new_call: (await de.textContent('[data-testid=new-call]')).trim(),
                 tabs: await de.$$eval('[role=tab]', (t) => t.map((x) => x.textContent.trim())) };
  // Phone size: nothing sticks out sideways, the settings dialog fits.
  const width = () => de.evaluate(() => document.documentElement.scrollWidth);
  out.phone = { main: await width() };
  await de.click('[data-testid=new-call]');
  out.phone.contacts = await width();
  await de.click('[data-testid=open-settings]');
  await de.waitForSelector('dialog[open][data-testid=settings]');
  out.phone.settings_right = await de.$eval('dialog[data-testid=settings]', (d) => Math.ceil(d.getBoundingClientRect().right));
  out.phone.settings_label = await de.getAttribute('[data-testid=open-settings]', 'aria-label');
  await de.context().close();

  out.step = 'camera denied';
  const denied = await newPage(browser, { permissions: [] });
  await signIn(denied, iss, deUser, dePassword);
  const cdp = await denied.context().newCDPSession(denied);
  for (const name of ['camera', 'microphone']) {
    await cdp.send('Browser.setPermission', { permission: { name }, setting: 'denied', origin: iss });
  }
  await denied.reload();
  await denied.waitForSelector('[data-testid=camera-problem]', { timeout: 10000 });
  out.denied = { state: await denied.getAttribute('[data-testid=preview]', 'data-state'), text: (await denied.textContent('[data-testid=camera-problem]')).trim() };
});
