// The main view (route `main`): on the left "New call", recent calls and contacts; on the right
// the own camera preview (manual §5.2). On a phone the preview sits on top, smaller.
import type { ComponentChildren } from 'preact';
import { useContext, useEffect, useState } from 'preact/hooks';
import { EngineContext } from '../../call/engine';
import { t } from '../../i18n';
import { mediaSettings, onMediaSettings } from '../../media/settings';
import { Contacts } from './Contacts';
import { Preview } from './Preview';
import { PhoneIcon, RecentsList } from './RecentsList';
import { useHome } from './store';

type Tab = 'recents' | 'contacts';

export function useMediaSettings() {
  const [s, set] = useState(mediaSettings());
  useEffect(() => onMediaSettings(set), []);
  return s;
}

/** Whether a call or room is going on (the main screen's own preview then lets go of the camera). */
function useCallActive(): boolean {
  const engine = useContext(EngineContext);
  const busy = () => (engine ? engine.getState().status.kind !== 'idle' : false);
  const [active, setActive] = useState(busy);
  useEffect(() => {
    setActive(busy());
    return engine?.subscribe((s) => setActive(s.status.kind !== 'idle'));
  }, [engine]);
  return active;
}

export function Home({ onSettings, newCallExtra }: { onSettings: () => void; newCallExtra?: ComponentChildren }) {
  const settings = useMediaSettings();
  const [tab, setTab] = useState<Tab>('recents');
  const [newCall, setNewCall] = useState(false);
  const [, state] = useHome();
  const inCall = useCallActive();
  // Usable: both lists have answered (bench/webapp.js measures up to this mark).
  const ready = state.recents !== 'loading' && state.contacts !== 'loading';
  useEffect(() => {
    if (ready && !performance.getEntriesByName('palaver:home-ready').length) performance.mark('palaver:home-ready');
  }, [ready]);

  const select = (next: Tab) => {
    setTab(next);
    if (next === 'recents') setNewCall(false);
  };
  const onKey = (e: KeyboardEvent) => {
    if (e.key !== 'ArrowLeft' && e.key !== 'ArrowRight') return;
    e.preventDefault();
    const next = tab === 'recents' ? 'contacts' : 'recents';
    select(next);
    document.getElementById(`tab-${next}`)?.focus();
  };

  return (
    <main class="home" data-testid="home" data-ready={ready ? 'true' : undefined}>
      <section class="home-side" aria-label={t('homeSections')}>
        <button
          type="button"
          class="primary new-call"
          data-testid="new-call"
          onClick={() => {
            setNewCall(true);
            setTab('contacts');
          }}
        >
          <PhoneIcon /> {t('newCall')}
        </button>
        {newCall && newCallExtra}
        <div role="tablist" class="tabs" onKeyDown={onKey}>
          {(['recents', 'contacts'] as const).map((id) => (
            <button
              key={id}
              id={`tab-${id}`}
              type="button"
              role="tab"
              aria-selected={tab === id}
              aria-controls={`panel-${id}`}
              tabIndex={tab === id ? 0 : -1}
              onClick={() => select(id)}
            >
              {t(id)}
            </button>
          ))}
        </div>
        <div id={`panel-${tab}`} role="tabpanel" aria-labelledby={`tab-${tab}`} class="tab-panel">
          {tab === 'recents' ? <RecentsList /> : <Contacts autoFocus={newCall} />}
        </div>
      </section>
      <section class="home-preview" aria-label={t('yourCamera')}>
        {!inCall && <Preview settings={settings} onSettings={onSettings} />}
      </section>
    </main>
  );
}
