import { describe, expect, it } from 'vitest';
import { Directory, contactId, displayName, initials, mailtoHref, type GcUser } from './gc';

type Call = { url: string; headers: Headers };

function fakeFetch(routes: (url: string) => { status?: number; body?: unknown; type?: string }) {
  const calls: Call[] = [];
  const fn = (async (input: RequestInfo | URL, init?: RequestInit) => {
    const url = String(input);
    calls.push({ url, headers: new Headers(init?.headers) });
    const r = routes(url);
    const body = r.body instanceof Blob ? r.body : JSON.stringify(r.body ?? {});
    return new Response(body, { status: r.status ?? 200, headers: { 'content-type': r.type ?? 'application/json' } });
  }) as typeof fetch;
  return { fn, calls };
}

const users: GcUser[] = [
  { id: 'b', displayName: 'Bert Berg', givenName: 'Bert', surname: 'Berg', mail: 'bert@example.org', userPrincipalName: 'bert' },
  { id: 'a', displayName: 'Anna Alder', mail: 'anna@example.org', userPrincipalName: 'anna' },
  { id: 'c', displayName: 'Carla Christ', mail: 'carla@example.org', userPrincipalName: 'carla' },
];
const creds = () => ({ tokenType: 'Bearer', accessToken: 'tok' });
const base = { apiPrefix: '/api/gc/v1', disableFullGAB: false, useIdentifiedUser: false, creds, self: { username: 'anna' } };

describe('Directory', () => {
  it('probes, loads a small directory whole, sorts it and removes self', async () => {
    const f = fakeFetch((url) => (url.includes('$skip=100') ? { body: { value: [] } } : { body: { value: users } }));
    const d = new Directory({ ...base, fetchFn: f.fn });
    expect(await d.load()).toBe(true);
    expect(f.calls.map((c) => c.url)).toEqual(['/api/gc/v1/users?$top=1&$skip=100&$select=id', '/api/gc/v1/users?$top=100&$skip=0']);
    expect(f.calls[0].headers.get('Authorization')).toBe('Bearer tok');
    expect(f.calls[0].headers.get('Kopano-XSRF')).toBe('1');
    expect(d.all!.map((u) => u.id)).toEqual(['b', 'c']);
    // Local search: no further requests.
    expect((await d.search('christ')).map((u) => u.id)).toEqual(['c']);
    expect((await d.search('')).length).toBe(2);
    expect(f.calls.length).toBe(2);
  });

  it('searches on the server when the directory is large', async () => {
    const f = fakeFetch((url) => (url.includes('$skip=100') ? { body: { value: [{ id: 'x' }] } } : { body: { value: users } }));
    const d = new Directory({ ...base, fetchFn: f.fn });
    expect(await d.load()).toBe(false);
    expect(d.all).toBeNull();
    expect(await d.search('  ')).toEqual([]);
    const found = await d.search('be rg', 2);
    expect(f.calls[f.calls.length - 1].url).toBe('/api/gc/v1/users?$top=2&$skip=0&$search=be%20rg');
    // Trimmed to top locally, self removed, sorted.
    expect(found.map((u) => u.id)).toEqual(['b']);
  });

  it('never loads the whole directory with disableFullGAB', async () => {
    const f = fakeFetch(() => ({ body: { value: users } }));
    const d = new Directory({ ...base, disableFullGAB: true, fetchFn: f.fn });
    expect(await d.load()).toBe(false);
    expect(f.calls).toEqual([]);
    await d.search('bert');
    expect(f.calls[0].url).toContain('$search=bert');
  });

  it('looks users up by id; unknown ids (404 or an empty envelope) are null', async () => {
    const f = fakeFetch((url) =>
      url.endsWith('/users/b') ? { body: users[0] } : url.endsWith('/users/gone') ? { status: 404, body: {} } : { body: { value: [] } },
    );
    const d = new Directory({ ...base, fetchFn: f.fn });
    expect((await d.lookup('b'))?.displayName).toBe('Bert Berg');
    expect(await d.lookup('gone')).toBeNull();
    expect(await d.lookup('ldap-miss')).toBeNull();
    const f2 = fakeFetch(() => ({ status: 502 }));
    await expect(new Directory({ ...base, fetchFn: f2.fn }).lookup('b')).rejects.toThrow('HTTP 502');
  });

  it('fetches photos with the token; none on 404', async () => {
    const f = fakeFetch((url) => (url.includes('/users/b/') ? { body: new Blob(['img']), type: 'image/png' } : { status: 404 }));
    const d = new Directory({ ...base, fetchFn: f.fn });
    (URL as unknown as { createObjectURL: (b: Blob) => string }).createObjectURL = () => 'blob:photo';
    expect(await d.photo('b')).toBe('blob:photo');
    expect(await d.photo('c')).toBeNull();
    await d.photo('b');
    expect(f.calls.filter((c) => c.url === '/api/gc/v1/users/b/photo/$value').length).toBe(1);
    expect(f.calls[0].headers.get('Authorization')).toBe('Bearer tok');
  });

  it('asks for at most four photos at a time', async () => {
    let open = 0;
    let peak = 0;
    const fn = (async () => {
      open++;
      peak = Math.max(peak, open);
      await new Promise((r) => setTimeout(r, 5));
      open--;
      return new Response('', { status: 404 });
    }) as unknown as typeof fetch;
    const d = new Directory({ ...base, fetchFn: fn });
    const all = await Promise.all(Array.from({ length: 10 }, (_, i) => d.photo(`u${i}`)));
    expect(all.every((x) => x === null)).toBe(true);
    expect(peak).toBe(4);
  });

  it('names and keys contacts as the original', () => {
    expect(contactId(users[0], false)).toBe('b');
    expect(contactId(users[0], true)).toBe('bert');
    expect(displayName({ id: 'x', givenName: 'G', surname: 'S' })).toBe('G S');
    expect(initials('Bert Berg')).toBe('BB');
    expect(initials('anna')).toBe('A');
  });
});

describe('Directory ids from crafted links', () => {
  it('sends no request for . or .. (fetch would resolve them to another API path)', async () => {
    const f = fakeFetch(() => ({ body: users[0] }));
    const d = new Directory({ ...base, fetchFn: f.fn });
    expect(await d.lookup('..')).toBeNull();
    expect(await d.lookup('.')).toBeNull();
    expect(await d.photo('..')).toBeNull();
    expect(f.calls).toEqual([]);
  });
});

describe('mailtoHref', () => {
  it('links plain addresses only (no headers or body smuggled in)', () => {
    expect(mailtoHref('anna@example.org')).toBe('mailto:anna@example.org');
    expect(mailtoHref("o'neil+x@example.org")).toBe("mailto:o'neil%2Bx@example.org");
    for (const bad of ['anna@example.org?bcc=x@evil.example', 'a@b&body=hi', 'javascript:alert(1)//@x', 'no-at-sign', 'a@b@c', '', 7]) {
      expect(mailtoHref(bad)).toBeNull();
    }
  });
});
