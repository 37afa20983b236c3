// Recents, kept in kvs exactly as the original Meet keeps them (spec kopano-services.md §3.1–3.2),
// so that both apps share them: collection `kopano-meet-recents`, one record per entry under
// `kopano-meet-recents/<kind>/<id>` holding the entry JSON plus `date` (ISO) and `kind`. Load
// with `?recurse=1` (storage order: oldest first), reverse, keep 30 and delete the rest; PUT on
// every view of a contact or group (which moves it to the end); DELETE on remove.
import { apiFetch, getJson, ApiError, hasDotSegment, type Credentials } from './http';

export const COLLECTION = 'kopano-meet-recents';
export const MAX_RECENTS = 30;

export type RecentKind = 'contact' | 'group' | 'local';

/** The stored JSON (a gc user object or a group) plus `date` and `kind`. */
export interface RecentEntry {
  kind: RecentKind;
  id?: string;
  displayName?: string;
  /** Groups: `group` or `conference`. */
  scope?: string;
  /** ISO timestamp of the last view. */
  date: string;
  [key: string]: unknown;
}

/** An entry as loaded: its key's kind and id (what routes and DELETE use) and the stored value. */
export interface Recent {
  kind: RecentKind;
  id: string;
  value: RecentEntry;
}

interface Envelope {
  key: string;
  value: unknown;
}

/** The kvs key of an entry (the id may contain `/`, as in `public/foo`). */
export function recentKey(kind: string, id: string): string {
  return `${COLLECTION}/${kind}/${id}`;
}

/** Splits `kopano-meet-recents/<kind>/<id…>` (pure); null for foreign keys. */
export function parseRecentKey(key: string): { kind: string; id: string } | null {
  const [collection, kind, ...rest] = key.split('/');
  if (collection !== COLLECTION || !kind || !rest.length) return null;
  return { kind, id: rest.join('/') };
}

function keyPath(key: string): string {
  // `..` would leave the recents collection (fetch resolves it): refused, see hasDotSegment.
  if (hasDotSegment(key)) throw new ApiError('invalid key', 0);
  return key.split('/').map(encodeURIComponent).join('/');
}

export interface RecentsOptions {
  apiPrefix: string;
  creds: () => Credentials;
  fetchFn?: typeof fetch;
  /** Where failed background writes are reported (the original logs and ignores them). */
  onError?: (what: string, e: unknown) => void;
}

export class Recents {
  constructor(private readonly o: RecentsOptions) {}

  private url(key: string, query = ''): string {
    return `${this.o.apiPrefix.replace(/\/$/, '')}/kv/user/${keyPath(key)}${query}`;
  }

  /**
   * Loads the list, newest first, at most 30; older records are deleted on the server (in the
   * background, one by one, as the original does). A load error is thrown (the app shows it).
   */
  async load(): Promise<Recent[]> {
    const records = await getJson<Envelope[]>(this.url(COLLECTION, '?recurse=1'), this.o.creds(), this.o.fetchFn);
    if (!Array.isArray(records)) throw new ApiError('not a list', 200);
    const reversed = [...records].reverse();
    const keep: Recent[] = [];
    const superfluous: string[] = [];
    for (const r of reversed) {
      const k = parseRecentKey(r.key);
      if (!k) continue;
      if (keep.length >= MAX_RECENTS) {
        superfluous.push(r.key);
        continue;
      }
      const v = (typeof r.value === 'object' && r.value !== null ? r.value : {}) as Record<string, unknown>;
      keep.push({ kind: k.kind as RecentKind, id: k.id, value: { ...v, kind: k.kind as RecentKind, date: String(v.date ?? '') } });
    }
    if (superfluous.length) void this.deleteKeys(superfluous);
    return keep;
  }

  private async deleteKeys(keys: string[]): Promise<void> {
    for (const k of keys) {
      try {
        await apiFetch(this.url(k), this.o.creds(), { method: 'DELETE' }, this.o.fetchFn);
      } catch (e) {
        this.o.onError?.('delete', e);
      }
    }
  }

  /** Stores (or refreshes) an entry: the given object plus `date` and `kind`. Returns the entry. */
  async put(kind: RecentKind, id: string, entry: Record<string, unknown>, now = new Date()): Promise<Recent> {
    const value: RecentEntry = { ...entry, date: now.toISOString(), kind };
    const res = await apiFetch(
      this.url(recentKey(kind, id)),
      this.o.creds(),
      { method: 'PUT', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify(value) },
      this.o.fetchFn,
    );
    if (res.status !== 200) throw new ApiError(`HTTP ${res.status}`, res.status);
    return { kind, id, value };
  }

  async remove(kind: string, id: string): Promise<void> {
    const res = await apiFetch(this.url(recentKey(kind, id)), this.o.creds(), { method: 'DELETE' }, this.o.fetchFn);
    if (res.status !== 200 && res.status !== 404) throw new ApiError(`HTTP ${res.status}`, res.status);
  }

  /** Deletes what falls beyond 30 after an addition (the list is newest first). */
  trim(list: Recent[]): Recent[] {
    if (list.length <= MAX_RECENTS) return list;
    void this.deleteKeys(list.slice(MAX_RECENTS).map((e) => recentKey(e.kind, e.id)));
    return list.slice(0, MAX_RECENTS);
  }
}

/** Moves (or adds) `item` to the front of a newest-first list (pure). */
export function promote(list: Recent[], item: Recent): Recent[] {
  return [item, ...list.filter((r) => !(r.kind === item.kind && r.id === item.id))];
}
