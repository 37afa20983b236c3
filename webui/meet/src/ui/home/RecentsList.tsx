// Recent calls and groups (kvs, shared with the original app): open or call again, remove.
import { useContext } from 'preact/hooks';
import { displayName } from '../../api/gc';
import type { Recent } from '../../api/kvs';
import { EngineContext } from '../../call/engine';
import { language, t } from '../../i18n';
import { navigate } from '../../router';
import { Avatar } from './Avatar';
import { useHome } from './store';

function when(date: string): string {
  const d = new Date(date);
  if (Number.isNaN(d.getTime())) return '';
  return d.toLocaleString(language(), { dateStyle: 'medium', timeStyle: 'short' });
}

export function RecentsList() {
  const [store, state] = useHome();
  const engine = useContext(EngineContext);
  if (state.recents === 'off') return <p class="note">{t('recentsUnavailable')}</p>;
  if (typeof state.recents === 'object') return <p class="note" role="alert">{t('recentsError', { error: state.recents.error })}</p>;
  if (state.recents === 'loading') return <p class="note">{t('loading')}</p>;
  if (!state.recentList.length) return <p class="note">{t('recentsEmpty')}</p>;

  const open = (r: Recent) => {
    if (r.kind === 'group') {
      const scope = r.value.scope === 'conference' ? 'conference' : 'group';
      navigate({ view: 'room', scope, id: r.id });
    } else navigate({ view: 'contact', id: r.id });
  };

  return (
    <ul class="list" data-testid="recents-list">
      {state.recentList.map((r) => {
        const group = r.kind === 'group';
        const name = displayName({ ...r.value, id: r.id });
        const sub = group ? (r.value.scope === 'conference' ? t('conference') : t('group')) : String(r.value.jobTitle || r.value.mail || '');
        return (
          <li key={`${r.kind}/${r.id}`} class="recent" data-kind={r.kind} data-id={r.id}>
            <button type="button" class="list-item" onClick={() => open(r)} aria-label={group ? t('openGroup', { name }) : undefined}>
              <Avatar store={store} photoId={typeof r.value.id === 'string' ? r.value.id : r.id} name={name} group={group} />
              <span class="list-text">
                <span class="list-title">{name}</span>
                <span class="list-sub">
                  {sub}
                  {sub && ' · '}
                  <time dateTime={r.value.date}>{when(r.value.date)}</time>
                </span>
              </span>
            </button>
            {!group && (
              <button
                type="button"
                class="icon-button call-button"
                aria-label={t('callName', { name })}
                title={engine ? t('callName', { name }) : t('callUnavailable')}
                disabled={!engine}
                onClick={() => {
                  store.addRecent('contact', r.id, r.value);
                  engine?.call({ id: r.id, name });
                }}
              >
                <PhoneIcon />
              </button>
            )}
            <button type="button" class="icon-button" aria-label={t('removeRecent', { name })} title={t('removeRecent', { name })} onClick={() => store.removeRecent(r.kind, r.id)}>
              <span aria-hidden="true">✕</span>
            </button>
          </li>
        );
      })}
    </ul>
  );
}

export function PhoneIcon() {
  return (
    <svg viewBox="0 0 24 24" width="20" height="20" aria-hidden="true" focusable="false">
      <path
        fill="currentColor"
        d="M6.6 10.8a15.1 15.1 0 0 0 6.6 6.6l2.2-2.2a1 1 0 0 1 1-.25 11.4 11.4 0 0 0 3.6.57 1 1 0 0 1 1 1V20a1 1 0 0 1-1 1A17 17 0 0 1 3 4a1 1 0 0 1 1-1h3.5a1 1 0 0 1 1 1c0 1.25.2 2.45.57 3.57a1 1 0 0 1-.25 1z"
      />
    </svg>
  );
}
