// Contacts: search and browse the address book (whole list when the directory is small, server
// search otherwise). Choosing a contact opens its detail view (route `contact`).
import { useEffect, useRef, useState } from 'preact/hooks';
import { displayName, type GcUser } from '../../api/gc';
import { t } from '../../i18n';
import { navigate } from '../../router';
import { Avatar } from './Avatar';
import { useHome } from './store';

export function Contacts({ autoFocus }: { autoFocus?: boolean }) {
  const [store, state] = useHome();
  const [term, setTerm] = useState('');
  const [list, setList] = useState<GcUser[] | null>(null);
  const [error, setError] = useState<string | null>(null);
  const input = useRef<HTMLInputElement>(null);

  useEffect(() => {
    if (autoFocus) input.current?.focus();
  }, [autoFocus]);

  useEffect(() => {
    if (state.contacts !== 'ready' || !store.directory) return;
    let live = true;
    const dir = store.directory;
    // Local filtering is instant; server searches wait for a pause in typing.
    const timer = setTimeout(
      () =>
        void dir
          .search(term)
          .then((r) => live && (setList(r), setError(null)))
          .catch((e: unknown) => live && setError(e instanceof Error ? e.message : String(e))),
      state.fullDirectory ? 0 : 250,
    );
    return () => {
      live = false;
      clearTimeout(timer);
    };
  }, [term, state.contacts, state.fullDirectory, store]);

  if (state.contacts === 'off') return <p class="note">{t('contactsUnavailable')}</p>;
  if (typeof state.contacts === 'object') return <p class="note" role="alert">{t('contactsError', { error: state.contacts.error })}</p>;

  const trimmed = term.trim();
  return (
    <div class="contacts">
      <label class="search">
        <span class="visually-hidden">{t('searchContacts')}</span>
        <input
          ref={input}
          type="search"
          placeholder={t('searchContacts')}
          value={term}
          onInput={(e) => setTerm((e.target as HTMLInputElement).value)}
          data-testid="contact-search"
          autocomplete="off"
        />
      </label>
      {state.contacts === 'loading' && <p class="note">{t('loading')}</p>}
      {error && <p class="note" role="alert">{t('contactsError', { error })}</p>}
      {!state.fullDirectory && !trimmed && state.contacts === 'ready' && <p class="note">{t('searchHint')}</p>}
      {list && (trimmed || state.fullDirectory) && (
        <>
          <p class="visually-hidden" role="status">
            {list.length === 1 ? t('contactsCountOne') : t('contactsCount', { n: list.length })}
          </p>
          {list.length === 0 && <p class="note">{trimmed ? t('noMatches', { term: trimmed }) : t('noContacts')}</p>}
          <ul class="list" data-testid="contact-list">
            {list.map((u) => {
              const name = displayName(u);
              return (
                <li key={u.id}>
                  <button type="button" class="list-item" onClick={() => navigate({ view: 'contact', id: store.contactKey(u) })}>
                    <Avatar store={store} photoId={u.id} name={name} />
                    <span class="list-text">
                      <span class="list-title">{name}</span>
                      <span class="list-sub">{u.jobTitle || u.mail || u.userPrincipalName}</span>
                    </span>
                  </button>
                </li>
              );
            })}
          </ul>
        </>
      )}
    </div>
  );
}
