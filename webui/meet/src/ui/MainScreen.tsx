// Signed in: the top bar and the routed views. A shell: each view is its feature's component.
//   main    → home/Home (own preview, new call, recents, contacts)
//   contact → home/ContactView (/meet/r/call/<id>)
//   room    → rooms feature (group landing page)        — see the marked place below
//   join    → rooms feature (join wizard)                — see the marked place below
import { useEffect, useMemo, useState } from 'preact/hooks';
import { appLinks, safeUrl, type MeetConfig } from '../config';
import { t } from '../i18n';
import type { Auth, SignedInUser } from '../auth/oidc';
import type { FragmentParams } from '../fragment';
import type { Route } from '../router';
import { Home } from './home/Home';
import { ContactView } from './home/ContactView';
import { SettingsDialog } from './home/Settings';
import { InstallOffer, TopBar } from './home/TopBar';
import { HomeContext, HomeStore } from './home/store';
import './home/home.css';
import { EngineContext } from '../call/engine';
import { createCallEngine } from '../call/callEngine';
import { CallLayer, useEngineState } from './call/CallLayer';
import { JoinGroupButton, JoinWizard, RoomPage, setRoomRecentsHook } from './rooms';

export interface MainScreenProps {
  config: MeetConfig;
  auth: Auth;
  user: SignedInUser;
  route: Route;
  params: FragmentParams;
}

export function MainScreen({ config, auth, user, route, params }: MainScreenProps) {
  const [settingsOpen, setSettingsOpen] = useState(false);
  // The call engine (signaling + WebRTC), one per signed-in user; CallLayer shows calls over all.
  const engine = useMemo(() => createCallEngine({ config, params, credentials: () => auth.current() ?? user }), [user.sub]);
  useEffect(() => () => engine.close(), [engine]);
  // A renewed token lets signaling that was refused with an expired one (403) try again.
  useEffect(() => engine.credentialsChanged(), [engine, user.accessToken]);
  // While a call rings or runs, the call layer covers the screen: the page behind is inert (no
  // tabbing into it), and the settings dialog closes — a modal dialog would sit above the call
  // layer and make its Accept button unreachable.
  const callState = useEngineState(engine);
  const inCall = !!callState && callState.status.kind !== 'idle';
  useEffect(() => {
    if (inCall) setSettingsOpen(false);
  }, [inCall]);
  // One store per signed-in subject; it reads the current token on every request.
  const store = useMemo(
    () =>
      new HomeStore(
        config,
        () => {
          const u = auth.current() ?? user;
          return { tokenType: u.tokenType, accessToken: u.accessToken };
        },
        user.scopes,
        { username: user.username, mail: user.email },
      ),
    [config, auth, user.sub],
  );
  useEffect(() => store.start(), [store]);
  // Opened groups go into the recents (kvs, as the original keeps them); guests have none.
  useEffect(() => {
    setRoomRecentsHook((scope, id, name) => store.addRecent('group', id, { id, displayName: name, scope }));
    return () => setRoomRecentsHook(null);
  }, [store]);
  const openSettings = () => setSettingsOpen(true);
  // The window's title follows the admin's branding.
  useEffect(() => {
    document.title = config.branding?.title || t('appName');
  }, [config.branding?.title]);

  return (
    <EngineContext.Provider value={engine}>
    <HomeContext.Provider value={store}>
      <div class="main-screen" inert={inCall}>
        <TopBar
          name={user.name}
          onSettings={openSettings}
          onSignOut={() => void auth.signOut()}
          title={config.branding?.title ?? ''}
          logo={safeUrl(config.branding?.logo) ? config.branding.logo : ''}
          links={user.guest ? [] : appLinks(config)}
        />
        <InstallOffer />
        {route.view === 'main' && <Home onSettings={openSettings} newCallExtra={!user.guest && <JoinGroupButton config={config} />} />}
        {route.view === 'contact' && <ContactView id={route.id} />}
        {route.view === 'room' && <RoomPage key={route.scope + '/' + route.id} config={config} user={user} scope={route.scope} id={route.id} params={params} />}
        {route.view === 'join' && <JoinWizard key={route.scope + '/' + route.id} config={config} auth={auth} user={user} scope={route.scope} id={route.id} params={params} />}
        {settingsOpen && <SettingsDialog onClose={() => setSettingsOpen(false)} />}
      </div>
      <CallLayer />
    </HomeContext.Provider>
    </EngineContext.Provider>
  );
}
