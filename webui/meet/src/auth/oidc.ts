// Sign-in through palaverd's OpenID Connect provider: authorization code + PKCE (oidc-client-ts),
// the same client id as the original Meet (`kpop-<origin>/meet/`), so both apps share the user's
// kvs records. The first attempt is silent (a hidden iframe, prompt=none); without a session the
// app sends the browser to the sign-in page. Tokens are renewed silently 120 s before expiry.
import { UserManager, WebStorageStateStore, type User } from 'oidc-client-ts';
import type { MeetConfig } from '../config';

export const REQUIRED_SCOPES = ['openid', 'profile', 'email', 'kopano/kwm'];
export const CALLBACK_PATH = '/meet/oidc-callback';

export interface SignedInUser {
  /** OIDC subject. */
  sub: string;
  name: string;
  email?: string;
  /** Login name (`preferred_username`), used to leave oneself out of the address book. */
  username?: string;
  accessToken: string;
  idToken: string;
  tokenType: string;
  /** Granted scopes (the authorize answer's `scope`). */
  scopes: string[];
  guest: boolean;
  expiresAt?: number;
}

/**
 * Where the app goes after sign-in: a path of this app (never another origin, never the callback
 * itself, whose code would be replayed), else the main view. Pure.
 */
export function returnPath(state: unknown): string {
  if (typeof state !== 'string' || !state.startsWith('/meet/') || state.startsWith('//')) return '/meet/r/call';
  const path = state.split(/[?#]/)[0];
  if (path === CALLBACK_PATH || path.includes('\\') || path.split('/').includes('..')) return '/meet/r/call';
  return state;
}

export function missingScopes(granted: readonly string[]): string[] {
  return REQUIRED_SCOPES.filter((s) => !granted.includes(s));
}

export function toSignedInUser(u: User, guest = false): SignedInUser {
  const p = u.profile;
  return {
    sub: p.sub,
    name: (p.name as string) || [p.given_name, p.family_name].filter(Boolean).join(' ') || (p.email as string) || p.sub,
    email: p.email as string | undefined,
    username: p.preferred_username as string | undefined,
    accessToken: u.access_token,
    idToken: u.id_token ?? '',
    tokenType: u.token_type || 'Bearer',
    scopes: (u.scope ?? '').split(' ').filter(Boolean),
    guest,
    expiresAt: u.expires_at,
  };
}

export function createUserManager(config: MeetConfig, origin = location.origin): UserManager {
  const claims = JSON.stringify({ id_token: { name: null } });
  return new UserManager({
    authority: config.oidc.iss,
    client_id: config.oidc.clientID,
    redirect_uri: origin + CALLBACK_PATH,
    silent_redirect_uri: origin + '/meet/silent-renew.html',
    post_logout_redirect_uri: origin + '/meet/',
    response_type: 'code',
    scope: config.oidc.scope,
    loadUserInfo: true,
    automaticSilentRenew: true,
    includeIdTokenInSilentRenew: true,
    accessTokenExpiringNotificationTimeInSeconds: 120,
    monitorSession: true,
    silentRequestTimeoutInSeconds: 10,
    extraQueryParams: { claims, ...(config.oidc.eqp ?? {}) },
    userStore: new WebStorageStateStore({ store: window.sessionStorage }),
  });
}

export type AuthEvent =
  | { kind: 'signed-in'; user: SignedInUser }
  | { kind: 'signed-out' }
  | { kind: 'error'; message: string };

/** Owns the UserManager and tells the app when the user changes. */
export class Auth {
  readonly manager: UserManager;
  private user: SignedInUser | null = null;
  private readonly listeners = new Set<(e: AuthEvent) => void>();

  constructor(config: MeetConfig) {
    this.manager = createUserManager(config);
    this.manager.events.addUserLoaded((u) => {
      const prev = this.user;
      const next = toSignedInUser(u);
      // A different subject after a renewal: the session changed under us (spec §4.3).
      if (prev && prev.sub !== next.sub) {
        void this.manager.removeUser();
        this.user = null;
        this.emit({ kind: 'signed-out' });
        return;
      }
      this.user = next;
      this.emit({ kind: 'signed-in', user: next });
    });
    this.manager.events.addSilentRenewError((e) => {
      const msg = e instanceof Error ? e.message : String(e);
      if (/login_required|interaction_required/.test(msg)) void this.lost();
    });
    this.manager.events.addUserSignedOut(() => void this.lost());
  }

  current(): SignedInUser | null {
    return this.user;
  }

  on(fn: (e: AuthEvent) => void): () => void {
    this.listeners.add(fn);
    return () => void this.listeners.delete(fn);
  }

  private emit(e: AuthEvent): void {
    this.listeners.forEach((l) => l(e));
  }

  private async lost(): Promise<void> {
    await this.manager.removeUser();
    this.user = null;
    this.emit({ kind: 'signed-out' });
  }

  /**
   * Start-up: finishes a redirect callback, else reuses a stored user, else tries silently.
   * Returns the user, or null when the user must sign in interactively.
   */
  async start(): Promise<SignedInUser | null> {
    if (location.pathname === CALLBACK_PATH) {
      let u: User;
      try {
        u = await this.manager.signinRedirectCallback();
      } catch (e) {
        // A failed or replayed callback: the code leaves the address bar, and a reload or the next
        // sign-in does not land on the stale callback again.
        history.replaceState(null, '', '/meet/r/call');
        throw e;
      }
      const back = returnPath(u.state);
      history.replaceState(null, '', back);
      this.user = toSignedInUser(u);
      return this.user;
    }
    const stored = await this.manager.getUser();
    if (stored && !stored.expired) {
      this.user = toSignedInUser(stored);
      return this.user;
    }
    try {
      const u = await this.manager.signinSilent();
      if (u) this.user = toSignedInUser(u);
      return this.user;
    } catch {
      return null;
    }
  }

  /** Sends the browser to the sign-in page; it comes back to the current route. */
  signIn(): Promise<void> {
    return this.manager.signinRedirect({ state: returnPath(location.pathname + location.search) });
  }

  /**
   * A guest signed in by the guest flow (guest-flow.ts): kept here, not by the UserManager, so
   * there is no session monitor and no renewal of its own (guest-session.ts renews).
   */
  adoptGuest(user: SignedInUser): void {
    if (this.user && this.user.sub !== user.sub) this.user = null;
    this.user = { ...user, guest: true };
    this.emit({ kind: 'signed-in', user: this.user });
  }

  async signOut(): Promise<void> {
    if (this.user?.guest) {
      // Guests have no provider session to end (spec §1.12 step 7).
      this.user = null;
      this.emit({ kind: 'signed-out' });
      return;
    }
    const u = await this.manager.getUser();
    await this.manager.removeUser();
    this.user = null;
    await this.manager.signoutRedirect({ id_token_hint: u?.id_token });
  }
}
