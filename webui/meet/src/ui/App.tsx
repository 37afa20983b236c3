// The app shell: config, sign-in, banners (offline, update, server unreachable), then the route.
import { useEffect, useState } from 'preact/hooks';
import { loadConfig, type MeetConfig } from '../config';
import { Auth, CALLBACK_PATH, missingScopes, type SignedInUser } from '../auth/oidc';
import type { FragmentParams } from '../fragment';
import { t, onLanguageChange } from '../i18n';
import { currentRoute, navigate, onRouteChange, routePath, type Route } from '../router';
import { registerServiceWorker } from '../util/pwa';
import { MainScreen } from './MainScreen';
import { bootRooms, GuestJoin, isGuestVisit, sendGuestBack } from './rooms';

type Boot =
  | { state: 'config'; attempt?: number; error?: string }
  | { state: 'auth' }
  | { state: 'signin'; error?: string }
  | { state: 'noaccess'; scopes: string[] }
  /** Nobody signed in and a guest link: the guest join wizard (src/ui/rooms). */
  | { state: 'guest' }
  | { state: 'ready'; user: SignedInUser };

export function useLanguage(): void {
  const [, set] = useState(0);
  useEffect(() => onLanguageChange(() => set((n) => n + 1)), []);
}

function useOnline(): boolean {
  const [online, setOnline] = useState(navigator.onLine);
  useEffect(() => {
    const up = () => setOnline(true);
    const down = () => setOnline(false);
    window.addEventListener('online', up);
    window.addEventListener('offline', down);
    return () => {
      window.removeEventListener('online', up);
      window.removeEventListener('offline', down);
    };
  }, []);
  return online;
}

export function App({ params }: { params: FragmentParams }) {
  useLanguage();
  const online = useOnline();
  const [boot, setBoot] = useState<Boot>({ state: 'config' });
  const [config, setConfig] = useState<MeetConfig | null>(null);
  const [auth, setAuth] = useState<Auth | null>(null);
  const [route, setRoute] = useState<Route>(() => (bootRooms(params), currentRoute()));
  const [update, setUpdate] = useState<(() => void) | null>(null);

  useEffect(() => onRouteChange(setRoute), []);
  // Unknown routes show the main view under its canonical path, as in the original. The address
  // bar is read afresh: an effect of an earlier render may run after start() changed it.
  useEffect(() => {
    const now = currentRoute();
    // (Not on the sign-in callback: start() puts the route the user came from there.)
    if (boot.state === 'ready' && now.view === 'main' && location.pathname !== routePath(now) && location.pathname !== CALLBACK_PATH) {
      navigate(now, true);
    }
    // A guest belongs in the room of the link, never on the main screen.
    if (boot.state === 'ready' && boot.user.guest) sendGuestBack(now);
  }, [boot.state, route]);
  useEffect(() => registerServiceWorker((apply) => setUpdate(() => apply)), []);

  useEffect(() => {
    let cancelled = false;
    void (async () => {
      const cfg = await loadConfig((attempt, error) => !cancelled && setBoot({ state: 'config', attempt, error }));
      if (cancelled) return;
      setConfig(cfg);
      const a = new Auth(cfg);
      setAuth(a);
      a.on((e) => {
        if (e.kind === 'signed-in') setBoot(checkScopes(e.user));
        else if (e.kind === 'signed-out') setBoot({ state: 'signin' });
        else setBoot({ state: 'signin', error: e.message });
      });
      setBoot({ state: 'auth' });
      try {
        const user = await a.start();
        if (cancelled) return;
        // start() may have replaced the address (the sign-in callback goes back to the path the
        // user came from): take the route from there, else the canonical-route effect below would
        // replace that path with the main view.
        setRoute(currentRoute());
        if (user) setBoot(checkScopes(user));
        else if (isGuestVisit(cfg, currentRoute(), params)) setBoot({ state: 'guest' });
        else await a.signIn();
      } catch (e) {
        setBoot({ state: 'signin', error: e instanceof Error ? e.message : String(e) });
      }
    })();
    return () => {
      cancelled = true;
    };
  }, []);

  return (
    <div class="app">
      {!online && (
        <div class="banner banner-warn" role="status">
          {t('offline')}
        </div>
      )}
      {update && (
        <div class="banner" role="status">
          {t('updateAvailable')}{' '}
          <button type="button" class="link" onClick={update}>
            {t('reload')}
          </button>
        </div>
      )}
      {boot.state === 'config' && (
        <Centered>
          <p>{boot.attempt ? t('serverUnreachable', { attempt: boot.attempt, error: boot.error ?? '' }) : t('loading')}</p>
        </Centered>
      )}
      {boot.state === 'auth' && (
        <Centered>
          <p>{t('signingIn')}</p>
        </Centered>
      )}
      {boot.state === 'signin' && (
        <Centered>
          {boot.error && <p role="alert">{t('signInFailed', { error: boot.error })}</p>}
          <button type="button" class="primary" onClick={() => void auth?.signIn()}>
            {t('signIn')}
          </button>
        </Centered>
      )}
      {boot.state === 'noaccess' && (
        <Centered>
          <p role="alert">{t('noAccess', { scopes: boot.scopes.join(', ') })}</p>
          <button type="button" onClick={() => void auth?.signOut()}>
            {t('signOut')}
          </button>
        </Centered>
      )}
      {boot.state === 'guest' && config && auth && <GuestJoin config={config} auth={auth} route={route} params={params} />}
      {boot.state === 'ready' && config && auth && (
        <MainScreen config={config} auth={auth} user={boot.user} route={route} params={params} />
      )}
    </div>
  );
}

function checkScopes(user: SignedInUser): Boot {
  const missing = missingScopes(user.scopes);
  return missing.length ? { state: 'noaccess', scopes: missing } : { state: 'ready', user };
}

function Centered({ children }: { children: preact.ComponentChildren }) {
  return <main class="centered">{children}</main>;
}
