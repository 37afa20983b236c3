// The sign-in pages in a real browser (Debian's Chromium through playwright-core): Meet's
// authorization request, the sign-in page with keyboard only, a wrong then a right password,
// the redirect back with a code, the check-session iframe answering "unchanged"/"changed", end
// session, and the German page.
//
// usage: node signin-browser.js <issuer> <username> <password>
// Prints one JSON object with what it saw; exits 1 on error.
'use strict';

const crypto = require('crypto');
const { chromium } = require('playwright-core');

const [iss, username, password] = process.argv.slice(2);
const b64url = (buf) => buf.toString('base64').replace(/=+$/, '').replace(/\+/g, '-').replace(/\//g, '_');

// Meet's OIDC settings come from config.json, with kpop's defaults for empty values.
const meet = { authority: iss, clientId: `kpop-${iss}/meet/`, scope: 'openid profile email kopano/kwm kopano/gc kopano/kvs' };

function authorizeUrl() {
  const verifier = b64url(crypto.randomBytes(32));
  const params = new URLSearchParams({
    client_id: meet.clientId, redirect_uri: `${iss}/meet/#oidc-callback`, response_type: 'code',
    response_mode: 'fragment', scope: meet.scope, state: 'browser-state', nonce: 'browser-nonce',
    code_challenge: b64url(crypto.createHash('sha256').update(verifier).digest()), code_challenge_method: 'S256',
    claims: JSON.stringify({ id_token: { name: null } }),
  });
  return `${meet.authority}/signin/v1/identifier/_/authorize?${params}`;
}

// Asks the check-session iframe about a session_state from a same-origin page, as oidc-client does.
async function checkSession(page, clientId, sessionState) {
  return page.evaluate(async ({ iss, message }) => {
    const frame = document.createElement('iframe');
    frame.src = `${iss}/konnect/v1/session/check-session.html`;
    const loaded = new Promise((resolve) => { frame.onload = resolve; });
    document.body.appendChild(frame);
    await loaded;
    return new Promise((resolve) => {
      const timer = setTimeout(() => resolve('timeout'), 5000);
      window.addEventListener('message', function onMessage(e) {
        if (e.source !== frame.contentWindow) return;
        window.removeEventListener('message', onMessage);
        clearTimeout(timer);
        frame.remove();
        resolve(e.data);
      });
      frame.contentWindow.postMessage(message, iss);
    });
  }, { iss, message: `${clientId} ${sessionState}` });
}

async function main() {
  const out = {};
  const browser = await chromium.launch({
    executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
    headless: true,
    args: ['--no-sandbox', '--disable-gpu', '--no-first-run', '--disable-background-networking',
           '--disable-component-update', '--disable-sync', '--proxy-server=http://127.0.0.1:9',
           '--proxy-bypass-list=<-loopback>;localhost;127.0.0.1'],
  });
  try {
    const context = await browser.newContext({ ignoreHTTPSErrors: true, locale: 'en-US' });
    // The redirects land on /meet/, where palaverd serves the Meet app, which would start its own
    // sign-in; this test is about the provider's pages, so /meet/ is an empty page here.
    await context.route((u) => u.pathname === '/meet/', (r) => r.fulfill({ status: 200, contentType: 'text/html', body: '<!doctype html><title>landing</title>' }));
    const page = await context.newPage();
    const config = await (await page.request.get(`${iss}/api/config/v1/kopano/meet/config.json`,
                                                 { headers: { 'Kopano-XSRF': '1' } })).json();
    out.config_oidc = config.oidc;
    meet.authority = config.oidc.iss || iss;
    meet.clientId = config.oidc.clientID || `kpop-${iss}/meet/`;
    meet.scope = config.oidc.scope || meet.scope;
    const discovery = await (await page.request.get(`${meet.authority}/.well-known/openid-configuration`)).json();
    out.authorization_endpoint = discovery.authorization_endpoint;
    await page.goto(authorizeUrl());
    out.signin_url = new URL(page.url()).pathname;
    out.lang = await page.getAttribute('html', 'lang');
    out.focused = await page.evaluate(() => document.activeElement && document.activeElement.id);
    // Keyboard only: type into the focused field, Tab, type, Enter.
    await page.keyboard.type(username);
    await page.keyboard.press('Tab');
    await page.keyboard.type('wrong-password');
    await Promise.all([page.waitForNavigation(), page.keyboard.press('Enter')]);
    out.wrong_alert = (await page.textContent('[role=alert]')).trim();
    out.focused_after_error = await page.evaluate(() => document.activeElement && document.activeElement.id);
    await page.keyboard.type(password);
    await Promise.all([page.waitForURL(/\/meet\/#oidc-callback&/, { timeout: 15000 }), page.keyboard.press('Enter')]);
    const fragment = new URLSearchParams(new URL(page.url()).hash.replace(/^#oidc-callback&/, ''));
    out.code = Boolean(fragment.get('code'));
    out.state = fragment.get('state');
    out.scope = fragment.get('scope');
    const sessionState = fragment.get('session_state');
    const clientId = meet.clientId;
    out.session_unchanged = await checkSession(page, clientId, sessionState);
    out.session_other = await checkSession(page, clientId, `${'0'.repeat(64)}.${sessionState.split('.')[1]}`);
    // Signing out clears the browser state: the same session_state is now "changed".
    await page.goto(`${iss}/signin/v1/identifier/_/endsession?post_logout_redirect_uri=${encodeURIComponent(`${iss}/meet/#oidc-endsession-callback`)}`);
    out.after_logout_url = new URL(page.url()).pathname;
    out.session_after_logout = await checkSession(page, clientId, sessionState);
    // Signed out: Meet's silent attempt fails with login_required.
    // Asked with the context's cookies but without following the redirect: the answer is in its
    // Location (a navigation would land on /meet/, whose stand-in page made reading it racy).
    const silent = await page.request.get(`${authorizeUrl()}&prompt=none`, { maxRedirects: 0 });
    const location = silent.headers().location || '';
    out.silent_after_logout = new URLSearchParams(new URL(location, iss).hash.replace(/^#oidc-callback&/, '')).get('error');
    await page.close();

    const germanContext = await browser.newContext({ ignoreHTTPSErrors: true, locale: 'de-DE' });
    const german = await germanContext.newPage();
    await german.goto(`${iss}/signin/v1/identifier`);
    out.german_lang = await german.getAttribute('html', 'lang');
    out.german_button = (await german.textContent('button')).trim();
  } finally {
    await browser.close();
  }
  process.stdout.write(JSON.stringify(out) + '\n');
}

main().catch((e) => {
  process.stderr.write(`signin-browser: ${e.stack || e}\n`);
  process.exit(1);
});
