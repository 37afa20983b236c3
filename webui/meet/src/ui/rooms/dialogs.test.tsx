// The "join or create group" dialog and the e-mail invitation in jsdom.
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { render } from 'preact';
import { act } from 'preact/test-utils';
import { resolveConfig } from '../../config';
import { JoinGroupDialog } from './JoinGroupDialog';
import { InvitePanel } from './InvitePanel';

let root: HTMLElement;
beforeEach(() => {
  root = document.createElement('div');
  document.body.appendChild(root);
  history.replaceState(null, '', '/meet/r/call');
});
afterEach(() => {
  render(null, root);
  root.remove();
});

function type(el: HTMLInputElement, value: string) {
  act(() => {
    el.value = value;
    el.dispatchEvent(new Event('input', { bubbles: true }));
  });
}

describe('JoinGroupDialog', () => {
  it('offers the public switch only with guests, which adds the prefix; Join opens the group', () => {
    let closed = 0;
    const cfg = resolveConfig({ guests: { enabled: true, defaultPublicGroupPrefix: 'public/' } }, 'https://h');
    act(() => render(<JoinGroupDialog config={cfg} onClose={() => closed++} />, root));
    const input = root.querySelector<HTMLInputElement>('#rooms-group-name')!;
    expect(document.activeElement).toBe(input);
    const join = root.querySelector<HTMLButtonElement>('[data-testid=join-group]')!;
    expect(join.disabled).toBe(true);
    type(input, 'customer a');
    expect(join.disabled).toBe(false);
    const sw = root.querySelector<HTMLInputElement>('[data-testid=public-switch]')!;
    expect(sw.getAttribute('role')).toBe('switch');
    act(() => sw.click());
    expect(root.querySelector('[data-testid=group-id-preview]')!.textContent).toBe('Opens group: public/customer a');
    act(() => join.click());
    expect(closed).toBe(1);
    expect(location.pathname).toBe('/meet/r/group/public/customer%20a');
  });
  it('no switch without guests; Escape closes', () => {
    let closed = 0;
    const cfg = resolveConfig({ guests: { enabled: false } }, 'https://h');
    act(() => render(<JoinGroupDialog config={cfg} onClose={() => closed++} />, root));
    expect(root.querySelector('[data-testid=public-switch]')).toBeNull();
    act(() => void root.querySelector('[role=dialog]')!.dispatchEvent(new KeyboardEvent('keydown', { key: 'Escape', bubbles: true })));
    expect(closed).toBe(1);
  });
});

describe('InvitePanel', () => {
  it('an invalid address turns the envelope red and blocks Invite; valid ones hand a mailto: over', () => {
    const opened: string[] = [];
    let sent = 0;
    act(() =>
      render(<InvitePanel group="lobby" link="https://h/meet/r/join/group/public/lobby#guest=1" sender="Anna" onSent={() => sent++} open={(u) => opened.push(u)} />, root),
    );
    const input = root.querySelector<HTMLInputElement>('[data-testid=invite-to]')!;
    const env = root.querySelector('[data-testid=invite-envelope]')!;
    const send = root.querySelector<HTMLButtonElement>('[data-testid=invite-send]')!;
    expect(env.getAttribute('data-state')).toBe('empty');
    expect(send.disabled).toBe(false); // empty: the mail program asks for recipients
    type(input, 'a@x.de, nope');
    expect(env.getAttribute('data-state')).toBe('invalid');
    expect(env.classList.contains('invalid')).toBe(true);
    expect(send.disabled).toBe(true);
    expect(input.getAttribute('aria-invalid')).toBe('true');
    type(input, 'a@x.de, b@y.org');
    expect(env.getAttribute('data-state')).toBe('valid');
    act(() => send.click());
    expect(sent).toBe(1);
    expect(opened[0]).toMatch(/^mailto:a@x\.de,b@y\.org\?subject=Invitation%20to%20the%20group%20%22lobby%22&body=/);
    expect(decodeURIComponent(opened[0].split('body=')[1])).toContain('https://h/meet/r/join/group/public/lobby#guest=1');
  });
});
