// The top bar with the admin's branding and apps menu.
import { afterEach, describe, expect, it } from 'vitest';
import { render } from 'preact';
import { act } from 'preact/test-utils';
import { TopBar } from './TopBar';

let root: HTMLElement;
const mount = (props: Parameters<typeof TopBar>[0]) => {
  root = document.createElement('div');
  document.body.append(root);
  act(() => render(<TopBar {...props} />, root));
};
const noop = () => undefined;

afterEach(() => {
  render(null, root);
  root.remove();
});

describe('TopBar', () => {
  it('shows the app name and no menu by default', () => {
    mount({ name: 'Anna', onSettings: noop, onSignOut: noop });
    expect(root.querySelector('[data-testid=app-title]')?.textContent).toBe('Palaver Meet');
    expect(root.querySelector('[data-testid=brand-logo]')).toBeNull();
    expect(root.querySelector('[data-testid=apps-menu]')).toBeNull();
  });

  it("shows the admin's title, logo and links, each opening in a new tab", () => {
    mount({
      name: 'Anna',
      onSettings: noop,
      onSignOut: noop,
      title: 'Rathaus Meet',
      logo: '/meet/logo.svg',
      links: [
        { title: 'Mail', url: 'https://mail.example.test/' },
        { title: 'Wiki', url: '/wiki/' },
      ],
    });
    expect(root.querySelector('[data-testid=app-title]')?.textContent).toBe('Rathaus Meet');
    expect(root.querySelector('[data-testid=brand-logo]')?.getAttribute('src')).toBe('/meet/logo.svg');
    const links = [...root.querySelectorAll<HTMLAnchorElement>('[data-testid=apps-menu] a')];
    expect(links.map((a) => [a.textContent, a.getAttribute('href'), a.target, a.rel])).toEqual([
      ['Mail', 'https://mail.example.test/', '_blank', 'noopener noreferrer'],
      ['Wiki', '/wiki/', '_blank', 'noopener noreferrer'],
    ]);
    expect(links[0].getAttribute('aria-label')).toBe('Mail (opens in a new tab)');
  });

  it('closes the open menu on Escape and on a click elsewhere', () => {
    mount({ name: 'Anna', onSettings: noop, onSignOut: noop, links: [{ title: 'Mail', url: '/mail/' }] });
    const menu = root.querySelector<HTMLDetailsElement>('[data-testid=apps-menu]')!;
    menu.open = true;
    act(() => void document.dispatchEvent(new KeyboardEvent('keydown', { key: 'Escape' })));
    expect(menu.open).toBe(false);
    menu.open = true;
    act(() => void document.body.dispatchEvent(new MouseEvent('click', { bubbles: true })));
    expect(menu.open).toBe(false);
    menu.open = true;
    act(() => void menu.querySelector('a')!.dispatchEvent(new MouseEvent('click', { bubbles: true })));
    expect(menu.open).toBe(true); // a click inside (on a link) is the link's
  });
});
