// A contact's detail view (route `contact`, /meet/r/call/<id>) with the call buttons. Viewing a
// contact adds it to recents, as the original does.
import { useContext, useEffect, useState } from 'preact/hooks';
import { displayName, mailtoHref, type GcUser } from '../../api/gc';
import { EngineContext } from '../../call/engine';
import { t, type MessageKey } from '../../i18n';
import { navigate } from '../../router';
import { Avatar } from './Avatar';
import { PhoneIcon } from './RecentsList';
import { useHome } from './store';

export function ContactView({ id }: { id: string }) {
  const [store] = useHome();
  const engine = useContext(EngineContext);
  const [contact, setContact] = useState<GcUser | null | 'loading'>('loading');

  useEffect(() => {
    let live = true;
    setContact('loading');
    void store.findContact(id).then((u) => {
      if (!live) return;
      setContact(u);
      // The original records the contact as it is known, or at least the id.
      store.addRecent('contact', id, u ? { ...u } : { id });
    });
    return () => {
      live = false;
    };
  }, [id, store]);

  const heading = contact && contact !== 'loading' ? displayName(contact) : id;
  useEffect(() => {
    document.getElementById('contact-heading')?.focus();
  }, [contact === 'loading']);

  const fields: [MessageKey, unknown][] =
    contact && contact !== 'loading'
      ? [
          ['jobTitle', contact.jobTitle],
          ['email', contact.mail],
          ['username', contact.userPrincipalName],
          ['phone', Array.isArray(contact.businessPhones) ? contact.businessPhones.join(', ') : contact.businessPhones],
          ['mobile', contact.mobilePhone],
          ['office', contact.officeLocation],
        ]
      : [];

  return (
    <main class="contact-view" data-testid="contact-view">
      <button type="button" class="link back" onClick={() => navigate({ view: 'main' })}>
        ← {t('back')}
      </button>
      <div class="contact-card">
        <Avatar store={store} photoId={contact && contact !== 'loading' ? contact.id : id} name={heading} large />
        <h2 id="contact-heading" tabIndex={-1} data-testid="contact-name">
          {contact === 'loading' ? t('loading') : heading}
        </h2>
        {contact === null && <p class="note">{t('contactNotFound')}</p>}
        {fields.some(([, v]) => v) && (
          <dl class="fields" aria-label={t('contactDetails')}>
            {fields
              .filter(([, v]) => typeof v === 'string' && v)
              .map(([k, v]) => (
                <div key={k}>
                  <dt>{t(k)}</dt>
                  <dd>{k === 'email' && mailtoHref(v) ? <a href={mailtoHref(v)!}>{v as string}</a> : (v as string)}</dd>
                </div>
              ))}
          </dl>
        )}
        <div class="row">
          <button
            type="button"
            class="primary call"
            data-testid="call"
            disabled={!engine || contact === 'loading'}
            onClick={() => engine?.call({ id, name: heading }, { video: true })}
          >
            <PhoneIcon /> {t('call')}
          </button>
          <button type="button" disabled={!engine || contact === 'loading'} onClick={() => engine?.call({ id, name: heading }, { video: false })}>
            {t('audioCall')}
          </button>
        </div>
        {!engine && <p class="note">{t('callUnavailable')}</p>}
      </div>
    </main>
  );
}
