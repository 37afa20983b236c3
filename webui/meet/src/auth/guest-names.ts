// Guest display names: a random "adjective noun" (English or German words) unless the guest
// chose one, and the checks a chosen name must pass. Pure; the random source is injectable.
import type { Lang } from '../i18n/types';

const words: Record<Lang, { adjectives: string[]; nouns: string[] }> = {
  en: {
    adjectives: ['Amber', 'Brave', 'Bright', 'Calm', 'Clever', 'Curious', 'Eager', 'Gentle', 'Happy', 'Jolly', 'Kind',
      'Lively', 'Lucky', 'Merry', 'Nimble', 'Patient', 'Quick', 'Quiet', 'Sunny', 'Swift', 'Tidy', 'Witty'],
    nouns: ['Badger', 'Beaver', 'Crane', 'Dolphin', 'Falcon', 'Fox', 'Heron', 'Koala', 'Lynx', 'Otter', 'Owl',
      'Panda', 'Puffin', 'Raven', 'Robin', 'Seal', 'Sparrow', 'Squirrel', 'Tiger', 'Turtle', 'Wren', 'Zebra'],
  },
  de: {
    adjectives: ['Flinker', 'Fröhlicher', 'Geduldiger', 'Heiterer', 'Kluger', 'Lustiger', 'Mutiger', 'Munterer',
      'Neugieriger', 'Ruhiger', 'Sanfter', 'Schlauer', 'Schneller', 'Sonniger', 'Stiller', 'Tapferer', 'Wacher'],
    nouns: ['Biber', 'Dachs', 'Delfin', 'Falke', 'Fuchs', 'Igel', 'Kranich', 'Luchs', 'Otter', 'Panda', 'Rabe',
      'Reiher', 'Seehund', 'Spatz', 'Tiger', 'Uhu', 'Wal', 'Zaunkönig'],
  },
};

/** Uniform random integer in [0, n) from crypto (or the given source, for tests). */
function pick<T>(list: readonly T[], random: () => number): T {
  return list[Math.min(list.length - 1, Math.floor(random() * list.length))];
}

function cryptoRandom(): number {
  const a = new Uint32Array(1);
  crypto.getRandomValues(a);
  return a[0] / 2 ** 32;
}

/** A random "Adjective Noun" in the given language. */
export function randomGuestName(lang: Lang, random: () => number = cryptoRandom): string {
  const w = words[lang] ?? words.en;
  return `${pick(w.adjectives, random)} ${pick(w.nouns, random)}`;
}

/** The word lists (for tests). */
export function guestNameWords(lang: Lang): { adjectives: readonly string[]; nouns: readonly string[] } {
  return words[lang];
}

export const GUEST_NAME_MAX = 64;

export type NameProblem = 'empty' | 'tooLong' | 'invalid';

/** Trims and collapses white space; control characters and markup brackets are not allowed. */
export function cleanGuestName(raw: string): string {
  return raw.replace(/\s+/g, ' ').trim();
}

/** Why a guest name cannot be used, or null when it can (after cleanGuestName). */
export function guestNameProblem(raw: string): NameProblem | null {
  const name = cleanGuestName(raw);
  if (!name) return 'empty';
  if ([...name].length > GUEST_NAME_MAX) return 'tooLong';
  // eslint-disable-next-line no-control-regex
  if (/[\u0000-\u001f\u007f<>]/.test(name)) return 'invalid';
  return null;
}

/** The server shows guests as "(Guest)<name>"; the app shows the name without that marker. */
export function stripGuestPrefix(name: string): string {
  return name.startsWith('(Guest)') ? name.slice('(Guest)'.length).trim() : name;
}
