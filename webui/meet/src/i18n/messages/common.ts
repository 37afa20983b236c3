// Messages of the app shell. Each feature keeps its messages in its own file here, English and
// German side by side; `satisfies Bilingual` makes a missing German text a type error.
import type { Bilingual } from '../types';

const en = {
  appName: 'Palaver Meet',
  loading: 'Loading…',
  offline: 'You are offline. Palaver Meet will continue when the connection is back.',
  serverUnreachable: 'Cannot reach the server (attempt {attempt}): {error}. Retrying…',
  updateAvailable: 'An update is available.',
  reload: 'Reload',
  signIn: 'Sign in',
  signOut: 'Sign out',
  signingIn: 'Signing in…',
  signInFailed: 'Sign-in failed: {error}',
  noAccess: 'No access: your account lacks the permissions Meet needs ({scopes}).',
  retry: 'Try again',
  settings: 'Settings',
  language: 'Language',
  close: 'Close',
  done: 'Done',
  cancel: 'Cancel',
};

export const common = {
  en,
  de: {
    appName: 'Palaver Meet',
    loading: 'Wird geladen …',
    offline: 'Sie sind offline. Palaver Meet macht weiter, sobald die Verbindung wieder besteht.',
    serverUnreachable: 'Der Server ist nicht erreichbar (Versuch {attempt}): {error}. Neuer Versuch …',
    updateAvailable: 'Eine neue Version ist verfügbar.',
    reload: 'Neu laden',
    signIn: 'Anmelden',
    signOut: 'Abmelden',
    signingIn: 'Anmeldung läuft …',
    signInFailed: 'Anmeldung fehlgeschlagen: {error}',
    noAccess: 'Kein Zugriff: Ihrem Konto fehlen Berechtigungen, die Meet braucht ({scopes}).',
    retry: 'Erneut versuchen',
    settings: 'Einstellungen',
    language: 'Sprache',
    close: 'Schließen',
    done: 'Fertig',
    cancel: 'Abbrechen',
  },
} satisfies Bilingual<typeof en>;
