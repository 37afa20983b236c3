import { afterEach, describe, expect, it, vi } from 'vitest';
import { HomeStore } from './store';
import { defaults } from '../../config';

const creds = () => ({ tokenType: 'Bearer', accessToken: 't' });
const json = (body: unknown, status = 200) => new Response(JSON.stringify(body), { status, headers: { 'content-type': 'application/json' } });
const settle = () => new Promise((r) => setTimeout(r, 0));

afterEach(() => vi.unstubAllGlobals());

describe('HomeStore', () => {
  it('hides what the account has no scope for', () => {
    const s = new HomeStore(defaults, creds, ['openid'], {});
    expect(s.get()).toMatchObject({ contacts: 'off', recents: 'off' });
    expect(s.directory).toBeNull();
  });

  it('loads both lists, keeps recents newest first and writes through to kvs', async () => {
    const calls: string[] = [];
    vi.stubGlobal('fetch', async (url: string, init?: RequestInit) => {
      calls.push(`${init?.method ?? 'GET'} ${url}`);
      if (url.includes('$skip=100')) return json({ value: [] });
      if (url.startsWith('/api/gc/v1/users?')) return json({ value: [{ id: 'b', displayName: 'Bert' }, { id: 'me', userPrincipalName: 'anna' }] });
      if (url.includes('recurse=1')) return json([{ key: 'kopano-meet-recents/contact/b', value: { id: 'b', displayName: 'Bert', date: 'd', kind: 'contact' } }]);
      if (url === '/api/gc/v1/users/zed') return json({}, 404);
      return new Response('', { status: 200 });
    });
    const s = new HomeStore(defaults, creds, ['kopano/gc', 'kopano/kvs'], { username: 'anna' });
    const seen: string[] = [];
    s.subscribe((st) => seen.push(`${String(st.contacts)}/${String(st.recents)}`));
    s.start();
    await settle();
    await settle();
    expect(s.get()).toMatchObject({ contacts: 'ready', recents: 'ready', fullDirectory: true });
    expect(s.directory!.all!.map((u) => u.id)).toEqual(['b']);
    s.addRecent('group', 'public/x', { id: 'public/x', scope: 'group', displayName: 'public/x' });
    expect(s.get().recentList.map((r) => `${r.kind}/${r.id}`)).toEqual(['group/public/x', 'contact/b']);
    s.removeRecent('contact', 'b');
    expect(s.get().recentList.length).toBe(1);
    await settle();
    expect(calls).toContain('PUT /api/kvs/v1/kv/user/kopano-meet-recents/group/public/x');
    expect(calls).toContain('DELETE /api/kvs/v1/kv/user/kopano-meet-recents/contact/b');
    // A contact by route id: the loaded directory first, then the server; unknown is null.
    expect((await s.findContact('b'))?.displayName).toBe('Bert');
    expect(await s.findContact('zed')).toBeNull();
  });

  it('keeps an entry added while the list loads on top of the loaded list', async () => {
    let answer: (r: Response) => void = () => {};
    vi.stubGlobal('fetch', (url: string) =>
      url.includes('recurse=1')
        ? new Promise<Response>((r) => (answer = r))
        : Promise.resolve(url.includes('/gc/') ? json({ value: [] }) : new Response('', { status: 200 })),
    );
    const s = new HomeStore(defaults, creds, ['kopano/kvs'], {});
    s.start();
    s.addRecent('contact', 'new', { id: 'new' });
    answer(json([{ key: 'kopano-meet-recents/contact/old', value: { id: 'old', kind: 'contact', date: 'd' } }]));
    await settle();
    await settle();
    expect(s.get().recentList.map((r) => r.id)).toEqual(['new', 'old']);
  });

  it('reports a failed load per list', async () => {
    vi.stubGlobal('fetch', async (url: string) => (url.includes('kvs') ? json({}, 503) : json({ value: [] })));
    const s = new HomeStore(defaults, creds, ['kopano/gc', 'kopano/kvs'], {});
    s.start();
    await settle();
    await settle();
    expect(s.get().recents).toEqual({ error: 'HTTP 503' });
    expect(s.get().contacts).toBe('ready');
  });
});
