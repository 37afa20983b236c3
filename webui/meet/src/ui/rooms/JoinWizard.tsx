// The join wizard (route /meet/r/join/<scope>/<id>, the form shared links use): welcome → guest
// name (guests only) → camera check → join. Members are signed in already; guests sign in through
// the guest flow at the last step, and both land on the group's page, which joins the call.
import { useEffect, useLayoutEffect, useRef, useState } from 'preact/hooks';
import type { MeetConfig } from '../../config';
import type { Auth, SignedInUser } from '../../auth/oidc';
import { rememberGuestFragment, type FragmentParams } from '../../fragment';
import { GuestError, guestPolicyRefusal, guestSignIn, type GuestRefusal } from '../../auth/guest-flow';
import { runHiddenFrame } from '../../auth/guest-frame';
import { cleanGuestName, guestNameProblem, randomGuestName } from '../../auth/guest-names';
import { adoptGuestSession } from '../../auth/guest-session';
import { language, t, type MessageKey } from '../../i18n';
import { navigate } from '../../router';
import { CameraCheck } from './CameraCheck';
import { groupTitle, type RoomScope } from './model';
import { guestFragment, isInitialRoom, requestJoin } from './session';
import './rooms.css';

type Step = 'welcome' | 'name' | 'settings' | 'joining';

export interface JoinWizardProps {
  config: MeetConfig;
  auth: Auth;
  /** null: nobody signed in, the visitor joins as a guest. */
  user: SignedInUser | null;
  scope: RoomScope;
  id: string;
  params: FragmentParams;
}

const nameProblemKey: Record<string, MessageKey> = {
  empty: 'roomsGuestNameEmpty',
  tooLong: 'roomsGuestNameTooLong',
  invalid: 'roomsGuestNameInvalid',
};

export function refusalMessage(kind: GuestRefusal, error = ''): string {
  return t(`guestRefused_${kind}` as MessageKey, { error });
}

export function JoinWizard({ config, auth, user, scope, id, params }: JoinWizardProps) {
  const guest = !user;
  const initial = isInitialRoom(scope, id);
  const steps: Step[] = guest ? ['welcome', 'name', 'settings'] : ['welcome', 'settings'];
  const [step, setStep] = useState<Step>('welcome');
  const [name, setName] = useState(() => (initial && params.name ? cleanGuestName(params.name) : randomGuestName(language())));
  const [nameTouched, setNameTouched] = useState(false);
  const [muteMic, setMuteMic] = useState(initial && params.muteMic);
  const [muteCam, setMuteCam] = useState(initial && params.muteCam);
  const [refusal, setRefusal] = useState<{ kind: GuestRefusal; error: string } | null>(() => {
    const r = guest ? guestPolicyRefusal(config, scope, id) : null;
    return r ? { kind: r, error: '' } : null;
  });
  const heading = useRef<HTMLHeadingElement>(null);
  const title = groupTitle(id, config.guests.defaultPublicGroupPrefix);
  const nameProblem = guestNameProblem(name);

  // Each step moves the focus to its heading, so screen readers announce it.
  useLayoutEffect(() => heading.current?.focus(), [step]);

  const join = async (video: boolean) => {
    const req = { scope, id, video, muteMic, muteCam };
    if (!guest) {
      requestJoin(req);
      navigate({ view: 'room', scope, id }, true);
      return;
    }
    setStep('joining');
    setRefusal(null);
    try {
      const session = await guestSignIn(config, { scope, id }, cleanGuestName(name), language(), { runFrame: runHiddenFrame });
      requestJoin(req);
      navigate({ view: 'room', scope, id }, true);
      rememberGuestFragment(location.pathname, guestFragment(cleanGuestName(name), initial));
      adoptGuestSession(config, session, auth);
    } catch (e) {
      const kind = e instanceof GuestError ? e.kind : 'signInFailed';
      setRefusal({ kind, error: e instanceof Error ? e.message : String(e) });
      setStep('welcome');
    }
  };

  // `auto` on the opening link: a guest with a usable name joins at once (manual §4.1 example).
  useEffect(() => {
    if (initial && params.auto && guest && !refusal && !guestNameProblem(name)) void join(params.auto === 2);
  }, []);

  const n = steps.indexOf(step) + 1;
  const stepLabel = step !== 'joining' && <p class="rooms-step">{t('roomsStep', { n, total: steps.length })}</p>;

  return (
    <main class="rooms-page rooms-wizard" data-testid="join-wizard" data-step={step}>
      <div class="rooms-card">
        {stepLabel}
        {step === 'welcome' && (
          <>
            <h1 tabIndex={-1} ref={heading}>
              {t('roomsWelcomeTitle')}
            </h1>
            <p data-testid="join-welcome">{t('roomsWelcomeText', { group: title })}</p>
            {refusal && (
              <p role="alert" class="rooms-error rooms-refusal" data-testid="guest-refused" data-kind={refusal.kind}>
                {refusalMessage(refusal.kind, refusal.error)}
              </p>
            )}
            <div class="rooms-actions">
              {guest && (
                <button type="button" class={refusal ? 'primary' : ''} onClick={() => void auth.signIn()} data-testid="join-sign-in">
                  {t('roomsHaveAccount')}
                </button>
              )}
              {(!guest || !refusal || refusal.kind === 'unreachable' || refusal.kind === 'signInFailed' || refusal.kind === 'tooMany') && (
                <button type="button" class="primary" onClick={() => setStep(guest ? 'name' : 'settings')} data-testid="join-continue">
                  {guest ? t('roomsContinueAsGuest') : t('roomsContinue')}
                </button>
              )}
            </div>
          </>
        )}
        {step === 'name' && (
          <form
            noValidate
            onSubmit={(e) => {
              e.preventDefault();
              setNameTouched(true);
              if (!nameProblem) setStep('settings');
            }}
          >
            <h1 tabIndex={-1} ref={heading}>
              {t('roomsGuestNameTitle')}
            </h1>
            <label for="rooms-guest-name">{t('roomsGuestNameLabel')}</label>
            <div class="rooms-row">
              <input
                id="rooms-guest-name"
                data-testid="guest-name"
                type="text"
                autoComplete="name"
                maxLength={80}
                value={name}
                aria-invalid={nameTouched && !!nameProblem}
                aria-describedby="rooms-guest-name-hint rooms-guest-name-problem"
                onInput={(e) => setName((e.target as HTMLInputElement).value)}
              />
              <button type="button" onClick={() => setName(randomGuestName(language()))}>
                {t('roomsGuestNameRandom')}
              </button>
            </div>
            <p id="rooms-guest-name-hint" class="rooms-hint">
              {t('roomsGuestNameHint')}
            </p>
            <p id="rooms-guest-name-problem" class="rooms-error" role="alert">
              {nameTouched && nameProblem ? t(nameProblemKey[nameProblem]) : ''}
            </p>
            <div class="rooms-actions">
              <button type="button" onClick={() => setStep('welcome')}>
                {t('roomsBack')}
              </button>
              <button type="submit" class="primary" data-testid="join-next">
                {t('roomsNext')}
              </button>
            </div>
          </form>
        )}
        {step === 'settings' && (
          <>
            <h1 tabIndex={-1} ref={heading}>
              {t('roomsSettingsTitle')}
            </h1>
            <p>{t('roomsSettingsText')}</p>
            <CameraCheck active={!muteCam} />
            <label class="rooms-check">
              <input type="checkbox" checked={muteMic} data-testid="start-mic-off" onChange={(e) => setMuteMic((e.target as HTMLInputElement).checked)} />
              {t('roomsStartMuted')}
            </label>
            <label class="rooms-check">
              <input type="checkbox" checked={muteCam} data-testid="start-cam-off" onChange={(e) => setMuteCam((e.target as HTMLInputElement).checked)} />
              {t('roomsStartCamOff')}
            </label>
            <div class="rooms-actions">
              <button type="button" onClick={() => setStep(guest ? 'name' : 'welcome')}>
                {t('roomsBack')}
              </button>
              <button type="button" onClick={() => void join(false)} data-testid="join-audio">
                {t('roomsCallAudio')}
              </button>
              <button type="button" class="primary" onClick={() => void join(true)} data-testid="join-video">
                {t('roomsJoinVideo')}
              </button>
            </div>
          </>
        )}
        {step === 'joining' && (
          <p role="status" data-testid="guest-signing-in">
            {guest ? t('roomsGuestSigningIn') : t('roomsWaiting')}
          </p>
        )}
      </div>
    </main>
  );
}
