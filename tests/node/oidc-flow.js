// Drives palaverd's OpenID Connect provider with a real relying-party library (openid-client):
// discovery, the code flow with PKCE for Meet's same-origin public client, signing in through the
// sign-in JSON API (as konnect's sign-in app does), the code exchange with ID token verification
// against the JWKS, userinfo, and a confidential client's refresh token rotation.
//
// usage: node oidc-flow.js <issuer> <username> <password> <confidential-client-secret>
// Trusts the CA in NODE_EXTRA_CA_CERTS. Prints one JSON object with what it saw; exits 1 on error.
'use strict';

const https = require('https');
const { Issuer, generators, errors } = require('openid-client');

const [issuerUrl, username, password, appSecret] = process.argv.slice(2);

// A minimal browser: one request, no redirects followed, cookies kept by name.
const jar = new Map();
function request(method, url, { body, headers = {} } = {}) {
  return new Promise((resolve, reject) => {
    const cookie = [...jar].map(([k, v]) => `${k}=${v}`).join('; ');
    const all = { ...headers, ...(cookie ? { Cookie: cookie } : {}), ...(body ? { 'Content-Length': Buffer.byteLength(body) } : {}) };
    const req = https.request(url, { method, headers: all }, (res) => {
      let data = '';
      res.setEncoding('utf8');
      res.on('data', (c) => { data += c; });
      res.on('end', () => {
        for (const line of res.headers['set-cookie'] || []) {
          const [pair, ...attrs] = line.split(';');
          const [name, value] = [pair.slice(0, pair.indexOf('=')), pair.slice(pair.indexOf('=') + 1)];
          if (!value || attrs.some((a) => a.trim().toLowerCase() === 'max-age=0')) jar.delete(name);
          else jar.set(name, value);
        }
        resolve({ status: res.statusCode, headers: res.headers, body: data });
      });
    });
    req.setTimeout(15000, () => req.destroy(new Error('timeout')));
    req.on('error', reject);
    if (body) req.write(body);
    req.end();
  });
}

function expect(cond, what) {
  if (!cond) throw new Error(`expectation failed: ${what}`);
}

async function signIn() {
  const res = await request('POST', `${issuerUrl}/signin/v1/identifier/_/logon`, {
    body: JSON.stringify({ state: 'node', params: [username, password, '1'] }),
    headers: { 'Content-Type': 'application/json', 'Kopano-Konnect-XSRF': '1', Origin: issuerUrl },
  });
  expect(res.status === 200, `logon answered ${res.status}`);
  expect(jar.has('__Secure-KKT'), 'logon set the sign-in cookie');
}

async function main() {
  const out = {};
  const issuer = await Issuer.discover(issuerUrl);
  out.issuer = issuer.metadata.issuer;
  const alg = issuer.metadata.id_token_signing_alg_values_supported[0];

  // Meet's client: kpop-<appBaseURL>, public, same origin, code + PKCE.
  const redirect = `${issuerUrl}/meet/`;
  const meet = new issuer.Client({
    client_id: `kpop-${redirect}`, redirect_uris: [redirect], response_types: ['code'],
    token_endpoint_auth_method: 'none', id_token_signed_response_alg: alg,
  });
  const verifier = generators.codeVerifier();
  const state = generators.state();
  const nonce = generators.nonce();
  const authUrl = meet.authorizationUrl({
    scope: 'openid profile email kopano/kwm kopano/gc kopano/kvs', state, nonce,
    code_challenge: generators.codeChallenge(verifier), code_challenge_method: 'S256',
    claims: { id_token: { name: null } },
  });
  let res = await request('GET', authUrl);
  expect(res.status === 302 && res.headers.location.startsWith('/signin/v1/identifier?'), 'sent to the sign-in page');
  await signIn();
  res = await request('GET', authUrl);
  expect(res.status === 302 && res.headers.location.startsWith(redirect), `redirected back (${res.headers.location})`);
  const params = meet.callbackParams(res.headers.location);
  const grantedScope = new URL(res.headers.location).searchParams.get('scope');
  const tokens = await meet.callback(redirect, params, { code_verifier: verifier, state, nonce });
  const claims = tokens.claims(); // verified: signature (JWKS), iss, aud, exp, iat, nonce
  out.meet = { sub: claims.sub, name: claims.name, aud: claims.aud, alg, scope: grantedScope, session_state: params.session_state,
               expires_in: tokens.expires_in, has_refresh_token: Boolean(tokens.refresh_token) };
  out.userinfo = await meet.userinfo(tokens.access_token);

  // The same code again is refused.
  try {
    await meet.callback(redirect, params, { code_verifier: verifier, state, nonce });
    out.code_replay = 'accepted';
  } catch (e) {
    out.code_replay = e instanceof errors.OPError ? e.error : String(e);
  }
  // A wrong verifier is refused.
  res = await request('GET', authUrl);
  try {
    await meet.callback(redirect, meet.callbackParams(res.headers.location),
                        { code_verifier: generators.codeVerifier(), state, nonce });
    out.wrong_verifier = 'accepted';
  } catch (e) {
    out.wrong_verifier = e instanceof errors.OPError ? e.error : String(e);
  }

  // A registered confidential client (client_secret_basic) with offline_access: refresh rotation.
  const app = new issuer.Client({
    client_id: 'app', client_secret: appSecret, redirect_uris: ['https://app.example/cb'], response_types: ['code'],
    id_token_signed_response_alg: alg,
  });
  const appState = generators.state();
  const appNonce = generators.nonce();
  res = await request('GET', app.authorizationUrl({ scope: 'openid profile offline_access', state: appState, nonce: appNonce }));
  expect(res.status === 302 && res.headers.location.startsWith('https://app.example/cb?'), 'app redirect');
  const appTokens = await app.callback('https://app.example/cb', app.callbackParams(res.headers.location),
                                       { state: appState, nonce: appNonce });
  const refreshed = await app.refresh(appTokens.refresh_token);
  out.app = { sub: appTokens.claims().sub, refreshed_sub: refreshed.claims().sub,
              rotated: refreshed.refresh_token !== appTokens.refresh_token };
  try {
    await app.refresh(appTokens.refresh_token);
    out.refresh_reuse = 'accepted';
  } catch (e) {
    out.refresh_reuse = e instanceof errors.OPError ? e.error : String(e);
  }
  process.stdout.write(JSON.stringify(out) + '\n');
}

main().catch((e) => {
  process.stderr.write(`oidc-flow: ${e.stack || e}\n`);
  process.exit(1);
});
