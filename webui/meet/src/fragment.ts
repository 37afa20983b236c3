// URL fragment parameters (manual §4.1, spec kopano-services.md §4.5), read once at start.
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
