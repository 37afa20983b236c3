// The runtime config palaverd serves (spec kopano-services.md §4.2), loaded once at start.
export interface MeetConfig {
  apiPrefix: string;
  oidc: { iss: string; clientID: string; scope: string; eqp?: Record<string, string> };
  kwm: {
    url: string;
    apiPrefix: string;
    webrtc?: { config?: RTCConfiguration; options?: Record<string, unknown> };
    sdpParams?: Record<string, unknown>;
    sdpParamsScreenshare?: Record<string, unknown>;
  };
  kvs: { apiPrefix: string };
  guests: { enabled: boolean; default: string | null; publicGroupRegexp: string; defaultPublicGroupPrefix: string };
  disableFullGAB: boolean;
  disableRemoteTalkingDetection: boolean;
  useIdentifiedUser: boolean;
  /** Admin policy: no screen sharing (a key the original Meet never read; it ignores it). */
  disableScreenshare: boolean;
  /** Palaver's own: the admin's title and logo ("" = the app's own). */
  branding: { title: string; logo: string };
  /** `enabled` is the original's switcher of Kopano apps; `links` is Palaver's apps menu. */
  apps: { enabled?: string[]; links: AppLink[] };
}

export interface AppLink {
  title: string;
  url: string;
}

export const CONFIG_URL = '/api/config/v1/kopano/meet/config.json';

export const defaults: MeetConfig = {
  apiPrefix: '/api/gc/v1',
  oidc: { iss: '', clientID: '', scope: 'openid profile email kopano/kwm kopano/gc kopano/kvs' },
  kwm: { url: '', apiPrefix: '/api/kwm/v2' },
  kvs: { apiPrefix: '/api/kvs/v1' },
  guests: { enabled: false, default: null, publicGroupRegexp: '^(group|conference)/public/.*', defaultPublicGroupPrefix: 'public/' },
  disableFullGAB: false,
  disableRemoteTalkingDetection: false,
  useIdentifiedUser: false,
  disableScreenshare: false,
  branding: { title: '', logo: '' },
  apps: { links: [] },
};

/** A link the app may show: https:// or a path on this server (as palaverd validates them; a
 * hand-written meet_config_file is not validated, so this is checked again here). */
export function safeUrl(url: unknown): url is string {
  return typeof url === 'string' && (/^https:\/\/[^\s/?#@]+/.test(url) || /^\/(?!\/)/.test(url)) && !/[\s"'<>\\`]/.test(url);
}

/** The apps menu's links, without any that are malformed or unsafe. Pure. */
export function appLinks(config: MeetConfig): AppLink[] {
  const links = Array.isArray(config.apps?.links) ? config.apps.links : [];
  return links.filter((l) => l && typeof l.title === 'string' && l.title.trim() !== '' && safeUrl(l.url));
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** Deep-merges `over` onto `base` (objects key by key, anything else replaces). Pure. */
export function merge<T>(base: T, over: unknown): T {
  if (!isObject(base) || !isObject(over)) return (over === undefined ? base : (over as T));
  const out: Record<string, unknown> = { ...base };
  for (const [k, v] of Object.entries(over)) out[k] = k in out ? merge(out[k], v) : v;
  return out as T;
}

/** Fills in what the config leaves empty: the issuer and client id of this origin. */
export function resolveConfig(raw: unknown, origin: string): MeetConfig {
  const c = merge(defaults, raw);
  if (!c.oidc.iss) c.oidc.iss = origin;
  if (!c.oidc.clientID) c.oidc.clientID = `kpop-${origin}/meet/`;
  if (!c.kwm.url) c.kwm.url = origin;
  return c;
}

const delays = [400, 800, 1600, 3200];

/** Loads config.json as the original does: retried with back-off (400 ms … 5 s) until it answers. */
export async function loadConfig(
  onRetry: (attempt: number, error: string) => void,
  fetchFn: typeof fetch = fetch,
  sleep = (ms: number) => new Promise((r) => setTimeout(r, ms)),
): Promise<MeetConfig> {
  for (let attempt = 0; ; attempt++) {
    try {
      const res = await fetchFn(CONFIG_URL, { headers: { 'Kopano-XSRF': '1' }, credentials: 'omit', cache: 'no-store' });
      if (res.status !== 200 || !(res.headers.get('content-type') || '').startsWith('application/json')) {
        throw new Error(`HTTP ${res.status}`);
      }
      return resolveConfig(await res.json(), location.origin);
    } catch (e) {
      onRetry(attempt + 1, e instanceof Error ? e.message : String(e));
      await sleep(delays[attempt] ?? 5000);
    }
  }
}
