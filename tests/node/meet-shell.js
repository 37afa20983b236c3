// The Meet web app's shell in a real browser: sign in through palaverd's sign-in page, the
// user's name on the main screen, the service worker and manifest (installable), the offline
// shell, and sign-out. usage: node meet-shell.js <issuer> <ca file> <user> <password>
// Prints one JSON object with what it saw; exits 1 on error.
'use strict';

const { launch, newPage, signIn, runScript } = require('./lib/meet');

const [iss, ca, username, password] = process.argv.slice(2);
const out = { step: 'launch' };
let browser;
let page;
runScript('meet-shell', 120000, out, () => ({ browser, page }), async () => {
  browser = await launch({ iss, ca });
  page = await newPage(browser);
  out.step = 'sign in';
  await signIn(page, iss, username, password);
  out.url = new URL(page.url()).pathname;
  out.name = (await page.textContent('[data-testid=user-name]')).trim();
  out.lang = await page.getAttribute('html', 'lang');
  out.step = 'service worker';
  out.sw = await page.evaluate(async () => {
    const reg = await navigator.serviceWorker.ready;
    return reg.active ? reg.active.scriptURL : null;
  });
  const manifest = await page.evaluate(async () => (await fetch(document.querySelector('link[rel=manifest]').href)).json());
  out.manifest = { start_url: manifest.start_url, display: manifest.display, icons: manifest.icons.length };
  out.step = 'offline';
  // Once the worker controls the page, the shell comes from its cache when the network is gone.
  await page.reload();
  await page.waitForSelector('[data-testid=user-name]');
  out.controlled = await page.evaluate(() => Boolean(navigator.serviceWorker.controller));
  await page.context().setOffline(true);
  await page.reload();
  await page.waitForSelector('.banner-warn', { timeout: 10000 });
  out.offline_text = (await page.textContent('.banner-warn')).trim();
  await page.context().setOffline(false);
  // The offline page goes on by itself once online (it may start a sign-in): a fresh tab of the
  // same browser profile goes on from here.
  const context = page.context();
  await page.close();
  page = await context.newPage();
  page.log = [];
  page.on('console', (m) => page.log.push(`${m.type()}: ${m.text()}`));
  out.step = 'sign out';
  await page.goto(iss + '/meet/');
  await page.waitForSelector('[data-testid=user-name]');
  await Promise.all([page.waitForURL(/signin\/v1\/goodbye|\/meet\//), page.click('text=Sign out')]);
  await page.waitForLoadState();
  out.after_signout = new URL(page.url()).pathname;
  // Signed out at the provider: opening the app again asks for a sign-in.
  await page.goto(iss + '/meet/');
  await page.waitForURL(/\/signin\/v1\/identifier/);
  out.signin_again = true;
});
