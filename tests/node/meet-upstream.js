// The Meet app signing in through an upstream OpenID provider ([oidc] upstream_issuer) in a real
// browser: Meet → Palaver's sign-in page → "Sign in with …" → the upstream's sign-in page →
// back to Palaver → Meet's main screen; sign-out goes through the upstream's end session, so the
// next sign-in asks the upstream for a password again. Both providers are real palaverds on
// different hosts (127.0.0.1 and localhost), so their cookies stay apart as they would in a
// real deployment.
// usage: node meet-upstream.js <issuer> <ca file> <upstream issuer> <upstream ca file> <user> <password>
// Prints one JSON object with what it saw; exits 1 on error.
'use strict';

const { chromium } = require('playwright-core');
const { newPage, runScript, trustedSpkis } = require('./lib/meet');

const [iss, ca, upIss, upCa, username, password] = process.argv.slice(2);
const out = { step: 'launch' };
let browser;
let page;
runScript('meet-upstream', 120000, out, () => ({ browser, page }), async () => {
  const spkis = [...new Set([...(await trustedSpkis(ca, iss)), ...(await trustedSpkis(upCa, upIss))])];
  browser = await chromium.launch({
    executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
    headless: true,
    args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking',
           '--disable-component-update', '--disable-sync', '--disable-default-apps', '--disable-extensions',
           '--use-fake-device-for-media-stream', '--use-fake-ui-for-media-stream',
           '--proxy-server=http://127.0.0.1:9', '--proxy-bypass-list=<-loopback>;localhost;127.0.0.1',
           '--host-resolver-rules=MAP localhost 127.0.0.1, MAP localhost. 127.0.0.1, MAP * ~NOTFOUND, EXCLUDE 127.0.0.1',
           `--ignore-certificate-errors-spki-list=${spkis.join(',')}`],
  });
  page = await newPage(browser);
  const visited = [];
  page.on('framenavigated', (f) => { if (f === page.mainFrame()) visited.push(f.url()); });
  page.on('response', (r) => { if (r.status() >= 300 && r.status() < 400) visited.push(`${r.url()} -> ${r.headers().location}`); });
  const at = (base, path) => (u) => u.origin === new URL(base).origin && u.pathname.startsWith(path);

  out.step = 'sign-in page';
  await page.goto(iss + '/meet/');
  await page.waitForURL(at(iss, '/signin/v1/identifier'));
  out.button = (await page.textContent('a.button')).trim();
  out.step = 'upstream sign-in page';
  await Promise.all([page.waitForURL(at(upIss, '/signin/v1/identifier')), page.click('a.button')]);
  await page.fill('#username', username);
  await page.fill('#password', password);
  out.step = 'back to Meet';
  await Promise.all([page.waitForURL((u) => at(iss, '/meet/')(u) && !u.href.includes('oidc-callback')),
                     page.press('#password', 'Enter')]);
  await page.waitForSelector('[data-testid=user-name]');
  out.name = (await page.textContent('[data-testid=user-name]')).trim();
  out.cookies = (await page.context().cookies()).map((c) => `${c.domain}${c.path} ${c.name} ${c.value.length}`);
  out.via_callback = visited.some((u) => u.startsWith(iss + '/signin/v1/identifier/_/upstream/callback'));

  out.step = 'sign out';
  visited.length = 0;
  out.visited = visited;
  await page.click('text=Sign out');
  await page.waitForURL((u) => u.origin === new URL(iss).origin && visited.some((v) => v.startsWith(upIss)), { timeout: 20000 });
  await page.waitForLoadState();
  out.upstream_endsession = visited.some((u) => u.startsWith(upIss + '/signin/v1/identifier/_/endsession'));
  out.back_home = visited.some((u) => u.startsWith(iss + '/signin/v1/identifier/_/upstream/signedout'));
  delete out.visited;

  out.step = 'sign in again';
  // Back in Meet, signed out: the app starts a new sign-in by itself (or does when opened again).
  try {
    await page.waitForURL(at(iss, '/signin/v1/identifier'), { timeout: 10000 });
  } catch (e) {
    await page.goto(iss + '/meet/');
    await page.waitForURL(at(iss, '/signin/v1/identifier'));
  }
  await page.waitForSelector('a.button');
  await Promise.all([page.waitForURL(at(upIss, '/signin/v1/identifier')), page.click('a.button')]);
  // Signed out at the upstream too: it asks for the password again.
  out.password_asked_again = (await page.locator('#password').count()) === 1;
});
