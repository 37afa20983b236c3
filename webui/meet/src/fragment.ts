// URL fragment parameters (manual §4.1, spec kopano-services.md §4.5), read once at start and then
// removed from the address bar (history.replaceState: no new history entry), so that a guest's
// name, a token or `auto` do not stay visible, in bookmarks or on a shared screen. A signed-in
// guest's tab keeps its link parameters in sessionStorage instead (guest tokens live in memory
// only), so that a reload of the room brings the guest back as a guest.
export interface FragmentParams {
  guest: boolean;
  name?: string;
  token?: string;
  /** 1 = join with audio only, 2 = join with video. */
  auto?: 1 | 2;
  muteMic: boolean;
  muteCam: boolean;
  /** Maximum camera height. */
  hd: 360 | 720 | 1080 | 2160;
  stereo: boolean;
}

const hdMap: Record<string, FragmentParams['hd']> = {
  '0': 360, '360p': 360, '1': 720, '720p': 720, '2': 1080, '1080p': 1080, '3': 2160, '4k': 2160,
};

/** Parses `#a=1&b=2` (pure). Unknown keys and oidc markers are ignored. */
export function parseFragment(hash: string): FragmentParams {
  const q = new URLSearchParams(hash.replace(/^#/, ''));
  const mute = Number.parseInt(q.get('mute') ?? '0', 10) || 0;
  const auto = q.get('auto');
  return {
    guest: q.get('guest') === '1',
    name: q.get('name') ?? undefined,
    token: q.get('token') ?? undefined,
    auto: auto === '1' ? 1 : auto === '2' ? 2 : undefined,
    muteMic: (mute & 1) !== 0,
    muteCam: (mute & 2) !== 0,
    hd: hdMap[q.get('hd') ?? ''] ?? 720,
    stereo: q.has('stereo'),
  };
}

const GUEST_KEY = 'palaver.meet.guestFragment';
let taken: string | null = null;

/**
 * The fragment of the opening URL ('#…' or ''), read once; the address bar loses it. Without one,
 * a guest's remembered parameters for this very path stand in (a reload of the guest's room).
 */
export function takeFragment(): string {
  if (taken !== null) return taken;
  let h = location.hash === '#' ? '' : location.hash;
  if (!h) {
    try {
      const g = JSON.parse(sessionStorage.getItem(GUEST_KEY) ?? 'null') as { path?: string; fragment?: string } | null;
      if (g?.path === location.pathname && typeof g.fragment === 'string') h = g.fragment;
    } catch {
      /* no storage */
    }
  }
  // The original Meet's sign-in answer (its redirect URI is /meet/#oidc-callback&code=…) is not
  // ours to read or clear: left as it is.
  if (/^#oidc-/.test(h)) {
    taken = '';
    return '';
  }
  taken = h;
  if (location.hash) history.replaceState(history.state, '', location.pathname + location.search);
  return h;
}

/** What takeFragment read ('' before it ran). */
export function initialFragment(): string {
  return taken ?? '';
}

/** A signed-in guest's link parameters for its room `path`, for a reload of this tab. */
export function rememberGuestFragment(path: string, fragment: string): void {
  try {
    sessionStorage.setItem(GUEST_KEY, JSON.stringify({ path, fragment }));
  } catch {
    /* no storage: a reload asks for the name again */
  }
}

/** Test hook: forget what was read. */
export function resetFragmentForTests(): void {
  taken = null;
}
