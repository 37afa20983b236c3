// Signed in: the main screen (own preview, new call, recents, contacts) and the routed views.
import type { MeetConfig } from '../config';
import type { Auth, SignedInUser } from '../auth/oidc';
import type { FragmentParams } from '../fragment';
import type { Route } from '../router';
import { t } from '../i18n';
import { useEffect, useMemo } from 'preact/hooks';
import { EngineContext } from '../call/engine';
import { createCallEngine } from '../call/callEngine';
import { CallLayer } from './call/CallLayer';
import { JoinGroupButton, JoinWizard, RoomPage } from './rooms';

export interface MainScreenProps {
  config: MeetConfig;
  auth: Auth;
  user: SignedInUser;
  route: Route;
  params: FragmentParams;
}

export function MainScreen({ config, auth, user, route, params }: MainScreenProps) {
  // The call engine (signaling + WebRTC), one per signed-in user; CallLayer shows calls over all.
  const engine = useMemo(() => createCallEngine({ config, params, credentials: () => auth.current() ?? user }), [user.sub]);
  useEffect(() => () => engine.close(), [engine]);
  return (
    <EngineContext.Provider value={engine}>
    <div class="main-screen">
      <header class="topbar">
        <h1>{t('appName')}</h1>
        <span class="user" data-testid="user-name">
          {user.name}
        </span>
        <button type="button" onClick={() => void auth.signOut()}>
          {t('signOut')}
        </button>
      </header>
      {route.view === 'main' && !user.guest && <JoinGroupButton config={config} />}
      {route.view === 'room' && <RoomPage key={route.scope + '/' + route.id} config={config} user={user} scope={route.scope} id={route.id} params={params} />}
      {route.view === 'join' && <JoinWizard key={route.scope + '/' + route.id} config={config} auth={auth} user={user} scope={route.scope} id={route.id} params={params} />}
    </div>
    <CallLayer />
    </EngineContext.Provider>
  );
}
