// A signed-in guest's tokens are renewed by running the implicit flow again with the same signed
// request object, 120 s before the access token expires (as the user's are), retried every 30 s.
import type { MeetConfig } from '../config';
import type { Auth } from './oidc';
import { guestAuthorize, type GuestSession } from './guest-flow';
import { runHiddenFrame } from './guest-frame';

export function scheduleDelay(expiresAt: number | undefined, nowSec: number): number | null {
  if (!expiresAt) return null;
  return Math.max(30, expiresAt - nowSec - 120) * 1000;
}

/** Hands the guest to `auth` and keeps the tokens fresh; returns a stop function. */
export function adoptGuestSession(config: MeetConfig, session: GuestSession, auth: Auth): () => void {
  let timer: ReturnType<typeof setTimeout> | undefined;
  let stopped = false;
  const plan = (expiresAt: number | undefined, failed = false) => {
    const d = failed ? 30_000 : scheduleDelay(expiresAt, Math.floor(Date.now() / 1000));
    if (d === null || stopped) return;
    timer = setTimeout(() => {
      guestAuthorize(config, session.request, { runFrame: runHiddenFrame }).then(
        (u) => {
          if (stopped) return;
          auth.adoptGuest(u);
          plan(u.expiresAt);
        },
        () => plan(expiresAt, true),
      );
    }, d);
  };
  auth.adoptGuest(session.user);
  plan(session.user.expiresAt);
  const off = auth.on((e) => {
    if (e.kind === 'signed-out') stop();
  });
  function stop() {
    stopped = true;
    clearTimeout(timer);
    off();
  }
  return stop;
}
