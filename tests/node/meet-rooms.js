// Groups and guests in Palaver's own Meet app, in a real browser against the real palaverd.
// usage: node meet-rooms.js <issuer> <ca file> <scenario> [json options]
// Scenarios:
//   member        anna: "join or create group" with the public switch → landing page; a direct
//                 group link goes to the join form keeping the hash; invite (red envelope blocks
//                 Invite, mailto: link); share copies the link; screenshots (options.shots).
//   guest-refused a guest link while the policy refuses (options.expect: disabled | notPublic).
//   guest         a guest signs in through the link with #guest=1&name=Gina and reaches the room
//                 page as a guest (implicit flow with the request object; no gc/kvs scopes).
// Prints one JSON object with what it saw; exits 1 on error.
'use strict';

const fs = require('fs');
const path = require('path');
const { launch, newPage, signIn, withTimeout, collectTraces } = require('./lib/meet');

const [iss, ca, scenario, optJson] = process.argv.slice(2);
const opts = optJson ? JSON.parse(optJson) : {};
const out = { step: 'launch', scenario };
const pages = [];
const pageNames = [];

// signIn, tolerating the one reload the service worker's first activation may cause right after
// the sign-in (the shell reloads on its first controllerchange; fixed on the home branch).
async function signInOnce(page, user, password) {
  try {
    await signIn(page, iss, user, password);
  } catch (e) {
    if (!/ERR_ABORTED|detached|Navigation/i.test(e.message)) throw e;
    await page.waitForSelector('[data-testid=user-name]', { timeout: 20000 });
  }
}

async function shot(page, name) {
  if (!opts.shots) return;
  fs.mkdirSync(opts.shots, { recursive: true });
  await page.waitForTimeout(400); // transitions settle
  await page.screenshot({ path: path.join(opts.shots, `rooms-${name}.png`), fullPage: true });
}

async function member(browser) {
  const lang = opts.lang || 'en';
  const page = await newPage(browser, { locale: lang === 'de' ? 'de-DE' : 'en-US', viewport: opts.viewport || { width: 1280, height: 800 },
                                        permissions: ['camera', 'microphone', 'clipboard-read', 'clipboard-write'] });
  pages.push(page);
  out.step = 'sign in';
  await signIn(page, iss, opts.user, opts.password);
  out.step = 'join dialog';
  // Manual §5.6: "New call", then "Join or create group".
  await page.click('[data-testid=new-call]');
  await page.click('[data-testid=open-join-group]');
  const dialog = page.locator('[data-testid=join-group-dialog]');
  await dialog.waitFor();
  out.dialog_focus = await page.evaluate(() => document.activeElement && document.activeElement.id);
  out.join_disabled_empty = await page.isDisabled('[data-testid=join-group]');
  out.public_switch = await page.locator('[data-testid=public-switch]').count();
  await page.fill('#rooms-group-name', opts.group);
  if (out.public_switch) await page.check('[data-testid=public-switch]');
  out.preview = (await page.textContent('[data-testid=group-id-preview]')).trim();
  await shot(page, `join-dialog-${lang}`);
  // Escape closes the dialog; opening it again starts afresh.
  await page.keyboard.press('Escape');
  out.dialog_closed = (await dialog.count()) === 0;
  out.focus_back = await page.evaluate(() => document.activeElement && document.activeElement.dataset.testid);
  await page.click('[data-testid=open-join-group]');
  await page.fill('#rooms-group-name', opts.group);
  if (out.public_switch) await page.check('[data-testid=public-switch]');
  await page.click('[data-testid=join-group]');
  out.step = 'landing page';
  await page.waitForSelector('[data-testid=room-page]');
  out.room_path = new URL(page.url()).pathname;
  out.room = await page.getAttribute('[data-testid=room-page]', 'data-room');
  out.title = (await page.textContent('[data-testid=room-title]')).trim();
  out.public_badge = await page.locator('[data-testid=room-public]').count();
  out.step = 'camera check';
  await page.click('.rooms-camera button');
  await page.waitForSelector('[data-testid=camera-preview][data-live="1"]');
  out.preview_frames = await page.waitForFunction(() => {
    const v = document.querySelector('[data-testid=camera-preview]');
    return v && v.videoWidth > 0 && v.currentTime > 0 ? v.videoWidth : 0;
  }, null, { timeout: 10000 }).then((h) => h.jsonValue());
  await shot(page, `landing-${lang}`);
  await page.click('.rooms-camera button');
  out.step = 'invite';
  await page.click('[data-testid=room-invite]');
  await page.fill('[data-testid=invite-to]', 'carla@example.com, not-an-address');
  out.envelope_invalid = await page.getAttribute('[data-testid=invite-envelope]', 'data-state');
  out.envelope_color = await page.$eval('[data-testid=invite-envelope]', (e) => getComputedStyle(e).color);
  out.invite_disabled_invalid = await page.isDisabled('[data-testid=invite-send]');
  out.invite_problem = (await page.textContent('#rooms-invite-problem')).trim();
  await shot(page, `invite-invalid-${lang}`);
  await page.fill('[data-testid=invite-to]', 'carla@example.com, dirk@example.org');
  out.envelope_valid = await page.getAttribute('[data-testid=invite-envelope]', 'data-state');
  out.invite_disabled_valid = await page.isDisabled('[data-testid=invite-send]');
  out.mailto = await page.getAttribute('[data-testid=invite-send]', 'data-mailto');
  // Clicking hands the mailto: link to the browser (no mail program here: nothing opens) and says so.
  await page.click('[data-testid=invite-send]');
  out.invite_toast = (await page.textContent('[data-testid=room-toast]')).trim();
  out.after_invite_path = new URL(page.url()).pathname;
  out.step = 'share';
  await page.waitForSelector('[data-testid=room-toast]', { state: 'detached', timeout: 8000 });
  out.web_share = await page.evaluate(() => typeof navigator.share);
  await page.click('[data-testid=room-share]');
  out.share_toast = (await page.textContent('[data-testid=room-toast]')).trim();
  out.clipboard = await page.evaluate(() => navigator.clipboard.readText());
  out.step = 'direct link';
  // A direct group URL without `auto`: the join form, keeping the query; the fragment was read
  // (mute=1 preselects below) and left the address bar.
  await page.goto(`${iss}/meet/r/group/${opts.directGroup}?x=1#mute=1`);
  await page.waitForSelector('[data-testid=join-wizard]');
  const u = new URL(page.url());
  out.direct = { path: u.pathname, search: u.search, hash: u.hash };
  out.wizard_step = await page.getAttribute('[data-testid=join-wizard]', 'data-step');
  await page.click('[data-testid=join-continue]');
  await page.waitForSelector('[data-testid=join-wizard][data-step=settings]');
  out.wizard_mic_off = await page.isChecked('[data-testid=start-mic-off]');
  out.wizard_cam_off = await page.isChecked('[data-testid=start-cam-off]');
  await page.click('[data-testid=join-video]');
  await page.waitForSelector('[data-testid=room-page]');
  out.after_wizard = new URL(page.url()).pathname;
  out.step = 'auto link';
  // With `auto` the landing page opens directly (and joins: see the call test).
  await page.goto(`${iss}/meet/r/group/${opts.directGroup}#auto=2&mute=1`);
  await page.waitForSelector('[data-testid=room-page]');
  out.auto_path = new URL(page.url()).pathname;
  out.step = 'recents';
  // The groups opened are in the recents (kvs), newest first.
  await page.goto(`${iss}/meet/`);
  await page.waitForSelector('[data-testid=home][data-ready=true]');
  out.recents_text = (await page.textContent('#panel-recents').catch(() => '')).trim();
  out.step = 'done';
}

async function guestPage(browser, lang = 'en') {
  const page = await newPage(browser, { locale: lang === 'de' ? 'de-DE' : 'en-US', viewport: opts.viewport || { width: 1280, height: 800 } });
  pages.push(page);
  page.apiCalls = [];
  page.on('request', (r) => {
    const p = new URL(r.url()).pathname;
    if (/^\/api\/(gc|kvs)\//.test(p)) page.apiCalls.push(p);
  });
  return page;
}

async function guestRefused(browser) {
  const page = await guestPage(browser, opts.lang);
  out.step = 'open link';
  await page.goto(`${iss}/meet/r/group/${opts.room}#guest=1&name=Gina`);
  await page.waitForSelector('[data-testid=join-wizard]');
  out.path = new URL(page.url()).pathname;
  if (opts.clickThrough) {
    // The config lets the guest try: the server's answer refuses at the last step.
    await page.click('[data-testid=join-continue]');
    await page.click('[data-testid=join-next]');
    await page.click('[data-testid=join-video]');
  }
  const refused = page.locator('[data-testid=guest-refused]');
  await refused.waitFor();
  out.kind = await refused.getAttribute('data-kind');
  out.message = (await refused.textContent()).trim();
  out.continue_offered = await page.locator('[data-testid=join-continue]').count();
  out.sign_in_offered = await page.locator('[data-testid=join-sign-in]').count();
  if (opts.shot) await shot(page, opts.shot);
  out.step = 'done';
}

async function guest(browser) {
  const lang = opts.lang || 'en';
  const page = await guestPage(browser, lang);
  const frames = [];
  page.on('framenavigated', (f) => {
    if (f !== page.mainFrame() && f.url().includes('/meet/guest-callback.html#')) frames.push(f.url());
  });
  out.step = 'open link';
  await page.goto(`${iss}/meet/r/group/${opts.room}#guest=1&name=Gina`);
  await page.waitForSelector('[data-testid=join-wizard][data-step=welcome]');
  out.path = new URL(page.url()).pathname;
  // The link's parameters (the guest's name) were read and left the address bar, without a new
  // history entry (about:blank and the link are the two).
  out.hash = new URL(page.url()).hash;
  out.history_length = await page.evaluate(() => history.length);
  out.welcome = (await page.textContent('[data-testid=join-welcome]')).trim();
  if (opts.shots) await shot(page, `guest-welcome-${lang}`);
  await page.click('[data-testid=join-continue]');
  await page.waitForSelector('[data-testid=join-wizard][data-step=name]');
  out.name_prefilled = await page.inputValue('[data-testid=guest-name]');
  // An empty name is refused with a message; the link's name comes back by typing it.
  await page.fill('[data-testid=guest-name]', '   ');
  await page.click('[data-testid=join-next]');
  out.empty_name_problem = (await page.textContent('#rooms-guest-name-problem')).trim();
  await page.fill('[data-testid=guest-name]', out.name_prefilled);
  if (opts.shots) await shot(page, `guest-name-${lang}`);
  await page.click('[data-testid=join-next]');
  await page.waitForSelector('[data-testid=join-wizard][data-step=settings]');
  out.step = 'guest sign-in';
  await page.click('[data-testid=join-video]');
  await page.waitForSelector('[data-testid=room-page]', { timeout: 20000 });
  out.room_path = new URL(page.url()).pathname;
  out.user_name = (await page.textContent('[data-testid=user-name]')).trim();
  out.guest_as = (await page.textContent('.rooms-page .rooms-hint')).trim();
  out.invite_offered = await page.locator('[data-testid=room-invite]').count();
  const cb = frames.length ? new URL(frames[0]) : null;
  const frag = cb ? new URLSearchParams(cb.hash.slice(1)) : new URLSearchParams();
  out.callback_frames = frames.length;
  out.granted_scope = frag.get('scope');
  out.token_type = frag.get('token_type');
  const idToken = frag.get('id_token');
  out.id_token_name = idToken ? JSON.parse(Buffer.from(idToken.split('.')[1], 'base64url').toString()).name : null;
  out.iframes_left = await page.evaluate(() => document.querySelectorAll('iframe[title=sign-in]').length);
  // The guest stays in the room: the main route leads back to it.
  await page.evaluate(() => { history.pushState(null, '', '/meet/r/call'); dispatchEvent(new PopStateEvent('popstate')); });
  await page.waitForFunction(() => location.pathname.startsWith('/meet/r/group/'), null, { timeout: 5000 });
  out.back_in_room = new URL(page.url()).pathname;
  if (opts.shots) await shot(page, `guest-room-${lang}`);
  out.api_calls = page.apiCalls;
  out.step = 'reload';
  // Guest tokens live in memory: a reload comes back to the guest flow with the chosen name (kept
  // in this tab's sessionStorage, not in the address bar), not to the sign-in page.
  out.hash_in_room = new URL(page.url()).hash;
  await page.reload();
  await page.waitForSelector('[data-testid=join-wizard][data-step=welcome]');
  out.hash_after_reload = new URL(page.url()).hash;
  await page.click('[data-testid=join-continue]');
  out.name_after_reload = await page.inputValue('[data-testid=guest-name]');
  out.step = 'done';
}

// An administrator changes a policy setting through the admin API (needs NODE_EXTRA_CA_CERTS).
async function setting() {
  const { signIn: apiSignIn, request } = require('./lib/palaver');
  const tok = await apiSignIn(iss, opts.user, opts.password, 'openid profile email kopano/kwm');
  const res = await request('PUT', `${iss}/admin/api/v1/settings/${opts.key}`, {
    body: JSON.stringify({ value: opts.value }),
    headers: { 'Content-Type': 'application/json', Authorization: `Bearer ${tok.access_token}` },
  });
  out.status = res.status;
  if (res.status !== 200) throw new Error(`setting ${opts.key}: ${res.status} ${res.body}`);
  out.step = 'done';
}

// A guest link with auto and a name: no questions, straight into the room (manual §4.1 example).
async function guestAuto(browser) {
  const page = await guestPage(browser);
  out.step = 'open link';
  await page.goto(`${iss}/meet/r/group/${opts.room}#guest=1&name=John%20Doe&auto=2&mute=1`);
  await page.waitForSelector('[data-testid=room-page]', { timeout: 20000 });
  out.room_path = new URL(page.url()).pathname;
  out.user_name = (await page.textContent('[data-testid=user-name]')).trim();
  out.step = 'done';
}

// A group call of three by links: a guest who comes first waits ("not started yet"), Anna opens
// the room with #auto=2 (the guest is let in), Bert with #auto=2&mute=1; everyone receives video
// from both others (framesDecoded rising); Bert's microphone is off, as the others see too.
async function call3(browser) {
  const room = opts.room;
  const stats = (page) => page.evaluate(() => window.__palaverDebug.stats());
  const state = (page) => page.evaluate(() => {
    const s = window.__palaverDebug.state();
    return { status: s.status, error: s.error || null, local: { micOn: s.local.micOn, camOn: s.local.camOn },
             participants: s.participants.map((p) => ({ name: p.name, guest: p.guest, micOn: p.micOn, camOn: p.camOn })) };
  });
  out.step = 'guest first';
  const g = await guestPage(browser);
  pageNames[pages.indexOf(g)] = 'guest';
  g.loads = 0;
  g.on('load', () => { g.loads += 1; });
  await g.goto(`${iss}/meet/r/group/${room}#guest=1&name=Gina&auto=2`);
  await g.waitForSelector('[data-testid=room-not-active]', { state: 'attached', timeout: 30000 });
  out.guest_waiting = (await g.textContent('[data-testid=room-not-active]')).trim();
  out.step = 'anna';
  const a = await newPage(browser);
  pages.push(a);
  pageNames[pages.length - 1] = 'anna';
  await signInOnce(a, 'anna', 'anna-secret');
  await a.goto(`${iss}/meet/r/group/${room}#auto=2`);
  await a.waitForFunction(() => window.__palaverDebug && window.__palaverDebug.state().status.kind === 'room', null, { timeout: 20000 });
  out.anna_hash_in_room = new URL(a.url()).hash; // #auto=2 was read and removed
  out.guest_loads_before_anna = g.loads;
  out.step = 'guest admitted';
  await g.waitForFunction(() => window.__palaverDebug.state().participants.length === 1 && !window.__palaverDebug.state().error,
                          null, { timeout: 30000 });
  out.step = 'bert';
  const b = await newPage(browser);
  pages.push(b);
  pageNames[pages.length - 1] = 'bert';
  await signInOnce(b, 'bert', 'bert-secret');
  await b.goto(`${iss}/meet/r/group/${room}#auto=2&mute=1`);
  out.step = 'video everywhere';
  const everyone = { anna: a, bert: b, guest: g };
  const first = {};
  for (const [who, page] of Object.entries(everyone)) {
    // Polled from here: page.waitForFunction does not await an async predicate (its promise is
    // truthy at once), so it never waited — the cause of this test's "Anna sees only the guest".
    const end = Date.now() + 45000;
    let st = {};
    for (;;) {
      st = await stats(page);
      const v = Object.values(st);
      if (v.length === 2 && v.every((x) => x.framesDecoded > 0)) break;
      if (Date.now() > end) {
        throw new Error(`${who}: no video from both others within 45 s: ${JSON.stringify(v.map((x) => ({ name: x.name, ice: x.ice, signaling: x.signaling, frames: x.framesDecoded })))}`);
      }
      await new Promise((r) => setTimeout(r, 500));
    }
    first[who] = st;
  }
  // Rising: more frames decoded later than at the first look (polled for up to 15 s, under load).
  out.video = {};
  for (const [who, page] of Object.entries(everyone)) {
    const base = Object.fromEntries(Object.values(first[who]).map((f) => [f.name, f.framesDecoded]));
    let now = {};
    for (let i = 0; i < 30; i++) {
      now = await stats(page);
      if (Object.values(now).every((v) => v.framesDecoded > (base[v.name] ?? 0))) break;
      await new Promise((r) => setTimeout(r, 500));
    }
    out.video[who] = Object.values(now).map((v) => ({ name: v.name, rising: v.framesDecoded > (base[v.name] ?? 0) }))
      .sort((x, y) => x.name.localeCompare(y.name));
  }
  if (opts.shots) await shot(g, 'guest-in-call-en');
  out.step = 'mute';
  out.bert = await state(b);
  out.anna_sees = (await state(a)).participants.sort((x, y) => x.name.localeCompare(y.name));
  if (process.env.PALAVER_MESH_TRACE) await collectTraces(pages, pageNames, 'call3');
  out.step = 'done';
}

// "Share group link" where the browser has the Web Share API (phones): the share sheet is the
// system's, so navigator.share is stood in for by an init script that records what it gets and
// answers as told — shared, cancelled by the user (AbortError), or refused (then the clipboard).
async function share(browser) {
  const page = await newPage(browser, { permissions: ['camera', 'microphone', 'clipboard-read', 'clipboard-write'] });
  pages.push(page);
  await page.context().addInitScript(() => {
    window.__shared = [];
    window.__shareAnswer = 'ok';
    const fake = async (data) => {
      window.__shared.push(JSON.parse(JSON.stringify(data)));
      if (window.__shareAnswer === 'abort') throw new DOMException('Share canceled', 'AbortError');
      if (window.__shareAnswer === 'refuse') throw new DOMException('Permission denied', 'NotAllowedError');
    };
    Object.defineProperty(Navigator.prototype, 'share', { configurable: true, value: fake });
    Object.defineProperty(Navigator.prototype, 'canShare', { configurable: true, value: (d) => !!(d && d.url) });
  });
  out.step = 'sign in';
  await signInOnce(page, 'anna', 'anna-secret');
  out.step = 'landing page';
  await page.evaluate((p) => { history.pushState(null, '', p); dispatchEvent(new PopStateEvent('popstate')); }, `/meet/r/group/${opts.room}`);
  await page.waitForSelector('[data-testid=room-share]');
  out.web_share = await page.evaluate(() => typeof navigator.share);
  await page.evaluate(() => navigator.clipboard.writeText('untouched'));
  const click = async () => {
    await page.waitForSelector('[data-testid=room-toast]', { state: 'detached', timeout: 8000 });
    await page.click('[data-testid=room-share]');
  };
  out.step = 'shared';
  await click();
  out.shared_toast = (await page.textContent('[data-testid=room-toast]')).trim();
  out.shared_clipboard = await page.evaluate(() => navigator.clipboard.readText());
  out.step = 'cancelled';
  await page.evaluate(() => { window.__shareAnswer = 'abort'; });
  await click();
  await page.waitForTimeout(1000);
  out.cancelled_toasts = await page.locator('[data-testid=room-toast]').count();
  out.cancelled_clipboard = await page.evaluate(() => navigator.clipboard.readText());
  out.step = 'refused';
  await page.evaluate(() => { window.__shareAnswer = 'refuse'; });
  await click();
  await page.waitForSelector('[data-testid=room-toast]');
  out.refused_toast = (await page.textContent('[data-testid=room-toast]')).trim();
  out.refused_clipboard = await page.evaluate(() => navigator.clipboard.readText());
  out.shared = await page.evaluate(() => window.__shared);
  out.step = 'done';
}

// Members with a guest link: without a session, "I have an account: sign in" leads through the
// sign-in page back to the join form as themselves; with a session the link just uses it.
async function memberWithGuestLink(browser) {
  const page = await newPage(browser);
  pages.push(page);
  out.step = 'no session';
  await page.goto(`${iss}/meet/r/group/${opts.room}#guest=1`);
  await page.waitForSelector('[data-testid=join-wizard] [data-testid=join-sign-in]');
  await Promise.all([page.waitForURL(/\/signin\/v1\/identifier/), page.click('[data-testid=join-sign-in]')]);
  await page.fill('#username', 'anna');
  await page.fill('#password', 'anna-secret');
  await Promise.all([page.waitForURL((u) => u.pathname.startsWith('/meet/r/join/')), page.press('#password', 'Enter')]);
  await page.waitForSelector('[data-testid=user-name]');
  out.after_sign_in = new URL(page.url()).pathname;
  out.name_after_sign_in = (await page.textContent('[data-testid=user-name]')).trim();
  out.guest_name_step = await page.locator('[data-testid=guest-name]').count();
  out.step = 'with session';
  await page.goto(`${iss}/meet/r/group/${opts.room}#guest=1&name=Gina`);
  await page.waitForSelector('[data-testid=join-wizard]');
  await page.waitForSelector('[data-testid=user-name]');
  out.name_with_session = (await page.textContent('[data-testid=user-name]')).trim();
  out.step = 'done';
}

async function main() {
  let browser;
  try {
    if (scenario === 'setting') await setting();
    else browser = await launch({ iss, ca });
    if (scenario === 'setting') { /* done above */ } else if (scenario === 'member') await member(browser);
    else if (scenario === 'guest-refused') await guestRefused(browser);
    else if (scenario === 'guest') await guest(browser);
    else if (scenario === 'guest-auto') await guestAuto(browser);
    else if (scenario === 'call3') await call3(browser);
    else if (scenario === 'share') await share(browser);
    else if (scenario === 'member-guest-link') await memberWithGuestLink(browser);
    else throw new Error(`unknown scenario ${scenario}`);
  } catch (e) {
    out.error = e.message;
    out.console = pages.flatMap((p) => p.log.slice(-15));
    if (scenario === 'call3') out.trace = await collectTraces(pages, pageNames, 'call3-failed');
    for (const p of pages) {
      const text = await p.evaluate(() => document.body.innerText.slice(0, 300)).catch(() => null);
      out.console.push(`page ${p.url()}: ${JSON.stringify(text)}`);
      const dbg = await p.evaluate(() => window.__palaverDebug
        && JSON.stringify({ info: window.__palaverDebug.info(), error: window.__palaverDebug.state().error,
                            status: window.__palaverDebug.state().status, signaling: window.__palaverDebug.state().signaling })).catch(() => null);
      if (dbg) out.console.push(`engine: ${dbg}`);
    }
    process.exitCode = 1;
  } finally {
    if (browser) await browser.close();
  }
  console.log(JSON.stringify(out));
}

withTimeout(main(), 170000, 'meet-rooms').catch((e) => { console.log(JSON.stringify({ ...out, error: e.message })); process.exit(1); });
