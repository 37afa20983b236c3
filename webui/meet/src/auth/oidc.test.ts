// Sign-in return paths and the callback page's failure (the provider is stood in for).
import { afterEach, describe, expect, it, vi } from 'vitest';
import { defaults } from '../config';

const redirects: unknown[] = [];
vi.mock('oidc-client-ts', () => ({
  WebStorageStateStore: class {},
  UserManager: class {
    events = { addUserLoaded() {}, addSilentRenewError() {}, addUserSignedOut() {} };
    async signinRedirectCallback() {
      throw new Error('No matching state found in storage');
    }
    async signinRedirect(args: unknown) {
      redirects.push(args);
    }
  },
}));

const { Auth, returnPath, CALLBACK_PATH } = await import('./oidc');

afterEach(() => {
  history.replaceState(null, '', '/');
  redirects.length = 0;
});

describe('sign-in return path', () => {
  it('keeps paths of this app and refuses everything else', () => {
    expect(returnPath('/meet/r/call/bob?x=1')).toBe('/meet/r/call/bob?x=1');
    expect(returnPath('/meet/r/group/public/team')).toBe('/meet/r/group/public/team');
    for (const bad of ['https://evil.example/', '//evil.example/meet/', '/meetx', '/meet/oidc-callback?code=old', '/meet/../api/x', '/meet/\\evil', 42, undefined]) {
      expect(returnPath(bad)).toBe('/meet/r/call');
    }
  });

  it('a failed callback leaves the address bar without the code, and the next sign-in does not return to it', async () => {
    history.replaceState(null, '', `${CALLBACK_PATH}?code=c&state=s`);
    const auth = new Auth(defaults);
    await expect(auth.start()).rejects.toThrow('No matching state');
    expect(location.pathname + location.search).toBe('/meet/r/call');

    history.replaceState(null, '', `${CALLBACK_PATH}?code=c&state=s`);
    await auth.signIn();
    expect(redirects).toEqual([{ state: '/meet/r/call' }]);
  });
});
