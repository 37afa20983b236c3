// Helpers for driving palaverd from node tests: HTTPS requests with a cookie jar, signing in
// through the OpenID provider (sign-in API + code flow with PKCE), and a kwm RTM client over a
// real WebSocket (the `ws` package). Trusts NODE_EXTRA_CA_CERTS.
'use strict';

const crypto = require('crypto');
const https = require('https');
const WebSocket = require('ws');

const b64url = (buf) => buf.toString('base64').replace(/=+$/, '').replace(/\+/g, '-').replace(/\//g, '_');

function request(method, url, { body, headers = {}, jar } = {}) {
  return new Promise((resolve, reject) => {
    const all = { ...headers };
    if (jar && jar.size) all.Cookie = [...jar].map(([k, v]) => `${k}=${v}`).join('; ');
    if (body !== undefined) all['Content-Length'] = Buffer.byteLength(body);
    const req = https.request(url, { method, headers: all }, (res) => {
      let data = '';
      res.setEncoding('utf8');
      res.on('data', (c) => { data += c; });
      res.on('end', () => {
        for (const line of (jar && res.headers['set-cookie']) || []) {
          const pair = line.split(';')[0];
          const name = pair.slice(0, pair.indexOf('='));
          const value = pair.slice(pair.indexOf('=') + 1);
          if (!value || /max-age=0/i.test(line)) jar.delete(name); else jar.set(name, value);
        }
        resolve({ status: res.statusCode, headers: res.headers, body: data });
      });
    });
    req.setTimeout(15000, () => req.destroy(new Error(`timeout: ${method} ${url}`)));
    req.on('error', reject);
    if (body !== undefined) req.write(body);
    req.end();
  });
}

const form = (o) => new URLSearchParams(o).toString();

// Signs `user` in as the Meet app does and returns { access_token, id_token, scope }.
async function signIn(iss, user, password, scope = 'openid profile email kopano/kwm kopano/gc kopano/kvs') {
  const jar = new Map();
  const logon = await request('POST', `${iss}/signin/v1/identifier/_/logon`, {
    jar, body: JSON.stringify({ state: 's', params: [user, password, '1'] }),
    headers: { 'Content-Type': 'application/json', 'Kopano-Konnect-XSRF': '1', Origin: iss },
  });
  if (logon.status !== 200) throw new Error(`logon ${user}: ${logon.status}`);
  const verifier = b64url(crypto.randomBytes(32));
  const redirect = `${iss}/meet/`;
  const params = {
    client_id: `kpop-${redirect}`, redirect_uri: redirect, response_type: 'code', scope, state: 'st', nonce: 'n',
    code_challenge: b64url(crypto.createHash('sha256').update(verifier).digest()), code_challenge_method: 'S256',
    claims: JSON.stringify({ id_token: { name: null } }), prompt: 'none',
  };
  const auth = await request('GET', `${iss}/signin/v1/identifier/_/authorize?${form(params)}`, { jar });
  const code = new URL(auth.headers.location).searchParams.get('code');
  if (!code) throw new Error(`authorize ${user}: ${auth.status} ${auth.headers.location}`);
  const token = await request('POST', `${iss}/konnect/v1/token`, {
    body: form({ grant_type: 'authorization_code', code, client_id: params.client_id, redirect_uri: redirect,
                 code_verifier: verifier }),
    headers: { 'Content-Type': 'application/x-www-form-urlencoded' },
  });
  if (token.status !== 200) throw new Error(`token ${user}: ${token.status} ${token.body}`);
  return JSON.parse(token.body);
}

// A guest as Meet signs one in: guest/logon, then the implicit flow with the request object.
async function signInGuest(iss, path, name) {
  const clientId = `kpop-${iss}/meet/`;
  const scope = 'openid profile email kopano/kwm kopano/gc kopano/kvs';
  const logon = await request('POST', `${iss}/api/kwm/v2/guest/logon`, {
    body: form({ guest: '1', path, name, token: '', user: 'false', scope: `${scope} konnect/guestok`, iss,
                 client_id: clientId, locale: 'en' }),
    headers: { 'Content-Type': 'application/x-www-form-urlencoded' },
  });
  if (logon.status !== 200) return { status: logon.status, body: logon.body };
  const reply = JSON.parse(logon.body);
  const params = { client_id: clientId, redirect_uri: `${iss}/meet/#oidc-silent-refresh`, response_type: 'id_token token',
                   scope, state: 'g', nonce: 'gn', prompt: 'none', request: reply.eqp.request };
  const auth = await request('GET', `${iss}/signin/v1/identifier/_/authorize?${form(params)}`);
  const fragment = new URLSearchParams(new URL(auth.headers.location).hash.replace(/^#oidc-silent-refresh&/, ''));
  if (!fragment.get('access_token')) throw new Error(`guest authorize: ${auth.headers.location}`);
  return { status: 200, logon: reply, access_token: fragment.get('access_token'), id_token: fragment.get('id_token'),
           scope: fragment.get('scope') };
}

async function rtmConnect(iss, tokens, extra = {}) {
  return request('POST', `${iss}/api/kwm/v2/rtm/connect`, {
    body: form({ id_token: tokens.id_token, ...extra }),
    headers: { 'Content-Type': 'application/x-www-form-urlencoded; charset=UTF-8',
               Authorization: `Bearer ${tokens.access_token}` },
  });
}

// One RTM connection: collects every message; `next(pred)` waits for the first unseen match.
class Rtm {
  constructor(ws, hello, connect) {
    this.ws = ws;
    this.hello = hello;
    this.connect = connect;
    this.id = 0;
    this.inbox = [];
    this.waiters = [];
    this.closed = null;
    ws.on('message', (data) => this.deliver(JSON.parse(data.toString())));
    ws.on('close', (code, reason) => {
      this.closed = { code, reason: reason.toString() };
      for (const w of this.waiters.splice(0)) w.check();
    });
  }

  static async open(iss, tokens, extra = {}) {
    const res = await rtmConnect(iss, tokens, extra);
    if (res.status !== 200) throw new Error(`connect: ${res.status} ${res.body}`);
    const connect = JSON.parse(res.body);
    const url = `${iss.replace(/^https/, 'wss')}${connect.url}`;
    const ws = new WebSocket(url, { ca: undefined });
    const first = await new Promise((resolve, reject) => {
      ws.once('message', (data) => resolve(JSON.parse(data.toString())));
      ws.once('error', reject);
      ws.once('unexpected-response', (req, res) => reject(new Error(`upgrade refused: ${res.statusCode}`)));
    });
    const rtm = new Rtm(ws, first, connect);
    Rtm.open_sockets.add(rtm);
    ws.on('close', () => Rtm.open_sockets.delete(rtm));
    return rtm;
  }

  // Ends every connection still open: a test that fails half-way skips its own close() calls, and
  // an open socket would keep `node --test` from exiting (a hang instead of a failure).
  static closeAll() {
    for (const rtm of Rtm.open_sockets) rtm.ws.terminate();
    Rtm.open_sockets.clear();
  }

  deliver(msg) {
    this.inbox.push(msg);
    for (const w of [...this.waiters]) w.check();
  }

  send(msg) {
    this.id += 1;
    const full = { id: this.id, ...msg };
    this.ws.send(JSON.stringify(full));
    return this.id;
  }

  sendRaw(text) {
    this.ws.send(text);
  }

  // The first message (not yet taken) matching `pred`, within `ms`.
  next(pred, ms = 3000, what = 'message') {
    return new Promise((resolve, reject) => {
      const waiter = {
        check: () => {
          const i = this.inbox.findIndex(pred);
          if (i >= 0) {
            const [m] = this.inbox.splice(i, 1);
            clearTimeout(waiter.timer);
            this.waiters.splice(this.waiters.indexOf(waiter), 1);
            resolve(m);
          } else if (this.closed) {
            clearTimeout(waiter.timer);
            this.waiters.splice(this.waiters.indexOf(waiter), 1);
            reject(new Error(`closed (${this.closed.code}) while waiting for ${what}`));
          }
        },
      };
      waiter.timer = setTimeout(() => {
        this.waiters.splice(this.waiters.indexOf(waiter), 1);
        reject(new Error(`timeout waiting for ${what}; inbox: ${JSON.stringify(this.inbox).slice(0, 600)}`));
      }, ms);
      this.waiters.push(waiter);
      waiter.check();
    });
  }

  // Nothing matching `pred` arrives within `ms`.
  async none(pred, ms = 400) {
    await new Promise((r) => setTimeout(r, ms));
    const hit = this.inbox.find(pred);
    if (hit) throw new Error(`unexpected message: ${JSON.stringify(hit)}`);
  }

  waitClosed(ms = 3000) {
    return new Promise((resolve, reject) => {
      if (this.closed) return resolve(this.closed);
      const timer = setTimeout(() => reject(new Error('socket not closed')), ms);
      this.ws.once('close', (code, reason) => { clearTimeout(timer); resolve({ code, reason: reason.toString() }); });
    });
  }

  close() {
    this.ws.close();
  }
}

Rtm.open_sockets = new Set();

module.exports = { request, form, signIn, signInGuest, rtmConnect, Rtm, b64url };
