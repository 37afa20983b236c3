// The landing page against a fake call engine: the contract calls it makes (joinRoom with video
// or audio only, start muted through setMic/setCamera) and the guest's wait for a member.
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { render } from 'preact';
import { act } from 'preact/test-utils';
import { EngineContext, type CallEngine, type EngineState } from '../../call/engine';
import { resolveConfig } from '../../config';
import { parseFragment } from '../../fragment';
import type { SignedInUser } from '../../auth/oidc';
import { RoomPage, RETRY_SECONDS } from './RoomPage';
import { requestJoin, setInitialRoom, setRoomRecentsHook } from './session';

class FakeEngine implements CallEngine {
  calls: unknown[][] = [];
  listeners = new Set<(s: EngineState) => void>();
  state: EngineState = {
    signaling: 'connected',
    status: { kind: 'idle' },
    participants: [],
    local: { stream: null, screen: null, micOn: true, camOn: true, handRaised: false },
    chat: [],
    activeSpeaker: null,
    canShareScreen: false,
    audioOnly: false,
  } as EngineState;
  onJoin: (scope: string, id: string) => void = () => {};
  set(p: Partial<EngineState>) {
    this.state = { ...this.state, ...p };
    this.listeners.forEach((l) => l(this.state));
  }
  getState() {
    return this.state;
  }
  subscribe(fn: (s: EngineState) => void) {
    this.listeners.add(fn);
    return () => void this.listeners.delete(fn);
  }
  private rec(name: string, ...args: unknown[]) {
    this.calls.push([name, ...args]);
  }
  call() {}
  accept() {}
  decline() {}
  ignore() {}
  hangup() {}
  joinRoom(scope: 'group' | 'conference', id: string, opts?: { video?: boolean }) {
    this.rec('joinRoom', scope, id, opts);
    this.onJoin(scope, id);
  }
  leaveRoom() {
    this.rec('leaveRoom');
  }
  setMic(on: boolean) {
    this.rec('setMic', on);
  }
  setCamera(on: boolean) {
    this.rec('setCamera', on);
  }
  async startScreenShare() {}
  stopScreenShare() {}
  async sendChat() {
    return true;
  }
  setHandRaised() {}
  dismiss() {}
  close() {}
}

const config = resolveConfig({ guests: { enabled: true, publicGroupRegexp: '^group/public/.*' } }, 'https://h');
const member: SignedInUser = { sub: 's', name: 'Anna', accessToken: 'a', idToken: 'i', tokenType: 'Bearer', scopes: [], guest: false };
const guest: SignedInUser = { ...member, name: '(Guest)Gina', guest: true };

let root: HTMLElement;
beforeEach(() => {
  root = document.createElement('div');
  document.body.appendChild(root);
});
afterEach(() => {
  render(null, root);
  root.remove();
  vi.useRealTimers();
});

function mount(engine: CallEngine | null, user: SignedInUser, hash: string, id = 'public/x') {
  act(() => {
    render(
      <EngineContext.Provider value={engine}>
        <RoomPage config={config} user={user} scope="group" id={id} params={parseFragment(hash)} />
      </EngineContext.Provider>,
      root,
    );
  });
}

const q = (sel: string) => root.querySelector<HTMLElement>(sel);

describe('RoomPage', () => {
  it('auto=2 and mute=3 on the opening link: joins with video and starts muted', () => {
    setInitialRoom({ scope: 'group', id: 'public/x' });
    const e = new FakeEngine();
    mount(e, member, '#auto=2&mute=3');
    expect(e.calls).toEqual([['joinRoom', 'group', 'public/x', { video: true, muteMic: true, muteCam: true }], ['setMic', false], ['setCamera', false]]);
    // Once the room is joined and the own media are up (still on), the wish is applied again, once.
    act(() => e.set({ status: { kind: 'room', scope: 'group', id: 'public/x' }, local: { ...e.state.local, stream: {} as MediaStream } }));
    expect(e.calls.slice(3)).toEqual([['setMic', false], ['setCamera', false]]);
    act(() => e.set({ local: { ...e.state.local, micOn: true } }));
    expect(e.calls.length).toBe(5);
    expect(q('[data-testid=room-in-call]')).not.toBeNull();
    act(() => q('[data-testid=room-in-call] button')!.click());
    expect(e.calls.at(-1)).toEqual(['leaveRoom']);
  });

  it('a join waits for the signaling connection', () => {
    setInitialRoom(null);
    requestJoin({ scope: 'group', id: 'public/x', video: true, muteMic: false, muteCam: false });
    const e = new FakeEngine();
    e.state = { ...e.state, signaling: 'connecting' };
    mount(e, member, '');
    expect(e.calls).toEqual([]);
    expect(q('[data-testid=room-joining]')).not.toBeNull();
    act(() => e.set({ signaling: 'connected' }));
    expect(e.calls).toEqual([['joinRoom', 'group', 'public/x', { video: true, muteMic: false, muteCam: false }]]);
  });

  it('auto=1 joins audio only; mute applies to the opening room only', () => {
    setInitialRoom({ scope: 'group', id: 'other' });
    const e = new FakeEngine();
    mount(e, member, '#auto=1&mute=1', 'public/x');
    expect(e.calls).toEqual([]); // not the room of the link: no auto-join
    act(() => q('[data-testid=room-call-audio]')!.click());
    expect(e.calls).toEqual([['joinRoom', 'group', 'public/x', { video: false, muteMic: false, muteCam: false }]]);
  });

  it('without an engine the call buttons are off and say why; members get the group in recents, guests not', () => {
    const recents: unknown[][] = [];
    setRoomRecentsHook((...a) => recents.push(a));
    mount(null, guest, '');
    expect(recents).toEqual([]);
    render(null, root);
    mount(null, member, '');
    expect(recents).toEqual([['group', 'public/x', 'x']]);
    setRoomRecentsHook(null);
    expect((q('[data-testid=room-call]') as HTMLButtonElement).disabled).toBe(true);
    expect(q('[data-testid=room-no-engine]')).not.toBeNull();
    expect(q('[data-testid=room-title]')!.textContent).toBe('x');
    expect(q('[data-testid=room-public]')).not.toBeNull();
  });

  it('a join the wizard asked for happens when the page opens', () => {
    requestJoin({ scope: 'group', id: 'public/x', video: false, muteMic: true, muteCam: false });
    const e = new FakeEngine();
    mount(e, member, '');
    expect(e.calls).toEqual([['joinRoom', 'group', 'public/x', { video: false, muteMic: true, muteCam: false }], ['setMic', false]]);
  });

  it('a guest before anyone is there: told so, and tried again', () => {
    vi.useFakeTimers();
    const e = new FakeEngine();
    mount(e, guest, '');
    expect(q('[data-testid=room-invite]')).toBeNull(); // guests do not invite
    act(() => q('[data-testid=room-call]')!.click());
    expect(q('[data-testid=room-not-active]')).toBeNull();
    // kwm refuses the guest's group join while nobody is in the room (create_restricted).
    act(() => e.set({ error: 'createRestricted' }));
    expect(q('[data-testid=room-not-active]')!.textContent).toContain('registered participant');
    expect(e.calls.filter((c) => c[0] === 'joinRoom').length).toBe(1);
    act(() => void vi.advanceTimersByTime(RETRY_SECONDS * 1000));
    expect(e.calls.filter((c) => c[0] === 'joinRoom').length).toBe(2);
    // An engine that stays in the room and retries itself: the page waits with it, no second join.
    act(() => e.set({ status: { kind: 'room', scope: 'group', id: 'public/x' }, error: 'roomNotActive' }));
    expect(q('[data-testid=room-not-active]')).not.toBeNull();
    act(() => void vi.advanceTimersByTime(RETRY_SECONDS * 3000));
    expect(e.calls.filter((c) => c[0] === 'joinRoom').length).toBe(2);
    // Admitted: the waiting message goes.
    act(() => e.set({ error: undefined, status: { kind: 'room', scope: 'group', id: 'public/x' } }));
    expect(q('[data-testid=room-not-active]')).toBeNull();
    expect(q('[data-testid=room-in-call]')).not.toBeNull();
  });
});
