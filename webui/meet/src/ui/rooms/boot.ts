// Start-up of the rooms part, run once before the first render (App): remembers the room of the
// opening URL (for `auto`/`mute`), sends a direct group link without `auto` to the join form
// (spec §4.4, keeping the query; the fragment was read and removed at start, fragment.ts), and
// tells whether this visit is a guest's.
import type { MeetConfig } from '../../config';
import { initialFragment, type FragmentParams } from '../../fragment';
import { wantsGuest } from '../../auth/guest-flow';
import { currentRoute, navigate, type Route } from '../../router';
import { firstLoadRedirect } from './model';
import { getInitialRoom, setInitialHash, setInitialRoom } from './session';

let hasGuestParam = false;
let booted = false;

export function bootRooms(params: FragmentParams): void {
  if (booted) return;
  booted = true;
  const hash = initialFragment();
  hasGuestParam = new URLSearchParams(hash.replace(/^#/, '')).has('guest');
  setInitialHash(hash);
  const route = currentRoute();
  if (route.view === 'room' || route.view === 'join') setInitialRoom({ scope: route.scope, id: route.id });
  const to = firstLoadRedirect(route, params.auto !== undefined, location.search, location.hash);
  if (to) history.replaceState(null, '', to);
}

/** A visit that should become a guest when nobody is signed in: a room link with `#guest=1` (or guests.default). */
export function isGuestVisit(config: MeetConfig, route: Route, params: FragmentParams): boolean {
  return (route.view === 'room' || route.view === 'join') && wantsGuest(params.guest, hasGuestParam, config);
}

/** Where a signed-in guest who wandered off the room belongs (the room of the link), or null. */
export function guestRedirect(route: Route): Route | null {
  const home = getInitialRoom();
  if (route.view === 'room' || route.view === 'join' || !home) return null;
  return { view: 'room', ...home };
}

/** Sends a signed-in guest who left the room's routes back to it. */
export function sendGuestBack(route: Route): void {
  const to = guestRedirect(route);
  if (!to) return;
  navigate(to, true);
}
