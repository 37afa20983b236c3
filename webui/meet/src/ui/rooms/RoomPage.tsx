// The group landing page (route /meet/r/group|conference/<id>, manual §5.5–5.6): the group's
// name, the call button (and audio only), a camera check, "invite to this group" by e-mail and
// "share group link". A join asked for by the wizard or an `auto` fragment happens here as soon
// as the call engine is there; `mute` fragments are applied once the own media are up.
import { useContext, useEffect, useRef, useState } from 'preact/hooks';
import type { MeetConfig } from '../../config';
import type { SignedInUser } from '../../auth/oidc';
import type { FragmentParams } from '../../fragment';
import { EngineContext, type CallEngine, type EngineState } from '../../call/engine';
import { isPublicRoom } from '../../auth/guest-flow';
import { stripGuestPrefix } from '../../auth/guest-names';
import { t } from '../../i18n';
import { navigate } from '../../router';
import { CameraCheck } from './CameraCheck';
import { Icon } from './icons';
import { InvitePanel } from './InvitePanel';
import { groupTitle, roomLink, type RoomScope } from './model';
import { isInitialRoom, rememberRoom, takeAuto, takeJoin, type JoinRequest } from './session';
import './rooms.css';

/** Engine errors that mean "nobody is in the room yet" for a guest (kwm `create_restricted`). */
export const NOT_ACTIVE_ERRORS = ['createRestricted', 'create_restricted', 'roomNotActive'];
export const RETRY_SECONDS = 10;

export interface RoomPageProps {
  config: MeetConfig;
  user: SignedInUser;
  scope: RoomScope;
  id: string;
  params: FragmentParams;
}

function useEngineState(engine: CallEngine | null): EngineState | null {
  const [s, set] = useState<EngineState | null>(() => engine?.getState() ?? null);
  useEffect(() => {
    if (!engine) return;
    set(engine.getState());
    return engine.subscribe(set);
  }, [engine]);
  return s;
}

type Toast = { text: string; id: number };

export function useToast(): [Toast | null, (text: string) => void] {
  const [toast, setToast] = useState<Toast | null>(null);
  useEffect(() => {
    if (!toast) return;
    const tm = setTimeout(() => setToast(null), 5000);
    return () => clearTimeout(tm);
  }, [toast]);
  return [toast, (text: string) => setToast({ text, id: Date.now() })];
}

export function RoomPage({ config, user, scope, id, params }: RoomPageProps) {
  const engine = useContext(EngineContext);
  const state = useEngineState(engine);
  const [camera, setCamera] = useState(false);
  const [inviting, setInviting] = useState(false);
  const [manualLink, setManualLink] = useState<string | null>(null);
  const [toast, showToast] = useToast();
  const [wanted, setWanted] = useState<JoinRequest | null>(() => {
    const j = takeJoin(scope, id);
    if (j) {
      takeAuto(scope, id); // the wizard's join was the link's auto join
      return j;
    }
    if (params.auto && takeAuto(scope, id)) return { scope, id, video: params.auto === 2, muteMic: params.muteMic, muteCam: params.muteCam };
    return null;
  });
  const joined = useRef<JoinRequest | null>(null);
  const muteApplied = useRef(false);
  const publicRoom = isPublicRoom(config.guests.publicGroupRegexp, scope, id);
  const title = groupTitle(id, config.guests.defaultPublicGroupPrefix);
  const inRoom = state?.status.kind === 'room' && state.status.scope === scope && state.status.id === id;
  // The engine may stay "in the room" while kwm refuses the join (it retries itself) or drop back
  // to idle (then this page retries): the message shows either way.
  const notActive = !!state?.error && NOT_ACTIVE_ERRORS.includes(state.error) && !!joined.current;
  const engineRetries = state?.status.kind === 'room';

  useEffect(() => {
    if (!user.guest) rememberRoom(scope, id, title);
  }, [scope, id, user.guest]);

  const signalingUp = state?.signaling === 'connected';

  const join = (req: JoinRequest) => {
    if (!engine) return;
    setCamera(false);
    // A join before the signaling connection is up waits for it (an engine may drop a request
    // sent while it is still connecting).
    if (!signalingUp) {
      setWanted(req);
      return;
    }
    joined.current = req;
    muteApplied.current = false;
    // The start-muted wish travels with the join (CallOptions) and through setMic/setCamera.
    const opts = { video: req.video, muteMic: req.muteMic, muteCam: req.muteCam };
    engine.joinRoom(scope, id, opts);
    if (req.muteMic) engine.setMic(false);
    if (req.muteCam) engine.setCamera(false);
  };

  // A join asked for before the engine (or its signaling connection) was there happens when it comes.
  useEffect(() => {
    if (engine && wanted && signalingUp) {
      setWanted(null);
      join(wanted);
    }
  }, [engine, wanted, signalingUp]);

  // Start muted: applied again once the own media are open (an engine may open them only after
  // the room answered), and only once per join.
  useEffect(() => {
    const j = joined.current;
    if (!engine || !state || !j || muteApplied.current || !inRoom || !state.local.stream) return;
    muteApplied.current = true;
    if (j.muteMic && state.local.micOn) engine.setMic(false);
    if (j.muteCam && state.local.camOn) engine.setCamera(false);
  }, [engine, state, inRoom]);

  // A guest before anyone is there: the server refuses (create_restricted); try again.
  useEffect(() => {
    if (!notActive || !engine || engineRetries) return;
    const tm = setTimeout(() => joined.current && join(joined.current), RETRY_SECONDS * 1000);
    return () => clearTimeout(tm);
  }, [notActive, engine, state, engineRetries]);

  const link = roomLink(location.origin, scope, id, publicRoom && config.guests.enabled);

  const share = async () => {
    setManualLink(null);
    const data = { title: t('appName'), text: t('roomsShareText', { group: title }), url: link };
    if (typeof navigator.share === 'function' && (!navigator.canShare || navigator.canShare(data))) {
      try {
        await navigator.share(data);
        showToast(t('roomsShareShared'));
        return;
      } catch (e) {
        if (e instanceof DOMException && e.name === 'AbortError') return;
      }
    }
    try {
      await navigator.clipboard.writeText(link);
      showToast(t('roomsShareCopied'));
    } catch {
      setManualLink(link);
    }
  };

  const leave = () => engine?.leaveRoom();

  return (
    <main class="rooms-page" data-testid="room-page" data-room={`${scope}/${id}`}>
      {toast && (
        <div class="rooms-toast" role="status" data-testid="room-toast" key={toast.id}>
          {toast.text}
        </div>
      )}
      <div class="rooms-card">
        <header class="rooms-head">
          {!user.guest && (
            <button type="button" class="rooms-back" onClick={() => navigate({ view: 'main' })} aria-label={t('roomsBack')}>
              <Icon name="back" />
            </button>
          )}
          <div>
            <p class="rooms-kicker">{t('roomsGroup')}</p>
            <h1 data-testid="room-title">{title}</h1>
          </div>
          {publicRoom && (
            <span class="rooms-badge" title={t('roomsPublicBadgeHint')} data-testid="room-public">
              {t('roomsPublicBadge')}
            </span>
          )}
        </header>
        {user.guest && <p class="rooms-hint">{t('roomsGuestAs', { name: stripGuestPrefix(user.name) })}</p>}

        {notActive && (
          <p role="status" class="rooms-waiting" data-testid="room-not-active">
            {t('roomsNotActive', { seconds: RETRY_SECONDS })}
          </p>
        )}
        {inRoom ? (
          <section class="rooms-inroom" data-testid="room-in-call">
            <p>{t('roomsInMeeting')}</p>
            <button type="button" onClick={leave}>
              {t('roomsLeave')}
            </button>
          </section>
        ) : (
          <>
            <CameraCheck active={camera} onToggle={setCamera} />
            {(state?.error === 'accessRestricted' || state?.error === 'callNoAccess') && (
              <p role="alert" class="rooms-error" data-testid="room-no-access">
                {t('roomsNoAccess')}
              </p>
            )}
            {engine && wanted && (
              <p role="status" class="rooms-hint" data-testid="room-joining">
                {t('roomsWaiting')}
              </p>
            )}
            {!engine && (
              <p class="rooms-hint" data-testid="room-no-engine">
                {t('roomsCallUnavailable')}
              </p>
            )}
            <div class="rooms-actions rooms-call">
              <button
                type="button"
                onClick={() => join({ scope, id, video: false, muteMic: isInitialRoom(scope, id) && params.muteMic, muteCam: false })}
                disabled={!engine}
                data-testid="room-call-audio"
              >
                {t('roomsCallAudio')}
              </button>
              <button
                type="button"
                class="primary rooms-call-button"
                onClick={() =>
                  join({ scope, id, video: true, muteMic: isInitialRoom(scope, id) && params.muteMic, muteCam: isInitialRoom(scope, id) && params.muteCam })
                }
                disabled={!engine}
                data-testid="room-call"
              >
                <Icon name="phone" /> {t('roomsCall')}
              </button>
            </div>
          </>
        )}

        {!user.guest && (
          <section class="rooms-share">
            <div class="rooms-actions">
              <button type="button" onClick={() => setInviting((v) => !v)} aria-expanded={inviting} data-testid="room-invite">
                <Icon name="mail" /> {t('roomsInvite')}
              </button>
              <button type="button" onClick={() => void share()} data-testid="room-share">
                <Icon name="link" /> {t('roomsShare')}
              </button>
            </div>
            {manualLink && (
              <p>
                <label for="rooms-manual-link">{t('roomsShareManual')}</label>
                <input id="rooms-manual-link" readOnly value={manualLink} onFocus={(e) => (e.target as HTMLInputElement).select()} />
              </p>
            )}
            {inviting && (
              <InvitePanel
                group={title}
                link={link}
                sender={user.name}
                onSent={() => {
                  setInviting(false);
                  showToast(t('roomsInviteHanded'));
                }}
              />
            )}
          </section>
        )}
      </div>
    </main>
  );
}
