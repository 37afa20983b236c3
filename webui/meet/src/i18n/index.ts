// English and German. Each feature's messages live in messages/<feature>.ts (both languages side by
// side); this file joins them. The language follows the browser unless the user picked one in
// settings (kept in localStorage). A unit test checks that no key is defined twice.
import type { Lang } from './types';
import { common } from './messages/common';
import { call } from './messages/call';
import { home } from './messages/home';
import { rooms } from './messages/rooms';

export type { Lang };

// Add a feature's messages here (one line each).
const features = [common, call, home, rooms] as const;

type Union<T> = T extends { en: infer E } ? E : never;
type UnionToIntersection<U> = (U extends unknown ? (k: U) => void : never) extends (k: infer I) => void ? I : never;
type All = UnionToIntersection<Union<(typeof features)[number]>>;
export type MessageKey = keyof All & string;

function join(lang: Lang): Record<string, string> {
  return Object.assign({}, ...features.map((f) => f[lang]));
}
const dictionaries: Record<Lang, Record<string, string>> = { en: join('en'), de: join('de') };

/** Keys defined by more than one feature file (a unit test asserts there are none). */
export function duplicateKeys(): string[] {
  const seen = new Set<string>();
  const dup: string[] = [];
  for (const f of features) for (const k of Object.keys(f.en)) (seen.has(k) ? dup : (seen.add(k), [])).push(k);
  return dup;
}

const STORAGE_KEY = 'palaver.meet.lang';

export function detectLanguage(stored: string | null, browser: readonly string[]): Lang {
  if (stored === 'en' || stored === 'de') return stored;
  for (const l of browser) {
    const base = l.toLowerCase().split('-')[0];
    if (base === 'de' || base === 'en') return base;
  }
  return 'en';
}

function storedLanguage(): string | null {
  try {
    return localStorage.getItem(STORAGE_KEY);
  } catch {
    return null;
  }
}

let current: Lang = detectLanguage(
  storedLanguage(),
  typeof navigator !== 'undefined' ? (navigator.languages ?? [navigator.language]) : [],
);
const listeners = new Set<() => void>();

export function language(): Lang {
  return current;
}

export function setLanguage(lang: Lang): void {
  current = lang;
  try {
    localStorage.setItem(STORAGE_KEY, lang);
  } catch {
    /* private mode: the choice lasts for this page */
  }
  document.documentElement.lang = lang;
  listeners.forEach((l) => l());
}

export function onLanguageChange(fn: () => void): () => void {
  listeners.add(fn);
  return () => void listeners.delete(fn);
}

/** The message for `key` in the current language; `{name}` placeholders are filled from `vars`. */
export function t(key: MessageKey, vars?: Record<string, string | number>, lang: Lang = current): string {
  const msg = dictionaries[lang][key] ?? dictionaries.en[key] ?? key;
  return vars ? msg.replace(/\{(\w+)\}/g, (m, k: string) => (k in vars ? String(vars[k]) : m)) : msg;
}
