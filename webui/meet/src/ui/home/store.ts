// The main screen's data for one signed-in user: the address book (gc) and the recents list (kvs).
// Created once per user in MainScreen and shared through HomeContext, so the contact view, the
// main view and other features (rooms adds groups to recents with addRecent) see the same state.
import { createContext } from 'preact';
import { useContext, useEffect, useState } from 'preact/hooks';
import { Directory, contactId, type GcUser } from '../../api/gc';
import { Recents, promote, type Recent, type RecentKind } from '../../api/kvs';
import type { Credentials } from '../../api/http';
import type { MeetConfig } from '../../config';

export interface HomeState {
  /** 'off': the account lacks the scope (kopano/gc, kopano/kvs); the feature is hidden with a note. */
  contacts: 'off' | 'loading' | 'ready' | { error: string };
  recents: 'off' | 'loading' | 'ready' | { error: string };
  /** Newest first, at most 30. */
  recentList: Recent[];
  /** Whether the whole directory is here (small directory): browse without typing. */
  fullDirectory: boolean;
}

export class HomeStore {
  readonly directory: Directory | null;
  private readonly kvs: Recents | null;
  private state: HomeState;
  private readonly listeners = new Set<(s: HomeState) => void>();
  /** Entries added before the list had loaded (a contact link opened directly): kept on top of it. */
  private early: Recent[] = [];

  constructor(
    readonly config: MeetConfig,
    creds: () => Credentials,
    scopes: readonly string[],
    self: { username?: string; mail?: string },
  ) {
    const gc = scopes.includes('kopano/gc');
    const kv = scopes.includes('kopano/kvs');
    this.directory = gc
      ? new Directory({ apiPrefix: config.apiPrefix, disableFullGAB: config.disableFullGAB, useIdentifiedUser: config.useIdentifiedUser, creds, self })
      : null;
    this.kvs = kv
      ? new Recents({ apiPrefix: config.kvs.apiPrefix, creds, onError: (what, e) => console.warn(`recents ${what} failed`, e) })
      : null;
    this.state = { contacts: gc ? 'loading' : 'off', recents: kv ? 'loading' : 'off', recentList: [], fullDirectory: false };
  }

  get(): HomeState {
    return this.state;
  }

  subscribe(fn: (s: HomeState) => void): () => void {
    this.listeners.add(fn);
    return () => void this.listeners.delete(fn);
  }

  private set(patch: Partial<HomeState>): void {
    this.state = { ...this.state, ...patch };
    this.listeners.forEach((l) => l(this.state));
  }

  /** Loads both lists (each on its own; one failing does not stop the other). */
  start(): void {
    if (this.directory) {
      this.directory
        .load()
        .then((full) => this.set({ contacts: 'ready', fullDirectory: full }))
        .catch((e: unknown) => this.set({ contacts: { error: message(e) } }));
    }
    if (this.kvs) {
      this.kvs
        .load()
        .then((loaded) => {
          let list = loaded;
          for (const item of this.early) list = promote(list, item);
          this.early = [];
          this.set({ recents: 'ready', recentList: this.kvs!.trim(list) });
        })
        .catch((e: unknown) => this.set({ recents: { error: message(e) } }));
    }
  }

  /** The key a contact is routed, called and kept in recents by. */
  contactKey(u: GcUser): string {
    return contactId(u, this.config.useIdentifiedUser);
  }

  /** Adds or refreshes a recents entry (newest first) and stores it; failures are logged, as in the original. */
  addRecent(kind: RecentKind, id: string, entry: Record<string, unknown>): void {
    if (!this.kvs) return;
    const kvs = this.kvs;
    const item: Recent = { kind, id, value: { ...entry, kind, date: new Date().toISOString() } };
    if (this.state.recents === 'loading') this.early.push(item);
    this.set({ recentList: kvs.trim(promote(this.state.recentList, item)) });
    kvs.put(kind, id, entry).catch((e: unknown) => console.warn('recents update failed', e));
  }

  removeRecent(kind: RecentKind, id: string): void {
    if (!this.kvs) return;
    this.set({ recentList: this.state.recentList.filter((r) => !(r.kind === kind && r.id === id)) });
    this.kvs.remove(kind, id).catch((e: unknown) => console.warn('recents delete failed', e));
  }

  /** A contact by route id: the loaded directory, then recents, then the server. */
  async findContact(id: string): Promise<GcUser | null> {
    const full = this.directory?.all?.find((u) => this.contactKey(u) === id);
    if (full) return full;
    if (this.directory) {
      try {
        const u = await this.directory.lookup(id);
        if (u) return u;
      } catch {
        /* fall back to what recents remember */
      }
    }
    const r = this.state.recentList.find((x) => x.kind === 'contact' && x.id === id);
    return r ? ({ ...r.value, id: typeof r.value.id === 'string' ? r.value.id : id } as GcUser) : null;
  }
}

function message(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}

export const HomeContext = createContext<HomeStore | null>(null);

export function useHome(): [HomeStore, HomeState] {
  const store = useContext(HomeContext);
  if (!store) throw new Error('useHome outside HomeContext');
  const [state, setState] = useState(store.get());
  useEffect(() => store.subscribe(setState), [store]);
  return [store, state];
}
