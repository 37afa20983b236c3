// Calls to palaverd's APIs as the original Meet makes them: `Authorization: <type> <token>`,
// `Kopano-XSRF: 1`, and an answer that must be 200 JSON (kpop's networkFetch).
export class ApiError extends Error {
  constructor(
    message: string,
    readonly status: number,
  ) {
    super(message);
  }
}

/**
 * Whether a path built from `id` would contain a `.` or `..` segment. fetch() resolves those
 * before sending, so an id like `../../x` (from a crafted link such as `/meet/r/call/..%2F..%2Fx`)
 * would send the request, with the user's token, to another API path. Ids with such segments are
 * refused wherever an id becomes a URL path.
 */
export function hasDotSegment(id: string): boolean {
  return id.split('/').some((seg) => seg === '.' || seg === '..');
}

export interface Credentials {
  tokenType: string;
  accessToken: string;
}

export async function apiFetch(
  url: string,
  creds: Credentials,
  init: RequestInit = {},
  fetchFn: typeof fetch = fetch,
): Promise<Response> {
  const headers = new Headers(init.headers);
  headers.set('Authorization', `${creds.tokenType} ${creds.accessToken}`);
  headers.set('Kopano-XSRF', '1');
  let res: Response;
  try {
    res = await fetchFn(url, { ...init, headers, credentials: 'omit', cache: 'no-store' });
  } catch (e) {
    throw new ApiError(e instanceof Error ? e.message : String(e), 0);
  }
  return res;
}

/** GET returning JSON; anything but 200 `application/json` is an ApiError. */
export async function getJson<T>(url: string, creds: Credentials, fetchFn: typeof fetch = fetch): Promise<T> {
  const res = await apiFetch(url, creds, {}, fetchFn);
  if (res.status !== 200) throw new ApiError(`HTTP ${res.status}`, res.status);
  if (!(res.headers.get('content-type') || '').startsWith('application/json')) {
    throw new ApiError('not JSON', res.status);
  }
  return (await res.json()) as T;
}
