import { describe, expect, it } from 'vitest';
import { resolveConfig } from '../config';
import {
  atHashMatches,
  authorizeUrl,
  b64urlEncode,
  GuestError,
  guestLogonForm,
  guestPolicyRefusal,
  guestSignIn,
  isPublicRoom,
  logonRefusal,
  parseImplicitResponse,
  wantsGuest,
} from './guest-flow';

const ORIGIN = 'https://meet.example';
const config = (guests: Record<string, unknown> = {}) =>
  resolveConfig({ guests: { enabled: true, publicGroupRegexp: '^group/public/.*', ...guests } }, ORIGIN);

const enc = (o: unknown) => b64urlEncode(new TextEncoder().encode(JSON.stringify(o)));
const jwt = (claims: Record<string, unknown>, alg = 'ES256') => `${enc({ alg, kid: 'k' })}.${enc(claims)}.c2ln`;

async function atHash(token: string): Promise<string> {
  const d = new Uint8Array(await crypto.subtle.digest('SHA-256', new TextEncoder().encode(token)));
  return b64urlEncode(d.slice(0, 16));
}

const redirectUri = `${ORIGIN}/meet/guest-callback.html`;
const expected = { state: 'st', nonce: 'nn', issuer: ORIGIN, clientId: `kpop-${ORIGIN}/meet/`, redirectUri, now: 1000 };
const goodClaims = { iss: ORIGIN, sub: 'g1', aud: `kpop-${ORIGIN}/meet/`, exp: 1600, nonce: 'nn', name: '(Guest)Gina' };
const answer = (params: Record<string, string>) => `${redirectUri}#${new URLSearchParams(params)}`;

describe('guest policy', () => {
  it('public rooms follow the config regexp', () => {
    expect(isPublicRoom('^group/public/.*', 'group', 'public/x')).toBe(true);
    expect(isPublicRoom('^group/public/.*', 'group', 'board')).toBe(false);
    expect(isPublicRoom('^group/public/.*', 'conference', 'public/x')).toBe(false);
    expect(isPublicRoom('([', 'group', 'public/x')).toBe(false);
  });
  it('refuses before asking the server when the config says so', () => {
    expect(guestPolicyRefusal(config({ enabled: false }), 'group', 'public/x')).toBe('disabled');
    expect(guestPolicyRefusal(config(), 'group', 'board')).toBe('notPublic');
    expect(guestPolicyRefusal(config(), 'group', 'public/x')).toBeNull();
  });
  it('guest mode from #guest or guests.default', () => {
    expect(wantsGuest(true, true, config())).toBe(true);
    expect(wantsGuest(false, true, config({ default: '1' }))).toBe(false); // #guest=0 wins
    expect(wantsGuest(false, false, config({ default: '1' }))).toBe(true);
    expect(wantsGuest(false, false, config())).toBe(false);
  });
  it('maps the server\'s refusals', () => {
    expect(logonRefusal(403, 'guest access is disabled')).toBe('disabled');
    expect(logonRefusal(403, 'guest access denied')).toBe('notPublic');
    expect(logonRefusal(404, 'guest access is not set up')).toBe('notSetUp');
    expect(logonRefusal(503, '')).toBe('notSetUp');
    expect(logonRefusal(429, '')).toBe('tooMany');
    expect(logonRefusal(501, '')).toBe('tokenUnsupported');
    expect(logonRefusal(400, 'empty path')).toBe('signInFailed');
  });
});

describe('guest logon and authorize requests', () => {
  it('posts what Meet posts', () => {
    const f = guestLogonForm({ path: 'group/public/x', name: 'Gina', scope: 'openid kopano/kwm', iss: ORIGIN, clientId: 'c', locale: 'de' });
    expect(Object.fromEntries(f)).toEqual({
      guest: '1', path: 'group/public/x', name: 'Gina', token: '', user: 'false', scope: 'openid kopano/kwm konnect/guestok',
      iss: ORIGIN, client_id: 'c', locale: 'de',
    });
  });
  it('asks for id_token token with prompt=none and the request object', () => {
    const u = new URL(authorizeUrl({ endpoint: `${ORIGIN}/signin/v1/identifier/_/authorize?x=1`, clientId: 'c', redirectUri, scope: 'openid', state: 's', nonce: 'n', request: 'R' }));
    expect(Object.fromEntries(u.searchParams)).toEqual({
      client_id: 'c', redirect_uri: redirectUri, response_type: 'id_token token', response_mode: 'fragment', scope: 'openid',
      state: 's', nonce: 'n', prompt: 'none', request: 'R',
    });
  });
});

describe('the implicit answer', () => {
  it('is accepted with the right state, nonce, issuer, audience and expiry', () => {
    const r = parseImplicitResponse(answer({ access_token: 'AT', id_token: jwt(goodClaims), token_type: 'Bearer', expires_in: '600', scope: 'openid kopano/kwm', state: 'st' }), expected);
    expect(r).toMatchObject({ accessToken: 'AT', tokenType: 'Bearer', expiresAt: 1600, scopes: ['openid', 'kopano/kwm'], alg: 'ES256' });
    expect(r.claims.sub).toBe('g1');
  });
  const bad: [string, string, Record<string, unknown>?][] = [
    ['state mismatch', 'state'],
    ['nonce mismatch', 'nonce', { nonce: 'other' }],
    ['wrong issuer', 'iss', { iss: 'https://evil.example' }],
    ['wrong audience', 'aud', { aud: 'someone-else' }],
    ['ID token expired', 'exp', { exp: 100 }],
  ];
  for (const [msg, what, claims] of bad) {
    it(`is refused: ${what}`, () => {
      const p = { access_token: 'AT', id_token: jwt({ ...goodClaims, ...claims }), state: what === 'state' ? 'forged' : 'st' };
      expect(() => parseImplicitResponse(answer(p), expected)).toThrow(msg);
    });
  }
  it('reports the provider\'s error and refuses foreign pages and missing tokens', () => {
    expect(() => parseImplicitResponse(answer({ error: 'login_required', state: 'st' }), expected)).toThrow('login_required');
    expect(() => parseImplicitResponse(`${ORIGIN}/elsewhere#state=st&access_token=a&id_token=b`, expected)).toThrow('unexpected page');
    expect(() => parseImplicitResponse(answer({ state: 'st', access_token: 'AT' }), expected)).toThrow('tokens missing');
    expect(() => parseImplicitResponse(answer({ state: 'st', access_token: 'AT', id_token: 'x.y' }), expected)).toThrow('not a JWT');
    try {
      parseImplicitResponse('nonsense', expected);
    } catch (e) {
      expect(e).toBeInstanceOf(GuestError);
      expect((e as GuestError).kind).toBe('signInFailed');
    }
  });
  it('checks at_hash (OIDC Core 3.2.2.9)', async () => {
    expect(await atHashMatches('AT', await atHash('AT'), 'ES256')).toBe(true);
    expect(await atHashMatches('AT', await atHash('other'), 'ES256')).toBe(false);
    expect(await atHashMatches('AT', undefined, 'ES256')).toBe(false);
  });
});

describe('guestSignIn', () => {
  function fakeServer(logon: { status: number; body: string }) {
    const calls: { url: string; body?: string }[] = [];
    const fetchFn = (async (url: string, init?: RequestInit) => {
      calls.push({ url, body: init?.body ? String(init.body) : undefined });
      if (url.endsWith('/guest/logon')) return new Response(logon.body, { status: logon.status });
      if (url.endsWith('/.well-known/openid-configuration')) {
        return Response.json({ authorization_endpoint: `${ORIGIN}/signin/v1/identifier/_/authorize` });
      }
      return new Response('', { status: 404 });
    }) as typeof fetch;
    return { calls, fetchFn };
  }
  const ok = { status: 200, body: JSON.stringify({ ok: true, eqp: { request: 'REQ' }, id: 'x@1.kwmguest', name: 'Gina' }) };

  it('logs on, runs the implicit flow in the frame and returns a guest user', async () => {
    const { calls, fetchFn } = fakeServer(ok);
    let framed = '';
    const runFrame = async (url: string) => {
      framed = url;
      const q = new URL(url).searchParams;
      const claims = { ...goodClaims, nonce: q.get('nonce'), exp: 5000, at_hash: await atHash('AT') };
      return answer({ access_token: 'AT', id_token: jwt(claims), token_type: 'Bearer', expires_in: '600', scope: 'openid profile email kopano/kwm konnect/guestok', state: q.get('state')! });
    };
    const s = await guestSignIn(config(), { scope: 'group', id: 'public/x' }, 'Gina', 'en', { fetchFn, runFrame, origin: ORIGIN, now: () => 1000 });
    expect(calls[0].url).toBe(`${ORIGIN}/api/kwm/v2/guest/logon`);
    expect(new URLSearchParams(calls[0].body).get('path')).toBe('group/public/x');
    expect(new URLSearchParams(calls[0].body).get('name')).toBe('Gina');
    expect(new URL(framed).searchParams.get('request')).toBe('REQ');
    expect(new URL(framed).searchParams.get('prompt')).toBe('none');
    expect(s.request).toBe('REQ');
    expect(s.user).toMatchObject({ sub: 'g1', name: '(Guest)Gina', accessToken: 'AT', guest: true, expiresAt: 1600 });
    expect(s.user.scopes).not.toContain('kopano/gc');
  });
  it('refuses a token whose at_hash does not match', async () => {
    const { fetchFn } = fakeServer(ok);
    const runFrame = async (url: string) => {
      const q = new URL(url).searchParams;
      return answer({ access_token: 'AT', id_token: jwt({ ...goodClaims, nonce: q.get('nonce'), at_hash: await atHash('forged') }), state: q.get('state')! });
    };
    await expect(guestSignIn(config(), { scope: 'group', id: 'public/x' }, 'Gina', 'en', { fetchFn, runFrame, origin: ORIGIN, now: () => 1000 })).rejects.toThrow('at_hash');
  });
  it('each refusal of the server has its kind', async () => {
    for (const [status, text, kind] of [[403, 'guest access is disabled', 'disabled'], [403, 'guest access denied', 'notPublic'], [429, 'too many guest logons', 'tooMany']] as const) {
      const { fetchFn } = fakeServer({ status, body: text });
      const err = await guestSignIn(config(), { scope: 'group', id: 'public/x' }, 'G', 'en', { fetchFn, runFrame: async () => '', origin: ORIGIN }).catch((e) => e);
      expect(err).toBeInstanceOf(GuestError);
      expect(err.kind).toBe(kind);
    }
  });
  it('does not ask the server when the config already refuses', async () => {
    const { calls, fetchFn } = fakeServer(ok);
    const err = await guestSignIn(config(), { scope: 'group', id: 'board' }, 'G', 'en', { fetchFn, runFrame: async () => '', origin: ORIGIN }).catch((e) => e);
    expect(err.kind).toBe('notPublic');
    expect(calls).toEqual([]);
  });
  it('an unreachable server is its own case', async () => {
    const fetchFn = (async () => {
      throw new TypeError('Failed to fetch');
    }) as typeof fetch;
    const err = await guestSignIn(config(), { scope: 'group', id: 'public/x' }, 'G', 'en', { fetchFn, runFrame: async () => '', origin: ORIGIN }).catch((e) => e);
    expect(err.kind).toBe('unreachable');
  });
});
