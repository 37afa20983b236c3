import { describe, expect, it, vi } from 'vitest';
import { appLinks, loadConfig, merge, resolveConfig, safeUrl } from './config';

describe('config', () => {
  it('fills the issuer and client id of this origin', () => {
    const c = resolveConfig({ guests: { enabled: true } }, 'https://meet.example');
    expect(c.oidc.iss).toBe('https://meet.example');
    expect(c.oidc.clientID).toBe('kpop-https://meet.example/meet/');
    expect(c.guests.enabled).toBe(true);
    expect(c.guests.defaultPublicGroupPrefix).toBe('public/');
    expect(c.kvs.apiPrefix).toBe('/api/kvs/v1');
  });
  it('merges objects key by key and replaces the rest', () => {
    expect(merge({ a: { b: 1, c: 2 }, d: [1] }, { a: { c: 3 }, d: [2, 3] })).toEqual({ a: { b: 1, c: 3 }, d: [2, 3] });
  });
  it('retries with back-off until the server answers JSON', async () => {
    const answers = [
      () => Promise.reject(new TypeError('Failed to fetch')),
      () => Promise.resolve(new Response('<html>', { status: 502, headers: { 'content-type': 'text/html' } })),
      () => Promise.resolve(new Response('{"disableFullGAB":true}', { status: 200, headers: { 'content-type': 'application/json' } })),
    ];
    const fetchFn = vi.fn(() => answers.shift()!());
    const waits: number[] = [];
    const retries: string[] = [];
    const c = await loadConfig((n, e) => retries.push(`${n}:${e}`), fetchFn as unknown as typeof fetch, async (ms) => void waits.push(ms));
    expect(c.disableFullGAB).toBe(true);
    expect(retries).toEqual(['1:Failed to fetch', '2:HTTP 502']);
    expect(waits).toEqual([400, 800]);
    expect(fetchFn).toHaveBeenCalledWith('/api/config/v1/kopano/meet/config.json', expect.objectContaining({ headers: { 'Kopano-XSRF': '1' } }));
  });
});

describe('apps menu and branding', () => {
  it('defaults to no links and no branding', () => {
    const c = resolveConfig({}, 'https://meet.example.test');
    expect(c.branding).toEqual({ title: '', logo: '' });
    expect(appLinks(c)).toEqual([]);
  });

  it('keeps https and same-server links and drops unsafe ones', () => {
    const c = resolveConfig(
      {
        apps: {
          links: [
            { title: 'Mail', url: 'https://mail.example.test/' },
            { title: 'Wiki', url: '/wiki/' },
            { title: 'Evil', url: 'javascript:alert(1)' },
            { title: 'Elsewhere', url: '//evil.example.test/' },
            { title: 'Plain', url: 'http://insecure.example.test/' },
            { title: '', url: '/no-title' },
            { title: 'Quote', url: '/a"onmouseover="x' },
            null,
          ],
        },
      },
      'https://meet.example.test',
    );
    expect(appLinks(c).map((l) => l.title)).toEqual(['Mail', 'Wiki']);
  });

  it('checks logo addresses the same way', () => {
    expect(safeUrl('https://cdn.example.test/logo.svg')).toBe(true);
    expect(safeUrl('/meet/logo.svg')).toBe(true);
    expect(safeUrl('data:image/svg+xml,<svg/>')).toBe(false);
    expect(safeUrl('')).toBe(false);
    expect(safeUrl(undefined)).toBe(false);
  });
});
