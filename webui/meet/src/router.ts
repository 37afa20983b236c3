// Routes under /meet (spec kopano-services.md §4.4), the same paths as the original so links work
// in both apps. Pure parsing plus a tiny history-API navigator.
export type Route =
  | { view: 'main' }
  | { view: 'contact'; id: string }
  | { view: 'room'; scope: 'group' | 'conference'; id: string }
  | { view: 'join'; scope: 'group' | 'conference'; id: string };

function decode(s: string): string {
  try {
    return decodeURIComponent(s);
  } catch {
    return s;
  }
}

/** An id with a `.` or `..` segment is no contact or group: it would only make API paths escape. */
function bad(id: string): boolean {
  return id.split('/').some((seg) => seg === '.' || seg === '..');
}

export function parseRoute(pathname: string): Route {
  const r = parseRaw(pathname);
  return r.view !== 'main' && bad(r.id) ? { view: 'main' } : r;
}

function parseRaw(pathname: string): Route {
  const m = /^\/meet\/r\/(.*)$/.exec(pathname);
  if (!m) return { view: 'main' };
  const parts = m[1].split('/').filter(Boolean);
  const [head, ...rest] = parts;
  if (head === 'call') return rest.length ? { view: 'contact', id: decode(rest.join('/')) } : { view: 'main' };
  if ((head === 'group' || head === 'conference') && rest.length) return { view: 'room', scope: head, id: decode(rest.join('/')) };
  if (head === 'join' && (rest[0] === 'group' || rest[0] === 'conference') && rest.length > 1) {
    return { view: 'join', scope: rest[0], id: decode(rest.slice(1).join('/')) };
  }
  return { view: 'main' };
}

export function routePath(r: Route): string {
  const enc = (id: string) => id.split('/').map(encodeURIComponent).join('/');
  switch (r.view) {
    case 'main':
      return '/meet/r/call';
    case 'contact':
      return `/meet/r/call/${enc(r.id)}`;
    case 'room':
      return `/meet/r/${r.scope}/${enc(r.id)}`;
    case 'join':
      return `/meet/r/join/${r.scope}/${enc(r.id)}`;
  }
}

const listeners = new Set<(r: Route) => void>();

export function currentRoute(): Route {
  return parseRoute(location.pathname);
}

export function navigate(r: Route, replace = false): void {
  const path = routePath(r);
  if (replace) history.replaceState(null, '', path);
  else history.pushState(null, '', path);
  listeners.forEach((l) => l(r));
}

export function onRouteChange(fn: (r: Route) => void): () => void {
  listeners.add(fn);
  const pop = () => fn(currentRoute());
  window.addEventListener('popstate', pop);
  return () => {
    listeners.delete(fn);
    window.removeEventListener('popstate', pop);
  };
}
