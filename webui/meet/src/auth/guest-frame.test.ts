import { afterEach, describe, expect, it } from 'vitest';
import { runHiddenFrame } from './guest-frame';
import { GUEST_MESSAGE_SOURCE } from './guest-flow';

function post(frameWin: Window | null, data: unknown, origin = location.origin) {
  window.dispatchEvent(new MessageEvent('message', { data, origin, source: frameWin }));
}

describe('hidden sign-in frame', () => {
  afterEach(() => document.querySelectorAll('iframe').forEach((f) => f.remove()));

  it('resolves with the URL our callback page posts from that frame', async () => {
    const p = runHiddenFrame('about:blank', 2000);
    const frame = document.querySelector('iframe')!;
    expect(frame.getAttribute('aria-hidden')).toBe('true');
    // Ignored: another origin, another window, another marker.
    post(frame.contentWindow, { source: GUEST_MESSAGE_SOURCE, url: 'https://evil/#x' }, 'https://evil.example');
    post(window, { source: GUEST_MESSAGE_SOURCE, url: 'https://x/#y' });
    post(frame.contentWindow, { source: 'oidc-client', url: 'https://x/#z' });
    post(frame.contentWindow, { source: GUEST_MESSAGE_SOURCE, url: `${location.origin}/meet/guest-callback.html#state=s` });
    await expect(p).resolves.toBe(`${location.origin}/meet/guest-callback.html#state=s`);
    expect(document.querySelector('iframe')).toBeNull();
  });
  it('gives up after the timeout and removes the frame', async () => {
    await expect(runHiddenFrame('about:blank', 50)).rejects.toThrow('did not answer');
    expect(document.querySelector('iframe')).toBeNull();
  });
});
