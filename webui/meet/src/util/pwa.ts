// Service worker registration and "update available": a new worker that installs while a page is
// controlled by an old one waits; the app shows a banner and, on "Reload", lets it take over.
export function registerServiceWorker(onUpdate: (apply: () => void) => void): void {
  if (!('serviceWorker' in navigator) || import.meta.env.DEV) return;
  let reloading = false;
  navigator.serviceWorker.addEventListener('controllerchange', () => {
    if (reloading) return;
    reloading = true;
    location.reload();
  });
  navigator.serviceWorker
    .register('/meet/sw.js', { scope: '/meet/' })
    .then((reg) => {
      const offer = (w: ServiceWorker) => onUpdate(() => w.postMessage('skip-waiting'));
      if (reg.waiting && navigator.serviceWorker.controller) offer(reg.waiting);
      reg.addEventListener('updatefound', () => {
        const w = reg.installing;
        w?.addEventListener('statechange', () => {
          if (w.state === 'installed' && navigator.serviceWorker.controller) offer(w);
        });
      });
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
