/// <reference lib="webworker" />
// Service worker: precaches the app shell so an installed app opens offline (and says so), and
// lets the app offer "update available — reload" when a new build is served. The build replaces
// self.__PALAVER_PRECACHE__ with {version, files} (build/plugins.ts). API calls are never cached.
type Precache = { version: string; files: string[] };
const sw = self as unknown as ServiceWorkerGlobalScope;
const precache: Precache = (self as unknown as { __PALAVER_PRECACHE__: Precache }).__PALAVER_PRECACHE__;
const CACHE = `palaver-meet-${precache.version}`;
const BASE = '/meet/';
const SHELL = BASE + 'index.html';

sw.addEventListener('install', (event: ExtendableEvent) => {
  event.waitUntil(
    caches.open(CACHE).then((c) => c.addAll(precache.files.filter((f) => f !== 'index.html').map((f) => BASE + f).concat(SHELL))),
  );
});

sw.addEventListener('activate', (event: ExtendableEvent) => {
  event.waitUntil(
    caches
      .keys()
      .then((keys) => Promise.all(keys.filter((k) => k.startsWith('palaver-meet-') && k !== CACHE).map((k) => caches.delete(k))))
      .then(() => sw.clients.claim()),
  );
});

sw.addEventListener('message', (event: ExtendableMessageEvent) => {
  if (event.data === 'skip-waiting') void sw.skipWaiting();
});

sw.addEventListener('fetch', (event: FetchEvent) => {
  const req = event.request;
  if (req.method !== 'GET') return;
  const url = new URL(req.url);
  if (url.origin !== sw.location.origin || !url.pathname.startsWith(BASE)) return;
  // The hidden sign-in iframe's page: offline, the shell would boot a second app inside it.
  if (url.pathname === BASE + 'silent-renew.html') return;
  if (req.mode === 'navigate') {
    // Network first so a deploy is seen at once; the cached shell when offline.
    event.respondWith(fetch(req).catch(() => caches.match(SHELL).then((r) => r ?? Response.error())));
    return;
  }
  if (url.pathname.startsWith(BASE + 'assets/')) {
    event.respondWith(caches.match(req).then((r) => r ?? fetch(req)));
  }
});
