// The top bar: app name (or the admin's title and logo), the admin's apps menu, "Install as app" (where the browser offers it), the user, settings, sign out.
import { useEffect, useRef, useState } from 'preact/hooks';
import { t } from '../../i18n';
import { dismissInstall, installDismissed, onInstallAvailable, promptInstall } from '../../util/pwa';
import { navigate } from '../../router';
import type { AppLink } from '../../config';

export interface TopBarProps {
  name: string;
  onSettings: () => void;
  onSignOut: () => void;
  /** The admin's title ("" = the app's name) and logo address ("" = none). */
  title?: string;
  logo?: string;
  /** The admin's apps menu (already checked); none: no menu. */
  links?: AppLink[];
}

export function TopBar({ name, onSettings, onSignOut, title = '', logo = '', links = [] }: TopBarProps) {
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
          {logo && <img class="logo" src={logo} alt="" data-testid="brand-logo" />}
          <span data-testid="app-title">{title || t('appName')}</span>
        </a>
      </h1>
      {links.length > 0 && <AppsMenu links={links} />}
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

/** The admin's links to the organisation's other apps: a disclosure list (no script needed to
 * open it; Escape and a click elsewhere close it). Links open in a new tab, never replacing a call. */
function AppsMenu({ links }: { links: AppLink[] }) {
  const ref = useRef<HTMLDetailsElement>(null);
  useEffect(() => {
    const close = (e: Event) => {
      const el = ref.current;
      if (!el?.open) return;
      if (e instanceof KeyboardEvent ? e.key === 'Escape' : !el.contains(e.target as Node)) {
        el.open = false;
        if (e instanceof KeyboardEvent) el.querySelector('summary')?.focus();
      }
    };
    document.addEventListener('keydown', close);
    document.addEventListener('click', close);
    return () => {
      document.removeEventListener('keydown', close);
      document.removeEventListener('click', close);
    };
  }, []);
  return (
    <details class="apps-menu" ref={ref} data-testid="apps-menu">
      <summary title={t('appsMenu')}>{t('apps')}</summary>
      <ul aria-label={t('appsMenu')}>
        {links.map((l) => (
          <li key={l.url + l.title}>
            <a href={l.url} target="_blank" rel="noopener noreferrer" aria-label={t('opensInNewTab', { title: l.title })}>
              {l.title}
            </a>
          </li>
        ))}
      </ul>
    </details>
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
