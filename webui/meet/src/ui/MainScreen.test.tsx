// The signed-in shell while a call rings or runs: the call is reachable (settings dialog closed,
// the page behind inert) and keyboard focus is in the call.
import { afterEach, describe, expect, it, vi } from 'vitest';
import { render } from 'preact';
import { act } from 'preact/test-utils';
import { defaults } from '../config';
import { parseFragment } from '../fragment';
import type { CallEngine, EngineState } from '../call/engine';

const idle: EngineState = {
  signaling: 'connected',
  status: { kind: 'idle' },
  participants: [],
  local: { stream: null, screen: null, micOn: true, camOn: false, handRaised: false },
  chat: [],
  activeSpeaker: null,
  canShareScreen: false,
  audioOnly: false,
};
let state = idle;
const subs = new Set<(s: EngineState) => void>();
const push = (s: EngineState) => {
  state = s;
  subs.forEach((f) => f(s));
};
const fake = {
  getState: () => state,
  subscribe: (f: (s: EngineState) => void) => (subs.add(f), () => void subs.delete(f)),
  close: () => undefined,
  accept: vi.fn(),
  credentialsChanged: vi.fn(),
} as unknown as CallEngine & { credentialsChanged: ReturnType<typeof vi.fn> };

vi.mock('../call/callEngine', () => ({ createCallEngine: () => fake }));
vi.mock('./home/Home', () => ({ Home: () => <p>home</p> }));
vi.mock('./home/Settings', () => ({ SettingsDialog: () => <div data-testid="settings">settings</div> }));
vi.mock('./home/TopBar', () => ({
  TopBar: ({ onSettings }: { onSettings: () => void }) => (
    <button type="button" data-testid="open-settings" onClick={onSettings}>
      s
    </button>
  ),
  InstallOffer: () => null,
}));

afterEach(() => {
  document.body.innerHTML = '';
  state = idle;
});

describe('MainScreen during a call', () => {
  it('closes the settings, makes the page behind inert and focuses the call', async () => {
    const { MainScreen } = await import('./MainScreen');
    const root = document.createElement('div');
    document.body.appendChild(root);
    const user = { sub: 's', name: 'Me', scopes: [], accessToken: 'a', idToken: 'i', tokenType: 'Bearer', guest: false };
    const auth = { current: () => user, signOut: async () => undefined } as never;
    await act(() => render(<MainScreen config={defaults} auth={auth} user={user} route={{ view: 'main' }} params={parseFragment('')} />, root));
    await act(() => (root.querySelector('[data-testid=open-settings]') as HTMLButtonElement).click());
    expect(root.querySelector('[data-testid=settings]')).not.toBeNull();
    const main = root.querySelector('.main-screen') as HTMLElement & { inert?: boolean };
    expect(main.inert || main.hasAttribute('inert')).toBe(false);

    await act(() => push({ ...idle, status: { kind: 'incoming', peer: { id: 'aaa', name: 'Anna' } } }));
    expect(root.querySelector('[data-testid=settings]')).toBeNull();
    expect(main.inert || main.hasAttribute('inert')).toBe(true);
    expect(document.activeElement?.getAttribute('data-testid')).toBe('call-accept');

    // Accepted: the ringing dialog goes, focus goes to the call view (Tab reaches the controls).
    await act(() => push({ ...idle, status: { kind: 'call', peer: { id: 'aaa', name: 'Anna' } } }));
    expect(document.activeElement?.getAttribute('data-testid')).toBe('call-view');

    await act(() => push(idle));
    expect(main.inert || main.hasAttribute('inert')).toBe(false);
    render(null, root);
  });
});

describe('MainScreen token renewal', () => {
  it('tells the engine when the access token changes (signaling refused with an expired one retries)', async () => {
    const { MainScreen } = await import('./MainScreen');
    const root = document.createElement('div');
    document.body.appendChild(root);
    const user = { sub: 's', name: 'Me', scopes: [], accessToken: 'old', idToken: 'i', tokenType: 'Bearer', guest: false };
    const auth = { current: () => user, signOut: async () => undefined } as never;
    const el = (u: typeof user) => <MainScreen config={defaults} auth={auth} user={u} route={{ view: 'main' }} params={parseFragment('')} />;
    await act(() => render(el(user), root));
    const before = fake.credentialsChanged.mock.calls.length;
    await act(() => render(el({ ...user, accessToken: 'new' }), root));
    expect(fake.credentialsChanged.mock.calls.length).toBe(before + 1);
    render(null, root);
  });
});
