// "Invite to this group" by e-mail (manual §5.6): addresses are checked as they are typed; an
// invalid one turns the envelope red and blocks "Invite". Invite hands a mailto: link with the
// group link to the user's mail program. An empty field is allowed (the mail program asks).
import { useLayoutEffect, useRef, useState } from 'preact/hooks';
import { t } from '../../i18n';
import { Icon } from './icons';
import { buildMailto, checkRecipients } from './model';

export interface InvitePanelProps {
  group: string;
  link: string;
  sender: string;
  onSent: () => void;
  /** Opens the mailto: URL (replaceable for tests). */
  open?: (url: string) => void;
}

export function InvitePanel({ group, link, sender, onSent, open = (u) => location.assign(u) }: InvitePanelProps) {
  const [raw, setRaw] = useState('');
  const input = useRef<HTMLInputElement>(null);
  useLayoutEffect(() => input.current?.focus(), []);
  const { recipients, invalid } = checkRecipients(raw);
  const bad = invalid.length > 0;
  const mailto = buildMailto(recipients, t('roomsInviteSubject', { group }), t('roomsInviteBody', { group, link, sender }));

  return (
    <form
      class="rooms-invite"
      data-testid="invite-panel"
      noValidate
      onSubmit={(e) => {
        e.preventDefault();
        if (bad) return;
        open(mailto);
        onSent();
      }}
    >
      <h2>{t('roomsInviteTitle')}</h2>
      <label for="rooms-invite-to">{t('roomsInviteRecipients')}</label>
      <div class="rooms-row">
        <span
          class={`rooms-envelope${bad ? ' invalid' : recipients.length ? ' valid' : ''}`}
          data-testid="invite-envelope"
          data-state={bad ? 'invalid' : recipients.length ? 'valid' : 'empty'}
          role="img"
          aria-label={bad ? t('roomsInviteInvalid', { list: invalid.join(', ') }) : t('roomsInviteValid')}
        >
          <Icon name="mail" size={26} />
        </span>
        <input
          id="rooms-invite-to"
          ref={input}
          type="email"
          multiple
          autoComplete="email"
          data-testid="invite-to"
          value={raw}
          aria-invalid={bad}
          aria-describedby="rooms-invite-hint rooms-invite-problem"
          onInput={(e) => setRaw((e.target as HTMLInputElement).value)}
        />
      </div>
      <p id="rooms-invite-hint" class="rooms-hint">
        {t('roomsInviteRecipientsHint')}
      </p>
      <p id="rooms-invite-problem" class="rooms-error" role="alert">
        {bad ? t('roomsInviteInvalid', { list: invalid.join(', ') }) : ''}
      </p>
      <div class="rooms-actions">
        <button type="submit" class="primary" disabled={bad} data-testid="invite-send" data-mailto={mailto}>
          {t('roomsInviteSend')}
        </button>
      </div>
    </form>
  );
}
