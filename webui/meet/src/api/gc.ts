// The address book as the original Meet reads it (spec kopano-services.md §2.1–2.3): a probe
// `users?$top=1&$skip=100&$select=id` decides whether the directory is small; a small one is
// loaded whole (`$top=100`) and searched here, a large one (or any with `disableFullGAB`) is
// searched on the server (`$search=`). Single users by id (`users/<id>`). The signed-in user is
// left out of every list. Photos come from `users/<id>/photo/$value` (palaverd's directory
// serves them; 404 without one), fetched with the token and shown as object URLs.
import { apiFetch, getJson, hasDotSegment, type Credentials } from './http';

export const LOCAL_LIMIT = 100;

export interface GcUser {
  id: string;
  displayName?: string;
  givenName?: string;
  surname?: string;
  mail?: string;
  userPrincipalName?: string;
  jobTitle?: string;
  mobilePhone?: string;
  officeLocation?: string;
  businessPhones?: string[] | string;
  [key: string]: unknown;
}

interface GcList {
  value: GcUser[];
}

export interface Self {
  /** The own directory id, when the token says it (`kopano/gc/id`). */
  id?: string;
  /** The own login name (`preferred_username`). */
  username?: string;
  mail?: string;
}

export interface DirectoryOptions {
  apiPrefix: string;
  disableFullGAB: boolean;
  /** `useIdentifiedUser`: contacts are keyed (routes, kwm, recents) by `userPrincipalName`. */
  useIdentifiedUser: boolean;
  creds: () => Credentials;
  self: Self;
  fetchFn?: typeof fetch;
}

/** The key a contact is called and routed by (the gc id, or the login name with useIdentifiedUser). */
export function contactId(u: GcUser, useIdentifiedUser: boolean): string {
  return useIdentifiedUser && u.userPrincipalName ? u.userPrincipalName : u.id;
}

/** The original's sort key: display name, given name, surname, then login name. */
function sortable(u: GcUser): string {
  return `${u.displayName ?? ''} ${u.givenName ?? ''} ${u.surname ?? ''}zzz,${u.userPrincipalName ?? ''}`.trim().toLowerCase();
}

export function sortContacts(list: GcUser[]): GcUser[] {
  return [...list].sort((a, b) => sortable(a).localeCompare(sortable(b)));
}

export function isSelf(u: GcUser, self: Self): boolean {
  if (self.id && u.id === self.id) return true;
  if (self.username && u.userPrincipalName && u.userPrincipalName.toLowerCase() === self.username.toLowerCase()) return true;
  return Boolean(self.mail && u.mail && u.mail.toLowerCase() === self.mail.toLowerCase());
}

/** Local search over a fully loaded directory: every word must match a name or the mail. */
export function matches(u: GcUser, term: string): boolean {
  const hay = [u.displayName, u.givenName, u.surname, u.mail, u.userPrincipalName]
    .filter(Boolean)
    .join(' ')
    .toLowerCase();
  return term
    .toLowerCase()
    .split(/\s+/)
    .filter(Boolean)
    .every((w) => hay.includes(w));
}

export function displayName(u: Partial<GcUser>): string {
  return u.displayName || [u.givenName, u.surname].filter(Boolean).join(' ') || u.mail || u.userPrincipalName || u.id || '';
}

/**
 * A mailto: link for a directory address, or null when it is not a plain address: `?`, `&` or `#`
 * in the attribute would add headers or a body (`a@b?bcc=…`) to the mail the user writes. Pure.
 */
export function mailtoHref(mail: unknown): string | null {
  if (typeof mail !== 'string' || !/^[^\s@?&#/:]+@[^\s@?&#/:]+$/.test(mail)) return null;
  return `mailto:${encodeURIComponent(mail).replace('%40', '@')}`;
}

export function initials(name: string): string {
  const parts = name.trim().split(/[\s@._-]+/).filter(Boolean);
  const first = parts[0]?.[0] ?? '?';
  const last = parts.length > 1 ? parts[parts.length - 1][0] : '';
  return (first + last).toUpperCase();
}

export class Directory {
  /** The whole directory (sorted, self removed) when it is small enough; null otherwise. */
  all: GcUser[] | null = null;
  private readonly photos = new Map<string, Promise<string | null>>();
  /** Photo requests run at most four at a time (a list of 100 contacts asks for 100 photos). */
  private running = 0;
  private readonly waiting: (() => void)[] = [];

  constructor(private readonly o: DirectoryOptions) {}

  private url(path: string): string {
    return this.o.apiPrefix.replace(/\/$/, '') + path;
  }

  private list(params: { top?: number; skip?: number; select?: string; search?: string }): Promise<GcList> {
    let q = `/users?$top=${params.top ?? LOCAL_LIMIT}&$skip=${params.skip ?? 0}`;
    if (params.search) q += `&$search=${encodeURIComponent(params.search)}`;
    if (params.select) q += `&$select=${params.select}`;
    return getJson<GcList>(this.url(q), this.o.creds(), this.o.fetchFn);
  }

  private clean(list: GcUser[]): GcUser[] {
    return list.filter((u) => u && typeof u.id === 'string' && u.id && !isSelf(u, this.o.self));
  }

  /** Start-up: probe, then load the whole directory when it is small. Returns whether it did. */
  async load(): Promise<boolean> {
    if (this.o.disableFullGAB) return false;
    const probe = await this.list({ top: 1, skip: LOCAL_LIMIT, select: 'id' });
    if (Array.isArray(probe.value) && probe.value.length > 0) return false;
    const all = await this.list({});
    this.all = sortContacts(this.clean(all.value ?? []));
    return true;
  }

  /** Contacts matching `term` (at most `top`): locally when loaded whole, else on the server. */
  async search(term: string, top = LOCAL_LIMIT): Promise<GcUser[]> {
    const t = term.trim();
    if (this.all) return (t ? this.all.filter((u) => matches(u, t)) : this.all).slice(0, top);
    if (!t) return [];
    const res = await this.list({ top, search: t });
    return sortContacts(this.clean((res.value ?? []).slice(0, top)));
  }

  /** One user by id (or login name); null when the directory does not know it. */
  async lookup(id: string): Promise<GcUser | null> {
    const known = this.all?.find((u) => u.id === id || u.userPrincipalName === id);
    if (known) return known;
    if (!id || hasDotSegment(id)) return null; // `.`/`..` would address another API path
    try {
      const u = await getJson<GcUser | GcList>(this.url(`/users/${encodeURIComponent(id)}`), this.o.creds(), this.o.fetchFn);
      // grapi's LDAP backend answers an empty list envelope for unknown ids.
      if ('value' in u && Array.isArray(u.value)) return null;
      return u as GcUser;
    } catch (e) {
      if ((e as { status?: number }).status === 404) return null;
      throw e;
    }
  }

  /** An object URL of the user's photo, or null when there is none (cached per id). */
  photo(id: string): Promise<string | null> {
    if (!id || hasDotSegment(id)) return Promise.resolve(null);
    let p = this.photos.get(id);
    if (!p) {
      p = (async () => {
        if (this.running >= 4) await new Promise<void>((r) => this.waiting.push(r));
        this.running++;
        try {
          const res = await apiFetch(this.url(`/users/${encodeURIComponent(id)}/photo/$value`), this.o.creds(), {}, this.o.fetchFn);
          if (res.status !== 200 || !(res.headers.get('content-type') || '').startsWith('image/')) return null;
          return URL.createObjectURL(await res.blob());
        } catch {
          return null;
        } finally {
          this.running--;
          this.waiting.shift()?.();
        }
      })();
      this.photos.set(id, p);
    }
    return p;
  }
}
