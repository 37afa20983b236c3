// The top bar: app name, "Install as app" (where the browser offers it), the user, settings, sign out.
import { useEffect, useState } from 'preact/hooks';
import { t } from '../../i18n';
import { dismissInstall, installDismissed, onInstallAvailable, promptInstall } from '../../util/pwa';
import { navigate } from '../../router';

export function TopBar({ name, onSettings, onSignOut }: { name: string; onSettings: () => void; onSignOut: () => void }) {
  return (
    <header class="topbar">
      <h1>
        <a
          href="/meet/r/call"
          onClick={(e) => {
            e.preventDefault();
            navigate({ view: 'main' });
          }}
        >
          {t('appName')}
        </a>
      </h1>
      <span class="user" data-testid="user-name" title={t('signedInAs', { name })}>
        {name}
      </span>
      <button type="button" onClick={onSettings} data-testid="open-settings" aria-label={t('settings')} title={t('settings')}>
        <span aria-hidden="true">⚙</span> <span class="label">{t('settings')}</span>
      </button>
      <button type="button" onClick={onSignOut}>
        {t('signOut')}
      </button>
    </header>
  );
}

/** The first-use offer to install the app (blog: "Meet offers to be installed as an app"). */
export function InstallOffer() {
  const [available, setAvailable] = useState(false);
  const [dismissed, setDismissed] = useState(installDismissed());
  useEffect(() => onInstallAvailable((a) => (setAvailable(a), setDismissed(installDismissed()))), []);
  if (!available || dismissed) return null;
  return (
    <div class="banner banner-install" role="region" aria-label={t('installApp')} data-testid="install-offer">
      <span>{t('installExplain')}</span>{' '}
      <button type="button" class="primary" onClick={() => void promptInstall()}>
        {t('installApp')}
      </button>{' '}
      <button type="button" class="link" onClick={dismissInstall}>
        {t('notNow')}
      </button>
    </div>
  );
}
