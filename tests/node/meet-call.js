// 1:1 calls in the Meet web app, end to end: two users (and one user on two devices) in browser
// contexts of their own against the real palaverd, media relayed through palaverd's TURN
// (config.json forces iceTransportPolicy "relay"). Calls are started through the test-facing
// driver window.__palaverDebug.call(id) (the main screen's contact buttons belong to another
// part of the app); everything after that — ringing, accept, decline, ignore, hang up,
// controls, chat, raise hand, screen sharing — is done by clicking the call screens.
//
// usage: node meet-call.js <scenario> <issuer> <ca file> userA:pw userB:pw
//   scenario: call | decline-ignore | devices | restart | audio-only | room (a third user) | room-restart | room6 (six users)
// MEET_CALL_BUDGET_MS overrides the bound of a scenario (140 s; room6 145 s).
// `restart` prints {"restart":true} and waits for a line on stdin (the driver restarted palaverd).
// Prints one JSON object with what it saw; exits 1 on error.
'use strict';

const readline = require('readline');
const { launch, newPage, withTimeout, collectTraces } = require('./lib/meet');

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

async function poll(what, fn, ms = 20000, every = 250) {
  const end = Date.now() + ms;
  let last;
  while (Date.now() < end) {
    last = await fn();
    if (last) return last;
    await sleep(every);
  }
  throw new Error(`timeout: ${what} (last: ${JSON.stringify(last)})`);
}

const info = (page) => page.evaluate(() => window.__palaverDebug.info());
const stats = (page) => page.evaluate(() => window.__palaverDebug.stats());
const engineState = (page) => page.evaluate(() => {
  const s = window.__palaverDebug.state();
  return { status: s.status.kind, signaling: s.signaling, ended: s.ended && s.ended.reason, error: s.error,
           participants: s.participants.map((p) => ({ id: p.id, name: p.name, connection: p.connection, hand: p.handRaised, screen: !!p.screen, quality: p.quality })) };
});

async function connected(page) {
  await poll('signaling connected', async () => (await info(page)).signaling === 'connected');
  return (await info(page)).self;
}

// Decoded video frames from the one peer, rising over 1.5 s, and the selected candidate pair.
async function mediaFlows(page, what, { screen = false, ms = 45000 } = {}) {
  const key = screen ? 'screenFramesDecoded' : 'framesDecoded';
  const end = Date.now() + ms;
  let first;
  let second;
  while (Date.now() < end) {
    first = Object.values(await stats(page))[0];
    await sleep(1500);
    second = Object.values(await stats(page))[0];
    if (first && second && second[key] > 5 && second[key] > first[key]) {
      return { [key]: [first[key], second[key]], pair: second.pair, relayProtocol: second.relayProtocol, cameraMaxBitrate: second.cameraMaxBitrate,
               audioPacketsReceived: second.audioPacketsReceived, quality: second.quality };
    }
  }
  throw new Error(`${what}: ${key} not rising: ${JSON.stringify(second)} ${JSON.stringify(await info(page))}`);
}

// lib/meet.js's signIn, but tolerant of the shell's first-visit reload (its service worker takes
// control → controllerchange → reload), which can abort the redirect to the sign-in page.
async function signInRobust(page, iss, user, pw) {
  await page.goto(iss + '/meet/').catch((e) => page.log.push(`goto: ${String(e).split('\n')[0]}`));
  // Navigations may destroy the page's context under our feet: such a look counts as "not yet".
  await poll('the sign-in page', async () => /\/signin\/v1\/identifier/.test(page.url()) && (await page.$('#username').catch(() => null)) !== null, 20000, 200);
  await page.waitForLoadState('load').catch(() => {});
  await page.fill('#username', user);
  await page.fill('#password', pw);
  await Promise.all([page.waitForURL((u) => u.pathname.startsWith('/meet/') && !u.pathname.endsWith('oidc-callback')),
                     page.press('#password', 'Enter')]);
  await page.waitForSelector('[data-testid=user-name]');
}

async function signedIn(browser, iss, cred, opts = {}) {
  const [user, pw] = cred.split(':');
  const page = await newPage(browser, opts);
  await signInRobust(page, iss, user, pw);
  if (opts.audioOnly || opts.hd) {
    await page.evaluate((m) => localStorage.setItem('palaver.meet.media', JSON.stringify(m)), { audioOnly: !!opts.audioOnly, hd: opts.hd || 720 });
    await page.reload();
    await page.waitForSelector('[data-testid=user-name]');
  }
  const self = await connected(page);
  return { page, self };
}

async function callAndAccept(out, a, b, ringing = [b]) {
  await a.page.evaluate(({ id, name }) => window.__palaverDebug.call(id, name), { id: b.self.id, name: b.self.name });
  await a.page.waitForSelector('[data-testid=call-outgoing] .hourglass');
  await a.page.waitForSelector('[data-testid=call-outgoing] .moving-bar');
  for (const r of ringing) await r.page.waitForSelector('[data-testid=call-incoming]');
  out.incoming_name = (await b.page.textContent('[data-testid=call-incoming-name]')).trim();
  out.ringing_sound = await b.page.evaluate(() => window.__palaverRinging === true);
  await b.page.click('[data-testid=call-accept]');
  await a.page.waitForSelector('[data-testid=call-view]');
  await b.page.waitForSelector('[data-testid=call-view]');
}

async function hangUp(page) {
  await page.mouse.move(200, 200);
  await page.click('[data-testid=call-view] [data-testid=call-hangup]');
}

async function scenarioCall(out, browser, iss, credA, credB) {
  const a = await signedIn(browser, iss, credA);
  // The callee on a phone-sized screen, in German.
  const b = await signedIn(browser, iss, credB, { locale: 'de-DE', viewport: { width: 390, height: 844 } });
  out.step = 'call';
  await callAndAccept(out, a, b);
  out.self_corner_while_ringing = true;
  out.step = 'media';
  out.a_media = await mediaFlows(a.page, 'A receives');
  out.b_media = await mediaFlows(b.page, 'B receives');

  out.step = 'controls fade';
  await a.page.mouse.move(300, 300);
  await a.page.waitForSelector('[data-testid=call-view]:not(.idle)');
  await a.page.waitForSelector('[data-testid=call-view].idle', { timeout: 8000 });
  await sleep(700); // the fade takes 0.4 s
  out.controls_hidden = await a.page.evaluate(() => getComputedStyle(document.querySelector('.call-controls')).opacity);
  await a.page.mouse.move(320, 320);
  await a.page.waitForSelector('[data-testid=call-view]:not(.idle)', { timeout: 3000 });
  out.controls_back = true;
  out.labels = await a.page.$$eval('.call-controls button', (bs) => bs.map((x) => x.getAttribute('aria-label')));
  out.labels_de = await b.page.$$eval('.call-controls button', (bs) => bs.map((x) => x.getAttribute('aria-label')));
  out.quality = await a.page.getAttribute('[data-testid=tile] .quality', 'data-quality');
  await b.page.mouse.move(100, 100);
  await sleep(600);
  out.b_phone_controls = await b.page.$$eval('.call-controls button', (bs) => bs.map((x) => {
    const r = x.getBoundingClientRect();
    return r.left >= 0 && r.right <= innerWidth && r.bottom <= innerHeight && r.width >= 40 && r.height >= 40 ? true
      : [r.left, r.right, r.bottom, r.width, r.height, innerWidth, innerHeight].map(Math.round).join(',');
  }));
  out.b_phone_tile_width = await b.page.$eval('[data-testid=tile]', (x) => Math.round(x.getBoundingClientRect().width));

  out.step = 'mic via keyboard';
  await a.page.focus('[data-testid=call-mic]');
  await a.page.keyboard.press('Enter');
  await poll('B sees A muted', async () => (await b.page.$$('[data-testid=tile] .badge')).length > 0, 10000);
  out.mic_muted_seen = (await b.page.textContent('[data-testid=tile] figcaption')).includes('Mikrofon aus');
  await a.page.keyboard.press('Enter');

  out.step = 'chat';
  await a.page.mouse.move(300, 300);
  await a.page.click('[data-testid=call-chat]');
  await a.page.fill('[data-testid=chat-input]', 'Hallo Bert');
  await a.page.keyboard.press('Enter');
  await a.page.waitForSelector('[data-testid=chat-message] >> text=Hallo Bert');
  await b.page.mouse.move(300, 300);
  await b.page.click('[data-testid=call-chat]');
  await b.page.waitForSelector('[data-testid=chat-message] >> text=Hallo Bert', { timeout: 10000 });
  out.chat_received = true;
  // A message the server refuses (over its 16 KiB; umlauts take two bytes each) stays in the
  // input with the reason (German here); shortened, it goes and the input empties.
  await b.page.fill('[data-testid=chat-input]', 'ä'.repeat(9000));
  await b.page.keyboard.press('Enter');
  await b.page.waitForSelector('[data-testid=chat-error]', { timeout: 10000 });
  out.chat_error = (await b.page.textContent('[data-testid=chat-error]')).trim();
  out.chat_error_role = await b.page.getAttribute('[data-testid=chat-error]', 'role');
  out.chat_kept = (await b.page.inputValue('[data-testid=chat-input]')).length;
  await b.page.fill('[data-testid=chat-input]', 'Hallo Anna');
  await b.page.keyboard.press('Enter');
  await a.page.waitForSelector('[data-testid=chat-message] >> text=Hallo Anna', { timeout: 10000 });
  out.chat_after_retry = await b.page.inputValue('[data-testid=chat-input]');
  out.chat_error_after_retry = await b.page.locator('[data-testid=chat-error]').count();

  out.step = 'raise hand';
  await b.page.mouse.move(310, 310);
  await b.page.click('[data-testid=call-hand]');
  await a.page.waitForSelector('[data-testid=hand-raised]', { timeout: 10000 });
  out.hand_seen = true;

  out.step = 'screen share';
  await a.page.mouse.move(330, 330);
  out.screen_button = await a.page.$('[data-testid=call-screen]') !== null;
  if (out.screen_button) {
    await a.page.click('[data-testid=call-screen]');
    await a.page.waitForSelector('[data-testid=call-screen][aria-pressed=true].ok', { timeout: 10000 });
    out.sharer_indicator_green = await a.page.$eval('[data-testid=call-screen]', (x) => getComputedStyle(x).backgroundColor);
    await b.page.waitForSelector('[data-testid=layout-screen] [data-testid=tile-screen]', { timeout: 20000 });
    out.b_screen = await mediaFlows(b.page, 'B receives the screen', { screen: true });
    out.b_side_tiles = (await b.page.$$('[data-testid=layout-screen] .side [data-testid=tile]')).length;
    await a.page.mouse.move(340, 340);
    await a.page.click('[data-testid=call-screen]');
    await b.page.waitForSelector('[data-testid=layout-screen]', { state: 'detached', timeout: 15000 });
  }

  out.step = 'hang up';
  await hangUp(a.page);
  await b.page.waitForSelector('[data-testid=call-view]', { state: 'detached', timeout: 10000 });
  out.b_after = await engineState(b.page);
  out.a_after = await engineState(a.page);
  await a.page.close();
  await b.page.close();
}

async function scenarioDeclineIgnore(out, browser, iss, credA, credB) {
  const a = await signedIn(browser, iss, credA);
  const b = await signedIn(browser, iss, credB);
  out.step = 'decline';
  await a.page.evaluate(({ id }) => window.__palaverDebug.call(id), { id: b.self.id });
  await b.page.waitForSelector('[data-testid=call-incoming]');
  await b.page.click('[data-testid=call-decline]');
  await a.page.waitForSelector('[data-testid=call-notice] [data-key=x-declined]', { timeout: 10000 });
  out.declined_text = (await a.page.textContent('[data-key=x-declined]')).trim();
  out.a_after_decline = await engineState(a.page);
  out.outgoing_gone = (await a.page.$('[data-testid=call-outgoing]')) === null;

  out.step = 'ignore';
  await a.page.evaluate(({ id }) => window.__palaverDebug.call(id), { id: b.self.id });
  await b.page.waitForSelector('[data-testid=call-incoming]');
  await b.page.click('[data-testid=call-ignore]');
  await b.page.waitForSelector('[data-testid=call-incoming]', { state: 'detached' });
  await sleep(4000);
  out.a_after_ignore = await engineState(a.page);
  out.a_still_ringing = (await a.page.$('[data-testid=call-outgoing]')) !== null;
  out.b_after_ignore = await engineState(b.page);
  // The caller gives up: the callee, having ignored, hears nothing of it.
  await a.page.click('[data-testid=call-outgoing] [data-testid=call-hangup]');
  await sleep(1500);
  out.b_after_caller_hangup = await engineState(b.page);
}

async function scenarioDevices(out, browser, iss, credA, credB) {
  const a = await signedIn(browser, iss, credA);
  const b1 = await signedIn(browser, iss, credB);
  const b2 = await signedIn(browser, iss, credB);
  out.same_user = b1.self.id === b2.self.id;
  out.step = 'both ring';
  await callAndAccept(out, a, b2, [b1, b2]);
  out.both_rang = true;
  out.step = 'other device stops';
  await b1.page.waitForSelector('[data-testid=call-incoming]', { state: 'detached', timeout: 10000 });
  out.b1_after = await engineState(b1.page);
  out.a_media = await mediaFlows(a.page, 'A receives from the answering device');
  out.b2_media = await mediaFlows(b2.page, 'the answering device receives');
  await hangUp(a.page);
  await b2.page.waitForSelector('[data-testid=call-view]', { state: 'detached', timeout: 10000 });
}

async function scenarioRestart(out, browser, iss, credA, credB, waitRestart) {
  const a = await signedIn(browser, iss, credA);
  const b = await signedIn(browser, iss, credB);
  out.step = 'call';
  await callAndAccept(out, a, b);
  out.before = { a: await mediaFlows(a.page, 'A before'), b: await mediaFlows(b.page, 'B before') };
  out.channel_before = (await info(a.page)).channel;
  out.step = 'restart';
  await waitRestart();
  out.step = 'reconnecting shown';
  // palaverd was down for a while: the socket dropped, the app says so.
  await a.page.waitForSelector('[data-testid=call-reconnecting]', { timeout: 15000 }).catch(() => { out.banner_missed = true; });
  out.step = 'signaling back';
  await poll('A connected again', async () => (await info(a.page)).signaling === 'connected', 40000, 500);
  await poll('B connected again', async () => (await info(b.page)).signaling === 'connected', 40000, 500);
  await a.page.waitForSelector('[data-testid=call-reconnecting]', { state: 'detached', timeout: 10000 });
  await poll('new channel', async () => {
    const [ia, ib] = [await info(a.page), await info(b.page)];
    return ia.channel && ia.channel !== out.channel_before && ia.channel === ib.channel ? ia.channel : null;
  }, 30000, 500);
  out.step = 'media after restart';
  out.after = { a: await mediaFlows(a.page, 'A after', { ms: 60000 }), b: await mediaFlows(b.page, 'B after', { ms: 60000 }) };
  out.a_state = await engineState(a.page);
  out.b_state = await engineState(b.page);
  await hangUp(a.page);
  await b.page.waitForSelector('[data-testid=call-view]', { state: 'detached', timeout: 10000 });
}

// A room of two survives a palaverd restart: both rejoin, keep their peer connection and
// restart ICE through the new TURN allocation.
async function scenarioRoomRestart(out, browser, iss, credA, credB, waitRestart) {
  const a = await signedIn(browser, iss, credA);
  const b = await signedIn(browser, iss, credB);
  for (const p of [a, b]) {
    await p.page.evaluate(() => window.__palaverDebug.joinRoom('group', 'restart'));
    await p.page.waitForSelector('[data-testid=call-view][data-status=room]');
  }
  out.before = { a: await mediaFlows(a.page, 'A before'), b: await mediaFlows(b.page, 'B before') };
  out.step = 'restart';
  await waitRestart();
  await a.page.waitForSelector('[data-testid=call-reconnecting]', { timeout: 15000 }).catch(() => { out.banner_missed = true; });
  await poll('A connected again', async () => (await info(a.page)).signaling === 'connected', 40000, 500);
  await poll('B connected again', async () => (await info(b.page)).signaling === 'connected', 40000, 500);
  out.step = 'media after restart';
  out.after = { a: await mediaFlows(a.page, 'A after', { ms: 60000 }), b: await mediaFlows(b.page, 'B after', { ms: 60000 }) };
  out.a_state = await engineState(a.page);
  out.b_state = await engineState(b.page);
  for (const p of [a, b]) await hangUp(p.page);
}

async function scenarioAudioOnly(out, browser, iss, credA, credB) {
  const a = await signedIn(browser, iss, credA);
  const b = await signedIn(browser, iss, credB, { audioOnly: true });
  await callAndAccept(out, a, b);
  await poll('audio flows both ways', async () => {
    const [sa, sb] = [Object.values(await stats(a.page))[0], Object.values(await stats(b.page))[0]];
    return sa && sb && sa.audioPacketsReceived > 50 && sb.audioPacketsReceived > 50;
  }, 45000, 500);
  await sleep(2000);
  const [sa, sb] = [Object.values(await stats(a.page))[0], Object.values(await stats(b.page))[0]];
  out.a = { framesDecoded: sa.framesDecoded, videoBytesSent: sa.videoBytesSent, videoBytesReceived: sa.videoBytesReceived, audio: sa.audioPacketsReceived, pair: sa.pair };
  out.b = { framesDecoded: sb.framesDecoded, videoBytesSent: sb.videoBytesSent, videoBytesReceived: sb.videoBytesReceived, audio: sb.audioPacketsReceived, pair: sb.pair };
  out.b_screen_button = (await b.page.$('[data-testid=call-screen]')) !== null;
  out.b_cam_button = (await b.page.$('[data-testid=call-cam]')) !== null;
  await hangUp(a.page);
}

// A group room of three (mesh): everyone receives everyone's video, chat reaches the room,
// a raised hand shows, and when one leaves the others drop that peer.
async function scenarioRoom(out, browser, iss, credA, credB, _wait, credC) {
  const people = [];
  for (const c of [credA, credB, credC]) people.push(await signedIn(browser, iss, c));
  out.step = 'join';
  for (const p of people) {
    await p.page.evaluate(() => window.__palaverDebug.joinRoom('group', 'team'));
    await p.page.waitForSelector('[data-testid=call-view][data-status=room]');
  }
  out.step = 'mesh';
  out.mesh = [];
  for (const p of people) {
    const all = await poll('two peers with video', async () => {
      const st = await stats(p.page);
      const vals = Object.values(st);
      return vals.length === 2 && vals.every((v) => v.framesDecoded > 5 && /^relay\//.test(v.pair)) ? st : null;
    }, 60000, 1000);
    out.mesh.push(Object.values(all).map((v) => ({ name: v.name, framesDecoded: v.framesDecoded, pair: v.pair })));
  }
  out.tiles = await people[0].page.$$eval('[data-testid=tile]', (ts) => ts.length);
  out.grid_columns = await people[0].page.$eval('.grid', (g) => getComputedStyle(g).gridTemplateColumns.split(' ').length);
  out.step = 'room chat';
  await people[1].page.mouse.move(300, 300);
  await people[1].page.click('[data-testid=call-chat]');
  await people[1].page.fill('[data-testid=chat-input]', 'hello room');
  await people[1].page.keyboard.press('Enter');
  for (const i of [0, 2]) {
    await people[i].page.mouse.move(300, 300);
    await people[i].page.click('[data-testid=call-chat]');
    await people[i].page.waitForSelector('[data-testid=chat-message] >> text=hello room', { timeout: 10000 });
  }
  out.room_chat = true;
  out.step = 'leave';
  await hangUp(people[2].page);
  for (const i of [0, 1]) await poll('peer dropped', async () => (await engineState(people[i].page)).participants.length === 1, 15000);
  out.after_leave = await engineState(people[0].page);
  for (const i of [0, 1]) await hangUp(people[i].page);
}

// Six in a room (mesh of 15 connections over TURN, 360p to spare the machine): everyone
// decodes everyone's video, and the view switches to the active speaker large with the others
// in a strip.
async function scenarioRoom6(out, browser, iss, ...creds) {
  const t0 = Date.now();
  const people = await Promise.all(creds.map((c) => signedIn(browser, iss, c, { viewport: { width: 1280, height: 720 }, hd: 360 })));
  out.signin_ms = Date.now() - t0;
  out.step = 'join';
  for (const p of people) {
    await p.page.evaluate(() => window.__palaverDebug.joinRoom('group', 'six'));
    await p.page.waitForSelector('[data-testid=call-view][data-status=room]');
  }
  out.step = 'mesh';
  out.mesh = [];
  for (const p of people) {
    let seen;
    const st = await poll('five peers with video', async () => {
      const all = await stats(p.page);
      const vals = Object.values(all);
      seen = { self: p.self, peers: Object.entries(all).map(([id, v]) => `${id}=${v.name}:${v.ice}/${v.framesDecoded}/${v.pair}/${v.offerer}/${v.signaling}/${v.local}/${v.remoteDescription}/${v.pendingCandidates}/${v.rebuilt}`) };
      return vals.length === 5 && vals.every((v) => v.framesDecoded > 3 && /^relay\//.test(v.pair)) ? vals : null;
    }, 150000, 1000).catch((e) => { throw new Error(`${e.message} ${JSON.stringify(seen)}`); });
    out.mesh.push(st.map((v) => v.framesDecoded));
  }
  out.mesh_ms = Date.now() - t0;
  out.step = 'layout';
  const layout = await poll('speaker layout', () => people[0].page.evaluate(() => {
    const m = document.querySelector('[data-testid=layout-speaker] .main [data-testid=tile]');
    const side = document.querySelectorAll('[data-testid=layout-speaker] .side [data-testid=tile]');
    if (!m || !side.length) return null;
    return { side: side.length, main: Math.round(m.getBoundingClientRect().width), sideWidth: Math.round(side[0].getBoundingClientRect().width),
             tiles: document.querySelectorAll('[data-testid=tile]').length };
  }), 15000);
  out.layout = layout;
  out.side_tiles = layout.side;
  out.main_wider = layout.main > 2 * layout.sideWidth;
  // Leave by keyboard (the machine is busy with 30 video streams; no pointer animations needed).
  for (const p of people) {
    await p.page.focus('[data-testid=call-view] [data-testid=call-hangup]');
    await p.page.keyboard.press('Enter');
  }
  await people[0].page.waitForSelector('[data-testid=call-view]', { state: 'detached', timeout: 10000 });
}

async function main() {
  const [scenario, iss, ca, credA, credB, credC, ...moreCreds] = process.argv.slice(2);
  const out = { scenario, step: 'launch' };
  let browser;
  const t0 = Date.now();
  const stdin = readline.createInterface({ input: process.stdin });
  const lines = [];
  let wake = null;
  stdin.on('line', (l) => { lines.push(l); if (wake) wake(); });
  const waitRestart = async () => {
    process.stdout.write(JSON.stringify({ restart: true }) + '\n');
    await withTimeout(new Promise((r) => { if (lines.length) r(); else wake = r; }), 60000, 'palaverd restart');
  };
  try {
    browser = await launch({ iss, ca });
    const run = { call: scenarioCall, 'decline-ignore': scenarioDeclineIgnore, devices: scenarioDevices, restart: scenarioRestart, 'audio-only': scenarioAudioOnly, room: scenarioRoom, 'room-restart': scenarioRoomRestart, room6: (o, br, i, a, b, _w, c) => scenarioRoom6(o, br, i, a, b, c, ...moreCreds) }[scenario];
    if (!run) throw new Error(`unknown scenario ${scenario}`);
    await withTimeout(run(out, browser, iss, credA, credB, waitRestart, credC), Number(process.env.MEET_CALL_BUDGET_MS || (scenario === 'room6' ? 145000 : 140000)), scenario);
    if (process.env.PALAVER_MESH_TRACE && /^room/.test(scenario)) {
      const all = browser.contexts().flatMap((c) => c.pages());
      await collectTraces(all, all.map((_, i) => `browser${i + 1}`), scenario);
    }
    out.step = 'done';
    out.wall_ms = Date.now() - t0;
    process.stdout.write(JSON.stringify(out) + '\n');
  } catch (e) {
    out.error = String(e && e.stack || e);
    out.wall_ms = Date.now() - t0;
    if (browser) {
      out.console = [];
      for (const ctx of browser.contexts()) for (const p of ctx.pages()) out.console.push(...(p.log || []).slice(-15));
      if (/^room/.test(scenario)) {
        const all = browser.contexts().flatMap((c) => c.pages());
        out.trace = await collectTraces(all, all.map((_, i) => `browser${i + 1}`), `${scenario}-failed`, 60).catch(() => null);
      }
    }
    process.stdout.write(JSON.stringify(out) + '\n');
    process.exitCode = 1;
  } finally {
    stdin.close();
    if (browser) await browser.close().catch(() => {});
  }
}

main();
