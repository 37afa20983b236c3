import { describe, expect, it } from 'vitest';
import { cleanGuestName, guestNameProblem, guestNameWords, randomGuestName, stripGuestPrefix } from './guest-names';

describe('guest names', () => {
  it('random names are "Adjective Noun" from the language\'s lists', () => {
    for (const lang of ['en', 'de'] as const) {
      const { adjectives, nouns } = guestNameWords(lang);
      for (let i = 0; i < 50; i++) {
        const [a, n, ...rest] = randomGuestName(lang).split(' ');
        expect(rest).toEqual([]);
        expect(adjectives).toContain(a);
        expect(nouns).toContain(n);
      }
    }
  });
  it('uses the random source over the whole lists', () => {
    const { adjectives, nouns } = guestNameWords('en');
    expect(randomGuestName('en', () => 0)).toBe(`${adjectives[0]} ${nouns[0]}`);
    expect(randomGuestName('en', () => 0.999999)).toBe(`${adjectives.at(-1)} ${nouns.at(-1)}`);
    expect(randomGuestName('de', () => 0)).toBe(`${guestNameWords('de').adjectives[0]} ${guestNameWords('de').nouns[0]}`);
    const seen = new Set(Array.from({ length: 400 }, () => randomGuestName('en')));
    expect(seen.size).toBeGreaterThan(50);
  });
  it('validates a chosen name', () => {
    expect(cleanGuestName('  Gina   Gans ')).toBe('Gina Gans');
    expect(guestNameProblem('Gina')).toBeNull();
    expect(guestNameProblem('Jürgen Groß')).toBeNull();
    expect(guestNameProblem('   ')).toBe('empty');
    expect(guestNameProblem('x'.repeat(65))).toBe('tooLong');
    expect(guestNameProblem('x'.repeat(64))).toBeNull();
    expect(guestNameProblem('<b>Gina</b>')).toBe('invalid');
    expect(guestNameProblem('a\u0007b')).toBe('invalid');
  });
  it('strips the server\'s (Guest) marker for display', () => {
    expect(stripGuestPrefix('(Guest)Gina')).toBe('Gina');
    expect(stripGuestPrefix('Gina')).toBe('Gina');
  });
});

import { scheduleDelay } from './guest-session';

describe('guest token renewal', () => {
  it('renews 120 s before expiry, never sooner than 30 s from now', () => {
    expect(scheduleDelay(1000 + 600, 1000)).toBe(480_000);
    expect(scheduleDelay(1000 + 100, 1000)).toBe(30_000);
    expect(scheduleDelay(undefined, 1000)).toBeNull();
  });
});
