import { describe, expect, it } from 'vitest';
import { Recents, MAX_RECENTS, parseRecentKey, promote, recentKey, type Recent } from './kvs';

type Call = { url: string; method: string; body?: string; headers: Headers };

function fakeFetch(records: { key: string; value: unknown }[]) {
  const calls: Call[] = [];
  const fn = (async (input: RequestInfo | URL, init?: RequestInit) => {
    const url = String(input);
    const method = init?.method ?? 'GET';
    calls.push({ url, method, body: init?.body as string | undefined, headers: new Headers(init?.headers) });
    if (method === 'GET') return new Response(JSON.stringify(records), { status: 200, headers: { 'content-type': 'application/json' } });
    return new Response('', { status: 200 });
  }) as typeof fetch;
  return { fn, calls };
}

const creds = () => ({ tokenType: 'Bearer', accessToken: 'tok' });
const settle = () => new Promise((r) => setTimeout(r, 0));

describe('Recents', () => {
  it('loads with recurse=1, newest first, keeps 30 and deletes the rest one by one', async () => {
    const records: { key: string; value: Record<string, unknown> }[] = Array.from({ length: 33 }, (_, i) => ({
      key: `kopano-meet-recents/contact/u${i}`,
      value: { id: `u${i}`, displayName: `User ${i}`, date: `2026-01-01T00:00:${String(i).padStart(2, '0')}Z`, kind: 'contact' },
    }));
    records.push({ key: 'kopano-meet-recents/group/public/foo', value: { id: 'public/foo', scope: 'group', displayName: 'public/foo', date: 'x', kind: 'group' } });
    const f = fakeFetch(records);
    const r = new Recents({ apiPrefix: '/api/kvs/v1', creds, fetchFn: f.fn });
    const list = await r.load();
    expect(f.calls[0].url).toBe('/api/kvs/v1/kv/user/kopano-meet-recents?recurse=1');
    expect(f.calls[0].headers.get('Kopano-XSRF')).toBe('1');
    expect(list.length).toBe(MAX_RECENTS);
    expect(list[0]).toMatchObject({ kind: 'group', id: 'public/foo', value: { scope: 'group' } });
    expect(list[1].id).toBe('u32');
    await settle();
    const deletes = f.calls.filter((c) => c.method === 'DELETE').map((c) => c.url);
    expect(deletes).toEqual(['/api/kvs/v1/kv/user/kopano-meet-recents/contact/u3', '/api/kvs/v1/kv/user/kopano-meet-recents/contact/u2',
      '/api/kvs/v1/kv/user/kopano-meet-recents/contact/u1', '/api/kvs/v1/kv/user/kopano-meet-recents/contact/u0']);
  });

  it('PUTs the entry with date and kind as JSON, DELETEs on remove', async () => {
    const f = fakeFetch([]);
    const r = new Recents({ apiPrefix: '/api/kvs/v1/', creds, fetchFn: f.fn });
    const now = new Date('2026-12-06T10:00:00Z');
    const item = await r.put('contact', 'b', { id: 'b', displayName: 'Bert Berg', mail: 'bert@example.org' }, now);
    expect(item).toEqual({ kind: 'contact', id: 'b', value: { id: 'b', displayName: 'Bert Berg', mail: 'bert@example.org', date: '2026-12-06T10:00:00.000Z', kind: 'contact' } });
    const put = f.calls[0];
    expect(put.method).toBe('PUT');
    expect(put.url).toBe('/api/kvs/v1/kv/user/kopano-meet-recents/contact/b');
    expect(put.headers.get('Content-Type')).toBe('application/json');
    expect(JSON.parse(put.body!)).toEqual(item.value);
    await r.put('group', 'public/my room', { id: 'public/my room', scope: 'group', displayName: 'public/my room' }, now);
    expect(f.calls[1].url).toBe('/api/kvs/v1/kv/user/kopano-meet-recents/group/public/my%20room');
    await r.remove('group', 'public/my room');
    expect(f.calls[2]).toMatchObject({ method: 'DELETE', url: '/api/kvs/v1/kv/user/kopano-meet-recents/group/public/my%20room' });
  });

  it('promotes and trims a newest-first list, deleting what falls off', async () => {
    const f = fakeFetch([]);
    const r = new Recents({ apiPrefix: '/api/kvs/v1', creds, fetchFn: f.fn });
    let list: Recent[] = Array.from({ length: MAX_RECENTS }, (_, i) => ({ kind: 'contact' as const, id: `u${i}`, value: { kind: 'contact' as const, date: '' } }));
    list = promote(list, { kind: 'contact', id: 'u5', value: { kind: 'contact', date: 'now' } });
    expect(list.length).toBe(MAX_RECENTS);
    expect(list[0].id).toBe('u5');
    list = r.trim(promote(list, { kind: 'contact', id: 'new', value: { kind: 'contact', date: 'now' } }));
    expect(list.length).toBe(MAX_RECENTS);
    await settle();
    expect(f.calls.map((c) => `${c.method} ${c.url}`)).toEqual(['DELETE /api/kvs/v1/kv/user/kopano-meet-recents/contact/u29']);
  });

  it('parses keys', () => {
    expect(recentKey('group', 'public/x')).toBe('kopano-meet-recents/group/public/x');
    expect(parseRecentKey('kopano-meet-recents/group/public/x')).toEqual({ kind: 'group', id: 'public/x' });
    expect(parseRecentKey('other/contact/x')).toBeNull();
    expect(parseRecentKey('kopano-meet-recents/contact')).toBeNull();
  });
});

describe('Recents keys from crafted ids', () => {
  it('never sends a request whose path fetch() would resolve outside the collection', async () => {
    const f = fakeFetch([]);
    const r = new Recents({ apiPrefix: '/api/kvs/v1', creds, fetchFn: f.fn });
    await expect(r.put('contact', '../../../../../api/other', { id: 'x' })).rejects.toThrow('invalid key');
    await expect(r.remove('group', 'public/../../x')).rejects.toThrow('invalid key');
    expect(f.calls).toEqual([]);
    await r.put('contact', 'a..b', { id: 'a..b' });
    expect(f.calls.map((c) => c.url)).toEqual(['/api/kvs/v1/kv/user/kopano-meet-recents/contact/a..b']);
  });
});
