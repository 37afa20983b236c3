// The app shell after the sign-in redirect: the user comes back to the page they started from.
import { afterEach, describe, expect, it, vi } from 'vitest';
import { render } from 'preact';
import { act } from 'preact/test-utils';
import { defaults } from '../config';
import { parseFragment } from '../fragment';
import type { Route } from '../router';

vi.mock('../config', async (orig) => ({ ...(await orig<typeof import('../config')>()), loadConfig: async () => defaults }));
vi.mock('../auth/oidc', () => ({
  missingScopes: () => [],
  Auth: class {
    on() {
      return () => undefined;
    }
    // As the real one on /meet/oidc-callback: back to the path kept in `state`.
    async start() {
      history.replaceState(null, '', '/meet/r/call/bob');
      return { sub: 's', name: 'Me', scopes: [], accessToken: 'a', idToken: 'i', tokenType: 'Bearer', guest: false };
    }
  },
}));
const routes: Route[] = [];
vi.mock('./MainScreen', () => ({
  MainScreen: ({ route }: { route: Route }) => {
    routes.push(route);
    return <p data-testid="main">{route.view}</p>;
  },
}));

afterEach(() => {
  routes.length = 0;
  history.replaceState(null, '', '/');
});

describe('App after the sign-in redirect', () => {
  it('shows the route the user started from, not the main view', async () => {
    history.replaceState(null, '', '/meet/oidc-callback?code=x&state=y');
    const { App } = await import('./App');
    const root = document.createElement('div');
    await act(() => render(<App params={parseFragment('')} />, root));
    for (let i = 0; i < 10; i++) await act(() => new Promise((r) => setTimeout(r, 0)));
    expect(routes.at(-1)).toEqual({ view: 'contact', id: 'bob' });
    expect(location.pathname).toBe('/meet/r/call/bob');
    render(null, root);
  });
});
