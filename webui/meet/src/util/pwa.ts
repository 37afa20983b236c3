// Service worker registration, "update available", and "install as app".
// Update: a new worker that installs while a page is controlled by an old one waits; the app shows
// a banner and, on "Reload", lets it take over (skip-waiting), then reloads once it controls.
// Install: browsers that support it fire `beforeinstallprompt`; the app keeps the event and offers
// "Install as app", which shows the browser's own install dialog.
export function registerServiceWorker(onUpdate: (apply: () => void) => void): void {
  if (!('serviceWorker' in navigator) || import.meta.env.DEV) return;
  let reloading = false;
  let controlled = Boolean(navigator.serviceWorker.controller);
  navigator.serviceWorker.addEventListener('controllerchange', () => {
    // The first install claims the page: nothing to reload for.
    if (!controlled) {
      controlled = true;
      return;
    }
    if (reloading) return;
    reloading = true;
    location.reload();
  });
  navigator.serviceWorker
    .register('/meet/sw.js', { scope: '/meet/' })
    .then((reg) => {
      const offer = (w: ServiceWorker) => onUpdate(() => w.postMessage('skip-waiting'));
      const watch = (w: ServiceWorker | null) => {
        if (!w) return;
        if (w.state === 'installed' && navigator.serviceWorker.controller) offer(w);
        else
          w.addEventListener('statechange', () => {
            if (w.state === 'installed' && navigator.serviceWorker.controller) offer(w);
          });
      };
      // A new version may already be waiting or installing (found by this very navigation).
      if (reg.waiting && navigator.serviceWorker.controller) offer(reg.waiting);
      else watch(reg.installing);
      reg.addEventListener('updatefound', () => watch(reg.installing));
      // Look for a new version every hour and whenever the app comes back to the foreground.
      setInterval(() => void reg.update().catch(() => {}), 3600_000);
      document.addEventListener('visibilitychange', () => {
        if (document.visibilityState === 'visible') void reg.update().catch(() => {});
      });
    })
    .catch(() => {
      /* no service worker (private mode, http): the app still works online */
    });
}

interface BeforeInstallPromptEvent extends Event {
  prompt(): Promise<void>;
  userChoice: Promise<{ outcome: 'accepted' | 'dismissed' }>;
}

let deferred: BeforeInstallPromptEvent | null = null;
const installListeners = new Set<(available: boolean) => void>();
const DISMISSED = 'palaver.meet.installDismissed';

if (typeof window !== 'undefined') {
  window.addEventListener('beforeinstallprompt', (e) => {
    e.preventDefault();
    deferred = e as BeforeInstallPromptEvent;
    installListeners.forEach((l) => l(true));
  });
  window.addEventListener('appinstalled', () => {
    deferred = null;
    installListeners.forEach((l) => l(false));
  });
}

/** Calls `fn(true)` while the browser offers installing the app (now or later). */
export function onInstallAvailable(fn: (available: boolean) => void): () => void {
  installListeners.add(fn);
  fn(deferred !== null);
  return () => void installListeners.delete(fn);
}

export function installDismissed(): boolean {
  try {
    return localStorage.getItem(DISMISSED) === '1';
  } catch {
    return false;
  }
}

export function dismissInstall(): void {
  try {
    localStorage.setItem(DISMISSED, '1');
  } catch {
    /* private mode */
  }
  installListeners.forEach((l) => l(deferred !== null));
}

/** Shows the browser's install dialog; resolves with whether the user accepted. */
export async function promptInstall(): Promise<boolean> {
  const e = deferred;
  if (!e) return false;
  deferred = null;
  await e.prompt();
  const choice = await e.userChoice;
  installListeners.forEach((l) => l(false));
  return choice.outcome === 'accepted';
}
