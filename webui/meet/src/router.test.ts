import { describe, expect, it } from 'vitest';
import { parseRoute, routePath } from './router';

describe('routes', () => {
  it('parses the original Meet routes', () => {
    expect(parseRoute('/meet/')).toEqual({ view: 'main' });
    expect(parseRoute('/meet/r/call')).toEqual({ view: 'main' });
    expect(parseRoute('/meet/r/call/abc')).toEqual({ view: 'contact', id: 'abc' });
    expect(parseRoute('/meet/r/group/public/team%20x')).toEqual({ view: 'room', scope: 'group', id: 'public/team x' });
    expect(parseRoute('/meet/r/join/conference/a/b')).toEqual({ view: 'join', scope: 'conference', id: 'a/b' });
    expect(parseRoute('/meet/r/join/group')).toEqual({ view: 'main' });
    expect(parseRoute('/meet/r/nonsense/x')).toEqual({ view: 'main' });
    expect(parseRoute('/meet/r/group/%E0%A4%A')).toEqual({ view: 'room', scope: 'group', id: '%E0%A4%A' });
  });
  it('round-trips ids with slashes and spaces', () => {
    const r = { view: 'room', scope: 'group', id: 'public/team x?' } as const;
    expect(routePath(r)).toBe('/meet/r/group/public/team%20x%3F');
    expect(parseRoute(routePath(r))).toEqual(r);
  });
});

describe('routes from crafted links', () => {
  it('an id with a . or .. segment is no contact or group (it would escape the API path)', () => {
    expect(parseRoute('/meet/r/call/..%2F..%2F..%2Fkvs%2Fv1%2Fkv%2Fuser%2Fx')).toEqual({ view: 'main' });
    expect(parseRoute('/meet/r/call/..')).toEqual({ view: 'main' });
    expect(parseRoute('/meet/r/group/public/..%2F..%2Fx')).toEqual({ view: 'main' });
    expect(parseRoute('/meet/r/join/conference/.%2Fa')).toEqual({ view: 'main' });
    expect(parseRoute('/meet/r/call/a..b')).toEqual({ view: 'contact', id: 'a..b' });
  });
});
