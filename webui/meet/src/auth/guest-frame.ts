// The hidden iframe of the guest sign-in: loads the authorize URL and waits for our callback page
// (/meet/guest-callback.html) to post back the URL it landed on. Only a message from that very
// iframe, from our own origin, with our marker, counts; anything else is ignored.
import { GUEST_MESSAGE_SOURCE, GuestError } from './guest-flow';

export function runHiddenFrame(url: string, timeoutMs: number, win: Window = window): Promise<string> {
  const doc = win.document;
  return new Promise((resolve, reject) => {
    const frame = doc.createElement('iframe');
    frame.setAttribute('aria-hidden', 'true');
    frame.setAttribute('tabindex', '-1');
    frame.title = 'sign-in';
    frame.style.cssText = 'position:absolute;width:0;height:0;border:0;visibility:hidden';
    let timer = 0;
    const done = () => {
      win.clearTimeout(timer);
      win.removeEventListener('message', onMessage);
      frame.remove();
    };
    const onMessage = (e: MessageEvent) => {
      if (e.origin !== win.location.origin || e.source !== frame.contentWindow) return;
      const d = e.data as { source?: unknown; url?: unknown } | null;
      if (!d || d.source !== GUEST_MESSAGE_SOURCE || typeof d.url !== 'string') return;
      done();
      resolve(d.url);
    };
    timer = win.setTimeout(() => {
      done();
      reject(new GuestError('signInFailed', 'the sign-in did not answer in time'));
    }, timeoutMs);
    win.addEventListener('message', onMessage);
    frame.src = url;
    doc.body.appendChild(frame);
  });
}
