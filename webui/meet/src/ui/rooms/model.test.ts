import { describe, expect, it } from 'vitest';
import {
  buildMailto,
  checkRecipients,
  cleanGroupName,
  firstLoadRedirect,
  groupId,
  groupNameProblem,
  groupTitle,
  isValidEmail,
  roomLink,
} from './model';
import { parseRoute } from '../../router';
import { guestFragment, setInitialHash } from './session';

describe('group names', () => {
  it('cleans white space and empty segments', () => {
    expect(cleanGroupName('  team   alpha ')).toBe('team alpha');
    expect(cleanGroupName('/a// b /')).toBe('a/b');
  });
  it('reports why a name cannot be used', () => {
    expect(groupNameProblem('')).toBe('empty');
    expect(groupNameProblem('   / ')).toBe('empty');
    expect(groupNameProblem('x'.repeat(201))).toBe('tooLong');
    expect(groupNameProblem('a#b')).toBe('invalid');
    expect(groupNameProblem('a?b')).toBe('invalid');
    expect(groupNameProblem('../etc')).toBe('invalid');
    expect(groupNameProblem('tab\there')).toBeNull(); // white space collapses to a space
    expect(groupNameProblem('Team Ä/2026')).toBeNull();
  });
  it('the public switch adds the prefix once', () => {
    expect(groupId('customer-a', true, 'public/')).toBe('public/customer-a');
    expect(groupId('public/customer-a', true, 'public/')).toBe('public/customer-a');
    expect(groupId('customer-a', false, 'public/')).toBe('customer-a');
    expect(groupId(' x ', true, 'open')).toBe('open/x');
    expect(groupTitle('public/customer-a', 'public/')).toBe('customer-a');
    expect(groupTitle('board', 'public/')).toBe('board');
  });
});

describe('links', () => {
  it('shared links are the join form and round-trip through the router, guests get #guest=1', () => {
    const l = roomLink('https://h', 'group', 'public/team x', true);
    expect(l).toBe('https://h/meet/r/join/group/public/team%20x#guest=1');
    expect(parseRoute(new URL(l).pathname)).toEqual({ view: 'join', scope: 'group', id: 'public/team x' });
    expect(roomLink('https://h', 'group', 'board', false)).toBe('https://h/meet/r/join/group/board');
  });
  it('a direct group URL without auto goes to the join form, keeping query and hash', () => {
    const room = { view: 'room', scope: 'group', id: 'public/x' } as const;
    expect(firstLoadRedirect(room, false, '?a=1', '#guest=1&name=Gina')).toBe('/meet/r/join/group/public/x?a=1#guest=1&name=Gina');
    expect(firstLoadRedirect(room, true, '', '#auto=2')).toBeNull();
    expect(firstLoadRedirect({ view: 'main' }, false, '', '')).toBeNull();
    expect(firstLoadRedirect({ view: 'join', scope: 'group', id: 'x' }, false, '', '')).toBeNull();
  });
});

describe('e-mail invitations', () => {
  it('accepts plausible addresses', () => {
    for (const a of ['anna@example.com', 'a.b+c@sub.example.org', ' x@y.de ', 'jürgen@bücher.de']) expect(isValidEmail(a), a).toBe(true);
  });
  it('rejects what cannot be an address', () => {
    for (const a of ['', 'anna', 'anna@', '@example.com', 'anna@example', 'an na@example.com', 'a@b@c.de', 'a..b@x.de',
      '.a@x.de', 'a@-x.de', 'a@x.d', 'a@x.123', '<a@x.de>', 'a@x..de', `${'l'.repeat(65)}@x.de`]) {
      expect(isValidEmail(a), a).toBe(false);
    }
  });
  it('checks every recipient of a list', () => {
    expect(checkRecipients('a@x.de, b@y.com; c@z.org')).toEqual({ recipients: ['a@x.de', 'b@y.com', 'c@z.org'], invalid: [] });
    expect(checkRecipients('a@x.de nope')).toEqual({ recipients: ['a@x.de', 'nope'], invalid: ['nope'] });
    expect(checkRecipients('  ')).toEqual({ recipients: [], invalid: [] });
  });
  it('builds an RFC 6068 mailto URL', () => {
    const m = buildMailto(['a@x.de', 'b+1@y.com'], 'Join "Team" & more', 'Hi,\nclick https://h/meet/r/group/public/t#guest=1');
    expect(m).toBe(
      'mailto:a@x.de,b%2B1@y.com?subject=Join%20%22Team%22%20%26%20more&body=Hi%2C%0D%0Aclick%20https%3A%2F%2Fh%2Fmeet%2Fr%2Fgroup%2Fpublic%2Ft%23guest%3D1',
    );
    expect(buildMailto([], 's', 'b')).toBe('mailto:?subject=s&body=b');
    const u = new URL(m);
    expect(new URLSearchParams(u.search).get('body')).toBe('Hi,\r\nclick https://h/meet/r/group/public/t#guest=1');
  });
});

describe('a signed-in guest\'s address bar', () => {
  it('keeps the link\'s parameters with the chosen name, so a reload comes back as a guest', () => {
    setInitialHash('#guest=1&name=Gina&auto=2&mute=1');
    expect(guestFragment('Gina Gans', true)).toBe('#guest=1&name=Gina%20Gans&auto=2&mute=1');
    expect(guestFragment('Jo', false)).toBe('#guest=1&name=Jo');
  });
});
