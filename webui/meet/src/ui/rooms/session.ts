// What the rooms views hand to each other within one page load: the join the wizard (or an
// `auto` fragment) asked for, the start-muted wish, and the hook that records a group in the
// recents (set by the main screen's kvs code; guests have no recents).
import type { RoomScope } from './model';

export interface JoinRequest {
  scope: RoomScope;
  id: string;
  video: boolean;
  muteMic: boolean;
  muteCam: boolean;
}

let pending: JoinRequest | null = null;

/** Asks the room page of `scope/id` to join as soon as the call engine is there. */
export function requestJoin(j: JoinRequest): void {
  pending = { ...j };
}

/** The pending join for this room, once (the room page takes it). */
export function takeJoin(scope: RoomScope, id: string): JoinRequest | null {
  if (!pending || pending.scope !== scope || pending.id !== id) return null;
  const j = pending;
  pending = null;
  return j;
}

export function peekJoin(): JoinRequest | null {
  return pending;
}

/** Records a group in the recents: kvs key kind `group`, value `{id, displayName, scope}` as the original. */
type RecentsHook = (scope: RoomScope, id: string, displayName: string) => void;
let recentsHook: RecentsHook | null = null;

/**
 * The main screen registers how a group gets into the recents (kvs, as the original keeps them).
 * TODO(home): MainScreen registers `setRoomRecentsHook((scope, id, name) =>
 * store.addRecent('group', id, { id, displayName: name, scope }))`; until then opening a group
 * records nothing.
 */
export function setRoomRecentsHook(fn: RecentsHook | null): void {
  recentsHook = fn;
}

export function rememberRoom(scope: RoomScope, id: string, displayName: string): void {
  try {
    recentsHook?.(scope, id, displayName);
  } catch {
    /* recents are a convenience: a failure never blocks the room */
  }
}

/** The room of the URL the app was opened with: `auto` and `mute` fragments apply to it only. */
let initialRoom: { scope: RoomScope; id: string } | null = null;

export function setInitialRoom(r: { scope: RoomScope; id: string } | null): void {
  initialRoom = r;
}

export function isInitialRoom(scope: RoomScope, id: string): boolean {
  return !!initialRoom && initialRoom.scope === scope && initialRoom.id === id;
}

let autoUsed = false;

/** True once: the `auto` fragment joins the initial room on the first visit of its page only. */
export function takeAuto(scope: RoomScope, id: string): boolean {
  if (autoUsed || !isInitialRoom(scope, id)) return false;
  autoUsed = true;
  return true;
}

export function getInitialRoom(): { scope: RoomScope; id: string } | null {
  return initialRoom;
}

let initialHash = '';

export function setInitialHash(h: string): void {
  initialHash = h.replace(/^#/, '');
}

/**
 * The fragment a signed-in guest's tab remembers (fragment.ts rememberGuestFragment): the link's
 * parameters with the chosen name, so that a reload (guest tokens live in memory only) brings the
 * guest back as a guest.
 */
export function guestFragment(name: string, initial: boolean): string {
  const q = new URLSearchParams(initial ? initialHash : '');
  q.set('guest', '1');
  q.set('name', name);
  lastGuestFragment = '#' + q.toString().replace(/\+/g, '%20');
  return lastGuestFragment;
}

let lastGuestFragment = '';

/** The fragment the signed-in guest's room URL carries (empty before the guest signed in). */
export function currentGuestFragment(): string {
  return lastGuestFragment;
}
