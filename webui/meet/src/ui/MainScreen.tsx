// Signed in: the main screen (own preview, new call, recents, contacts) and the routed views.
import type { MeetConfig } from '../config';
import type { Auth, SignedInUser } from '../auth/oidc';
import type { FragmentParams } from '../fragment';
import type { Route } from '../router';
import { t } from '../i18n';

export interface MainScreenProps {
  config: MeetConfig;
  auth: Auth;
  user: SignedInUser;
  route: Route;
  params: FragmentParams;
}

export function MainScreen({ auth, user }: MainScreenProps) {
  return (
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
    </div>
  );
}
