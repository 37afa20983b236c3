// Guest sign-in (spec kopano-services.md §1.12, kwm-protocol.md §2.6): someone without an account
// follows a link to a public room. The app asks kwm's guest logon for a request object signed by
// the provider, then runs the implicit `id_token token` flow with it in a hidden iframe
// (prompt=none), landing on /meet/guest-callback.html, which hands the answer to this window.
// oidc-client-ts v3 has no implicit flow, hence this small one: state, nonce, issuer, audience,
// expiry and at_hash are checked here. The pure parts are exported for the unit tests.
import type { MeetConfig } from '../config';
import type { SignedInUser } from './oidc';

export const GUEST_CALLBACK_PATH = '/meet/guest-callback.html';
export const GUEST_MESSAGE_SOURCE = 'palaver-guest-callback';

/** Why a guest cannot come in. Each has its own message (rooms feature, `guestRefused_<kind>`). */
export type GuestRefusal =
  | 'disabled'
  | 'notPublic'
  | 'notSetUp'
  | 'tooMany'
  | 'tokenUnsupported'
  | 'unreachable'
  | 'signInFailed';

export class GuestError extends Error {
  constructor(
    readonly kind: GuestRefusal,
    message: string,
  ) {
    super(message);
  }
}

export type RoomScope = 'group' | 'conference';

/** `group/public/x` matches the config's public-room regexp (spec §4.2); a broken one matches nothing. */
export function isPublicRoom(regexp: string, scope: RoomScope, id: string): boolean {
  try {
    return new RegExp(regexp).test(`${scope}/${id}`);
  } catch {
    return false;
  }
}

/** The refusal the config already tells (guests off, not a public room), or null. */
export function guestPolicyRefusal(config: MeetConfig, scope: RoomScope, id: string): GuestRefusal | null {
  if (!config.guests.enabled) return 'disabled';
  if (!isPublicRoom(config.guests.publicGroupRegexp, scope, id)) return 'notPublic';
  return null;
}

/** Guest mode for this visit: `#guest=1`, or `guests.default` of the config (only type "1" exists). */
export function wantsGuest(fragmentGuest: boolean, hasGuestParam: boolean, config: MeetConfig): boolean {
  if (hasGuestParam) return fragmentGuest;
  return config.guests.default === '1';
}

export interface LogonInput {
  path: string;
  name: string;
  scope: string;
  iss: string;
  clientId: string;
  locale: string;
}

/** The form Meet posts to `/api/kwm/v2/guest/logon` (spec §1.12 step 2). */
export function guestLogonForm(i: LogonInput): URLSearchParams {
  return new URLSearchParams({
    guest: '1',
    path: i.path,
    name: i.name,
    token: '',
    user: 'false',
    scope: `${i.scope} konnect/guestok`,
    iss: i.iss,
    client_id: i.clientId,
    locale: i.locale,
  });
}

/** What palaverd's refusals of guest logon mean (modules/signaling: 403 texts, 404/503, 429, 501). */
export function logonRefusal(status: number, text: string): GuestRefusal {
  if (status === 403) return /disabled/i.test(text) ? 'disabled' : 'notPublic';
  if (status === 404 || status === 503) return 'notSetUp';
  if (status === 429) return 'tooMany';
  if (status === 501) return 'tokenUnsupported';
  if (status === 0) return 'unreachable';
  return 'signInFailed';
}

export interface LogonReply {
  request: string;
  id: string;
}

export function parseLogonReply(body: unknown): LogonReply {
  const b = body as { ok?: unknown; eqp?: { request?: unknown }; id?: unknown } | null;
  if (!b || b.ok !== true || typeof b.eqp?.request !== 'string' || !b.eqp.request) {
    throw new GuestError('signInFailed', 'guest logon: unexpected answer');
  }
  return { request: b.eqp.request, id: typeof b.id === 'string' ? b.id : '' };
}

export interface AuthorizeInput {
  endpoint: string;
  clientId: string;
  redirectUri: string;
  scope: string;
  state: string;
  nonce: string;
  request: string;
}

/** The implicit authorize request with the guest's request object (spec §1.12 step 4). */
export function authorizeUrl(i: AuthorizeInput): string {
  const u = new URL(i.endpoint);
  const q = new URLSearchParams({
    client_id: i.clientId,
    redirect_uri: i.redirectUri,
    response_type: 'id_token token',
    response_mode: 'fragment',
    scope: i.scope,
    state: i.state,
    nonce: i.nonce,
    prompt: 'none',
    request: i.request,
  });
  u.search = q.toString();
  return u.toString();
}

function b64urlDecode(s: string): Uint8Array {
  const b64 = s.replace(/-/g, '+').replace(/_/g, '/') + '==='.slice((s.length + 3) % 4);
  const bin = atob(b64);
  return Uint8Array.from(bin, (c) => c.charCodeAt(0));
}

export function b64urlEncode(bytes: Uint8Array): string {
  let s = '';
  bytes.forEach((b) => (s += String.fromCharCode(b)));
  return btoa(s).replace(/=+$/, '').replace(/\+/g, '-').replace(/\//g, '_');
}

export interface IdTokenClaims {
  iss: string;
  sub: string;
  aud: string | string[];
  exp: number;
  nonce?: string;
  at_hash?: string;
  name?: string;
  [k: string]: unknown;
}

/** The ID token's header and claims (not its signature: it came straight from our provider over TLS). */
export function decodeJwt(jwt: string): { header: { alg?: string }; claims: IdTokenClaims } {
  const parts = jwt.split('.');
  if (parts.length !== 3) throw new GuestError('signInFailed', 'ID token is not a JWT');
  try {
    const dec = (p: string) => JSON.parse(new TextDecoder().decode(b64urlDecode(p)));
    return { header: dec(parts[0]), claims: dec(parts[1]) };
  } catch {
    throw new GuestError('signInFailed', 'ID token cannot be read');
  }
}

export interface Expected {
  state: string;
  nonce: string;
  issuer: string;
  clientId: string;
  redirectUri: string;
  /** Seconds since the epoch. */
  now: number;
}

export interface ImplicitResult {
  accessToken: string;
  idToken: string;
  tokenType: string;
  expiresAt?: number;
  scopes: string[];
  claims: IdTokenClaims;
  alg: string;
}

/**
 * Reads and checks the authorize answer the callback page saw (its full URL): it must be our
 * redirect URI, carry our state, and hold tokens whose ID token names our issuer, our client, our
 * nonce and has not expired. An `error` answer (login_required, …) is a GuestError.
 */
export function parseImplicitResponse(url: string, e: Expected): ImplicitResult {
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    throw new GuestError('signInFailed', 'bad callback URL');
  }
  if (u.origin + u.pathname !== e.redirectUri) throw new GuestError('signInFailed', 'callback from an unexpected page');
  const q = new URLSearchParams(u.hash.replace(/^#/, ''));
  if (q.get('state') !== e.state) throw new GuestError('signInFailed', 'state mismatch');
  const err = q.get('error');
  if (err) throw new GuestError('signInFailed', `${err}${q.get('error_description') ? ': ' + q.get('error_description') : ''}`);
  const accessToken = q.get('access_token');
  const idToken = q.get('id_token');
  if (!accessToken || !idToken) throw new GuestError('signInFailed', 'tokens missing');
  const { header, claims } = decodeJwt(idToken);
  if (claims.iss !== e.issuer) throw new GuestError('signInFailed', 'wrong issuer');
  const aud = Array.isArray(claims.aud) ? claims.aud : [claims.aud];
  if (!aud.includes(e.clientId)) throw new GuestError('signInFailed', 'wrong audience');
  if (claims.nonce !== e.nonce) throw new GuestError('signInFailed', 'nonce mismatch');
  if (typeof claims.exp !== 'number' || claims.exp <= e.now - 60) throw new GuestError('signInFailed', 'ID token expired');
  const expiresIn = Number.parseInt(q.get('expires_in') ?? '', 10);
  return {
    accessToken,
    idToken,
    tokenType: q.get('token_type') || 'Bearer',
    expiresAt: Number.isFinite(expiresIn) ? e.now + expiresIn : undefined,
    scopes: (q.get('scope') ?? '').split(' ').filter(Boolean),
    claims,
    alg: header.alg ?? '',
  };
}

/** OIDC Core §3.2.2.9: at_hash is the left half of the access token's hash (SHA-256/384/512 by alg). */
export async function atHashMatches(accessToken: string, atHash: string | undefined, alg: string): Promise<boolean> {
  if (!atHash) return false;
  const bits = /(\d{3})$/.exec(alg)?.[1] ?? '256';
  const hash = bits === '384' ? 'SHA-384' : bits === '512' ? 'SHA-512' : 'SHA-256';
  const digest = new Uint8Array(await crypto.subtle.digest(hash, new TextEncoder().encode(accessToken)));
  return b64urlEncode(digest.slice(0, digest.length / 2)) === atHash;
}

export function randomToken(bytes = 16): string {
  const a = new Uint8Array(bytes);
  crypto.getRandomValues(a);
  return b64urlEncode(a);
}

/** Runs the authorize URL in a hidden iframe; resolves with the callback page's URL. */
export type FrameRunner = (url: string, timeoutMs: number) => Promise<string>;

export interface GuestSignInDeps {
  fetchFn?: typeof fetch;
  runFrame: FrameRunner;
  origin?: string;
  now?: () => number;
}

export interface GuestSession {
  user: SignedInUser;
  /** The signed request object: renewal runs the implicit flow with it again. */
  request: string;
}

async function authorizationEndpoint(config: MeetConfig, fetchFn: typeof fetch): Promise<string> {
  let res: Response;
  try {
    res = await fetchFn(`${config.oidc.iss}/.well-known/openid-configuration`, { credentials: 'omit', cache: 'no-store' });
  } catch (e) {
    throw new GuestError('unreachable', e instanceof Error ? e.message : String(e));
  }
  if (res.status !== 200) throw new GuestError('signInFailed', `discovery: HTTP ${res.status}`);
  const doc = (await res.json()) as { authorization_endpoint?: unknown };
  if (typeof doc.authorization_endpoint !== 'string') throw new GuestError('signInFailed', 'discovery lacks authorization_endpoint');
  return doc.authorization_endpoint;
}

/** The implicit flow with an existing request object: the guest's tokens (first sign-in and renewal). */
export async function guestAuthorize(config: MeetConfig, request: string, deps: GuestSignInDeps): Promise<SignedInUser> {
  const fetchFn = deps.fetchFn ?? fetch;
  const origin = deps.origin ?? location.origin;
  const now = deps.now ?? (() => Math.floor(Date.now() / 1000));
  const redirectUri = origin + GUEST_CALLBACK_PATH;
  const state = randomToken();
  const nonce = randomToken();
  const endpoint = await authorizationEndpoint(config, fetchFn);
  const url = authorizeUrl({ endpoint, clientId: config.oidc.clientID, redirectUri, scope: config.oidc.scope, state, nonce, request });
  const landed = await deps.runFrame(url, 10_000);
  const r = parseImplicitResponse(landed, { state, nonce, issuer: config.oidc.iss, clientId: config.oidc.clientID, redirectUri, now: now() });
  if (!(await atHashMatches(r.accessToken, r.claims.at_hash, r.alg))) throw new GuestError('signInFailed', 'at_hash mismatch');
  return {
    sub: r.claims.sub,
    name: typeof r.claims.name === 'string' && r.claims.name ? r.claims.name : 'Guest',
    accessToken: r.accessToken,
    idToken: r.idToken,
    tokenType: r.tokenType,
    scopes: r.scopes,
    guest: true,
    expiresAt: r.expiresAt,
  };
}

/** Guest logon for the room `<scope>/<id>` under `name`, then the implicit flow. */
export async function guestSignIn(
  config: MeetConfig,
  room: { scope: RoomScope; id: string },
  name: string,
  locale: string,
  deps: GuestSignInDeps,
): Promise<GuestSession> {
  const refusal = guestPolicyRefusal(config, room.scope, room.id);
  if (refusal) throw new GuestError(refusal, refusal);
  const fetchFn = deps.fetchFn ?? fetch;
  const body = guestLogonForm({
    path: `${room.scope}/${room.id}`,
    name,
    scope: config.oidc.scope,
    iss: config.oidc.iss,
    clientId: config.oidc.clientID,
    locale,
  });
  let res: Response;
  try {
    res = await fetchFn(`${config.kwm.url}${config.kwm.apiPrefix}/guest/logon`, {
      method: 'POST',
      body,
      credentials: 'omit',
      cache: 'no-store',
    });
  } catch (e) {
    throw new GuestError('unreachable', e instanceof Error ? e.message : String(e));
  }
  if (res.status !== 200) {
    const text = await res.text().catch(() => '');
    throw new GuestError(logonRefusal(res.status, text), `guest logon: HTTP ${res.status} ${text.trim()}`);
  }
  const reply = parseLogonReply(await res.json().catch(() => null));
  const user = await guestAuthorize(config, reply.request, deps);
  return { user, request: reply.request };
}
