// The service worker's fetch routing, with the worker's global scope stood in by the test window.
import { beforeAll, describe, expect, it, vi } from 'vitest';

type Handler = (e: unknown) => void;
const handlers: Record<string, Handler> = {};

beforeAll(async () => {
  vi.stubGlobal('caches', { match: async () => undefined, open: async () => ({ addAll: async () => undefined }), keys: async () => [] });
  vi.stubGlobal('fetch', async () => new Response(''));
  (window as unknown as { __PALAVER_PRECACHE__: unknown }).__PALAVER_PRECACHE__ = { version: 'test', files: ['index.html', 'assets/main-x.js'] };
  vi.spyOn(window, 'addEventListener').mockImplementation(((type: string, fn: Handler) => {
    handlers[type] = fn;
  }) as typeof window.addEventListener);
  await import('./sw' as string);
  vi.restoreAllMocks();
});

function fetchEvent(path: string, mode: RequestMode = 'same-origin', method = 'GET') {
  const respondWith = vi.fn();
  handlers.fetch({ request: { url: location.origin + path, mode, method }, respondWith });
  return respondWith;
}

describe('service worker', () => {
  it('leaves API calls and authenticated data alone', () => {
    expect(fetchEvent('/api/gc/v1/users?$top=100').mock.calls.length).toBe(0);
    expect(fetchEvent('/api/kvs/v1/kv/user/kopano-meet-recents?recurse=1').mock.calls.length).toBe(0);
    expect(fetchEvent('/api/config/v1/kopano/meet/config.json').mock.calls.length).toBe(0);
    expect(fetchEvent('/meet/assets/main-x.js', 'same-origin', 'POST').mock.calls.length).toBe(0);
  });

  it('answers app navigations (shell offline) and hashed assets', () => {
    expect(fetchEvent('/meet/r/call', 'navigate').mock.calls.length).toBe(1);
    expect(fetchEvent('/meet/assets/main-x.js').mock.calls.length).toBe(1);
  });

  it('never answers the silent sign-in page with the app shell', () => {
    // Offline, the hidden renew iframe would otherwise boot a whole second app.
    expect(fetchEvent('/meet/silent-renew.html', 'navigate').mock.calls.length).toBe(0);
  });
});
