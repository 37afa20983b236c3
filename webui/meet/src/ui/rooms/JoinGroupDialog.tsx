// "Join or create group" (manual §5.6): a name, and — where guests are allowed — the "allow public
// guest access" switch that puts the group under the public prefix. Join opens the landing page.
import { useLayoutEffect, useRef, useState } from 'preact/hooks';
import type { MeetConfig } from '../../config';
import { t, type MessageKey } from '../../i18n';
import { navigate } from '../../router';
import { groupId, groupNameProblem } from './model';
import './rooms.css';

const problemKey: Record<string, MessageKey> = {
  tooLong: 'roomsGroupNameTooLong',
  invalid: 'roomsGroupNameInvalid',
  empty: 'roomsGroupNameEmpty',
};

export function JoinGroupDialog({ config, onClose }: { config: MeetConfig; onClose: () => void }) {
  const [name, setName] = useState('');
  const [touched, setTouched] = useState(false);
  const [makePublic, setMakePublic] = useState(false);
  const input = useRef<HTMLInputElement>(null);
  const dialog = useRef<HTMLDivElement>(null);
  const opener = useRef<Element | null>(typeof document !== 'undefined' ? document.activeElement : null);
  const guests = config.guests.enabled;
  const problem = groupNameProblem(name);
  const id = problem ? '' : groupId(name, guests && makePublic, config.guests.defaultPublicGroupPrefix);

  // A layout effect: the focus is in the field before the dialog is painted, so nothing typed at once is lost.
  useLayoutEffect(() => {
    input.current?.focus();
    const back = opener.current;
    return () => {
      if (back instanceof HTMLElement) back.focus();
    };
  }, []);

  const submit = (e?: Event) => {
    e?.preventDefault();
    setTouched(true);
    if (problem) return;
    onClose();
    navigate({ view: 'room', scope: 'group', id });
  };

  // Escape closes; Tab stays inside the dialog.
  const onKeyDown = (e: KeyboardEvent) => {
    if (e.key === 'Escape') {
      e.preventDefault();
      onClose();
    } else if (e.key === 'Tab' && dialog.current) {
      const f = dialog.current.querySelectorAll<HTMLElement>('input, button:not([disabled])');
      if (!f.length) return;
      const first = f[0];
      const last = f[f.length - 1];
      if (e.shiftKey && document.activeElement === first) {
        e.preventDefault();
        last.focus();
      } else if (!e.shiftKey && document.activeElement === last) {
        e.preventDefault();
        first.focus();
      }
    }
  };

  return (
    <div class="rooms-backdrop" onClick={(e) => e.target === e.currentTarget && onClose()}>
      <div
        class="rooms-dialog"
        role="dialog"
        aria-modal="true"
        aria-labelledby="rooms-join-title"
        data-testid="join-group-dialog"
        ref={dialog}
        onKeyDown={onKeyDown}
      >
        <form onSubmit={submit} noValidate>
          <h2 id="rooms-join-title">{t('roomsJoinOrCreate')}</h2>
          <label for="rooms-group-name">{t('roomsGroupName')}</label>
          <input
            id="rooms-group-name"
            ref={input}
            type="text"
            name="group"
            autoComplete="off"
            maxLength={240}
            value={name}
            aria-describedby="rooms-group-hint rooms-group-problem"
            aria-invalid={touched && !!problem}
            onInput={(e) => setName((e.target as HTMLInputElement).value)}
            onBlur={() => name && setTouched(true)}
          />
          <p id="rooms-group-hint" class="rooms-hint">
            {t('roomsGroupNameHint')}
          </p>
          <p id="rooms-group-problem" class="rooms-error" role="alert">
            {touched && problem ? t(problemKey[problem]) : ''}
          </p>
          {guests && (
            <label class="rooms-switch">
              <span class="rooms-switch-control">
              <input
                type="checkbox"
                role="switch"
                data-testid="public-switch"
                checked={makePublic}
                aria-checked={makePublic}
                aria-describedby="rooms-public-hint"
                onChange={(e) => setMakePublic((e.target as HTMLInputElement).checked)}
              />
              <span class="rooms-switch-track" aria-hidden="true" />
              </span>
              <span>{t('roomsPublicSwitch')}</span>
            </label>
          )}
          {guests && (
            <p id="rooms-public-hint" class="rooms-hint">
              {t('roomsPublicHint')}
            </p>
          )}
          <p class="rooms-will-open" data-testid="group-id-preview" aria-live="polite">
            {id ? t('roomsWillOpen', { id }) : '\u00a0'}
          </p>
          <div class="rooms-actions">
            <button type="button" onClick={onClose}>
              {t('cancel')}
            </button>
            <button type="submit" class="primary" disabled={!!problem} data-testid="join-group">
              {t('roomsJoin')}
            </button>
          </div>
        </form>
      </div>
    </div>
  );
}
