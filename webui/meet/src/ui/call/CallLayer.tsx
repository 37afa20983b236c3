// The call screens over everything while a call is not idle: outgoing (hourglass, moving bar, own
// video in the corner), incoming (accept / decline / ignore, ringing), the in-call view for 1:1
// calls and rooms (grid, active speaker, shared screen large, controls that fade out), chat, and
// the notices when a call ends or fails.
import { useContext, useEffect, useLayoutEffect, useMemo, useRef, useState } from 'preact/hooks';
import type { JSX } from 'preact';
import { EngineContext, type CallEngine, type EngineState, type RemoteParticipant } from '../../call/engine';
import { chooseLayout } from '../../call/layout';
import { mediaSettings } from '../../media/settings';
import { t, type MessageKey } from '../../i18n';
import { startRinging } from './ring';
import './call.css';

export function useEngineState(engine: CallEngine | null): EngineState | null {
  const [s, set] = useState<EngineState | null>(engine ? engine.getState() : null);
  useEffect(() => {
    if (!engine) return;
    set(engine.getState());
    return engine.subscribe(set);
  }, [engine]);
  return s;
}

export function CallLayer() {
  const engine = useContext(EngineContext);
  const s = useEngineState(engine);
  if (!engine || !s) return null;
  const st = s.status;
  return (
    <>
      {st.kind === 'outgoing' && <Outgoing engine={engine} s={s} name={st.peer.name || st.peer.id} />}
      {st.kind === 'incoming' && <Incoming engine={engine} name={st.peer.name || st.peer.id} />}
      {(st.kind === 'call' || st.kind === 'room') && <InCall engine={engine} s={s} />}
      <Notice engine={engine} s={s} />
    </>
  );
}

// --- small parts ---------------------------------------------------------------------------

export function Video({ stream, muted, mirror, label, class: cls }: { stream: MediaStream | null; muted?: boolean; mirror?: boolean; label?: string; class?: string }) {
  const ref = useRef<HTMLVideoElement>(null);
  useEffect(() => {
    const v = ref.current;
    if (!v) return;
    if (v.srcObject !== stream) v.srcObject = stream;
    const sink = mediaSettings().speakerId;
    const withSink = v as HTMLVideoElement & { setSinkId?: (id: string) => Promise<void> };
    if (!muted && sink && withSink.setSinkId) void withSink.setSinkId(sink).catch(() => undefined);
    if (stream) void v.play().catch(() => undefined);
  }, [stream, muted]);
  return <video ref={ref} class={`${cls ?? ''}${mirror ? ' mirror' : ''}`} autoPlay playsInline muted={muted} aria-label={label} />;
}

const icons: Record<string, string> = {
  mic: 'M12 14a3 3 0 0 0 3-3V5a3 3 0 0 0-6 0v6a3 3 0 0 0 3 3zm5-3a5 5 0 0 1-10 0H5a7 7 0 0 0 6 6.9V21h2v-3.1A7 7 0 0 0 19 11h-2z',
  cam: 'M17 10.5V7a1 1 0 0 0-1-1H4a1 1 0 0 0-1 1v10a1 1 0 0 0 1 1h12a1 1 0 0 0 1-1v-3.5l4 4v-11l-4 4z',
  screen: 'M20 18a2 2 0 0 0 2-2V6a2 2 0 0 0-2-2H4a2 2 0 0 0-2 2v10a2 2 0 0 0 2 2H0v2h24v-2h-4zM4 6h16v10H4V6z',
  chat: 'M20 2H4a2 2 0 0 0-2 2v18l4-4h14a2 2 0 0 0 2-2V4a2 2 0 0 0-2-2z',
  hand: 'M21 7a1.5 1.5 0 0 0-3 0v5h-1V4a1.5 1.5 0 0 0-3 0v8h-1V2.5a1.5 1.5 0 0 0-3 0V12H9V5.5a1.5 1.5 0 0 0-3 0v9.7l-2.3-2.4a1.5 1.5 0 0 0-2.2 2L7 21a4 4 0 0 0 3 1.5h6a5 5 0 0 0 5-5V7z',
  hangup: 'M12 9c-1.6 0-3.2.3-4.6.7v3.1c0 .4-.2.7-.6.9-1 .5-1.9 1.1-2.7 1.8-.2.2-.4.3-.7.3s-.5-.1-.7-.3L.3 13.1A1 1 0 0 1 0 12.4c0-.3.1-.5.3-.7C3.3 8.8 7.4 7 12 7s8.7 1.8 11.7 4.7c.2.2.3.4.3.7s-.1.5-.3.7l-2.4 2.4c-.2.2-.4.3-.7.3s-.5-.1-.7-.3c-.8-.7-1.7-1.3-2.7-1.8-.4-.2-.6-.5-.6-.9V9.7C15.2 9.3 13.6 9 12 9z',
  phone: 'M6.6 10.8a15 15 0 0 0 6.6 6.6l2.2-2.2c.3-.3.7-.4 1-.2 1.1.4 2.3.6 3.6.6.6 0 1 .4 1 1V20c0 .6-.4 1-1 1A17 17 0 0 1 3 4c0-.6.4-1 1-1h3.5c.6 0 1 .4 1 1 0 1.3.2 2.5.6 3.6.1.3 0 .7-.2 1l-2.3 2.2z',
};

function Icon({ name }: { name: keyof typeof icons }) {
  return (
    <svg viewBox="0 0 24 24" width="24" height="24" aria-hidden="true" focusable="false">
      <path d={icons[name]} fill="currentColor" />
    </svg>
  );
}

function RoundButton(p: { icon: keyof typeof icons; label: string; onClick: () => void; kind?: 'danger' | 'ok' | 'active' | 'off'; pressed?: boolean; testid?: string; disabled?: boolean }) {
  return (
    <button
      type="button"
      class={`call-btn ${p.kind ?? ''}`}
      aria-label={p.label}
      title={p.label}
      aria-pressed={p.pressed}
      data-testid={p.testid}
      onClick={p.onClick}
      disabled={p.disabled}
    >
      <Icon name={p.icon} />
    </button>
  );
}

function qualityLabel(q: RemoteParticipant['quality']): string {
  const k: Record<RemoteParticipant['quality'], MessageKey> = { good: 'qualityGood', fair: 'qualityFair', poor: 'qualityPoor', unknown: 'qualityUnknown' };
  return t('callQuality', { quality: t(k[q]) });
}

function QualityBars({ q }: { q: RemoteParticipant['quality'] }) {
  const n = q === 'good' ? 3 : q === 'fair' ? 2 : q === 'poor' ? 1 : 0;
  return (
    <span class={`quality q-${q}`} role="img" aria-label={qualityLabel(q)} title={qualityLabel(q)} data-quality={q}>
      {[1, 2, 3].map((i) => (
        <span key={i} class={i <= n ? 'on' : ''} style={{ height: `${i * 4 + 2}px` }} />
      ))}
    </span>
  );
}

// --- outgoing / incoming ---------------------------------------------------------------------

function Outgoing({ engine, s, name }: { engine: CallEngine; s: EngineState; name: string }) {
  const hangupRef = useRef<HTMLButtonElement>(null);
  useLayoutEffect(() => hangupRef.current?.focus(), []);
  return (
    <div class="call-layer call-outgoing" role="dialog" aria-modal="true" aria-label={t('callCalling', { name })} data-testid="call-outgoing">
      <div class="call-waiting">
        <div class="hourglass" aria-hidden="true" />
        <p class="call-title">{t('callCalling', { name })}</p>
        <div class="moving-bar" role="progressbar" aria-label={t('callWaiting', { name })}>
          <span />
        </div>
      </div>
      {s.local.stream && <Video stream={s.local.stream} muted mirror class="self-corner" label={t('callYou')} />}
      <div class="call-controls visible">
        <button ref={hangupRef} type="button" class="call-btn danger" aria-label={t('callHangup')} title={t('callHangup')} data-testid="call-hangup" onClick={() => engine.hangup()}>
          <Icon name="hangup" />
        </button>
      </div>
    </div>
  );
}

function Incoming({ engine, name }: { engine: CallEngine; name: string }) {
  const acceptRef = useRef<HTMLButtonElement>(null);
  useLayoutEffect(() => acceptRef.current?.focus(), []);
  useEffect(() => startRinging(), []);
  return (
    <div class="call-layer call-incoming" role="alertdialog" aria-modal="true" aria-labelledby="call-incoming-title" data-testid="call-incoming">
      <div class="incoming-card">
        <p class="muted">{t('callIncomingLabel')}</p>
        <h2 id="call-incoming-title" data-testid="call-incoming-name">
          {t('callIncoming', { name })}
        </h2>
        <div class="incoming-actions">
          <button ref={acceptRef} type="button" class="primary accept" data-testid="call-accept" onClick={() => engine.accept({ video: true })}>
            <Icon name="cam" /> {t('callAccept')}
          </button>
          <button type="button" class="accept-audio" data-testid="call-accept-audio" onClick={() => engine.accept({ video: false })}>
            <Icon name="phone" /> {t('callAcceptAudio')}
          </button>
          <button type="button" class="danger-text" data-testid="call-decline" onClick={() => engine.decline()}>
            {t('callDecline')}
          </button>
          <button type="button" class="link" data-testid="call-ignore" onClick={() => engine.ignore()}>
            {t('callIgnore')}
          </button>
        </div>
      </div>
    </div>
  );
}

// --- in call -----------------------------------------------------------------------------

function useFadingControls(): [boolean, (e?: Event) => void] {
  const [visible, setVisible] = useState(true);
  const timer = useRef<ReturnType<typeof setTimeout> | null>(null);
  const poke = () => {
    setVisible(true);
    if (timer.current) clearTimeout(timer.current);
    timer.current = setTimeout(() => setVisible(false), 3000);
  };
  useEffect(() => {
    poke();
    return () => {
      if (timer.current) clearTimeout(timer.current);
    };
  }, []);
  return [visible, poke];
}

function useSize(ref: { current: HTMLElement | null }): { w: number; h: number } {
  const [size, setSize] = useState({ w: window.innerWidth, h: window.innerHeight });
  useEffect(() => {
    const el = ref.current;
    if (!el || typeof ResizeObserver === 'undefined') return;
    const ro = new ResizeObserver(() => setSize({ w: el.clientWidth, h: el.clientHeight }));
    ro.observe(el);
    return () => ro.disconnect();
  }, []);
  return size;
}

function Tile({ p, big, screen, speaker }: { p: RemoteParticipant; big?: boolean; screen?: boolean; speaker?: boolean }) {
  const stream = screen ? p.screen : p.stream;
  const showVideo = screen || p.camOn;
  return (
    <figure
      class={`tile${big ? ' big' : ''}${p.speaking ? ' speaking' : ''}${speaker ? ' speaker' : ''}${screen ? ' screen' : ''}`}
      data-testid={screen ? 'tile-screen' : 'tile'}
      data-peer={p.id}
    >
      <Video stream={stream} muted={screen} label={screen ? t('callScreenOf', { name: p.name }) : p.name} class={showVideo ? '' : 'hidden-video'} />
      {!showVideo && (
        <div class="avatar" aria-hidden="true">
          {p.name.slice(0, 1).toUpperCase()}
        </div>
      )}
      <figcaption>
        {!screen && <QualityBars q={p.quality} />}
        <span class="name">{screen ? t('callScreenOf', { name: p.name }) : p.name}</span>
        {!screen && !p.micOn && <span class="badge">{t('callMuted')}</span>}
        {!screen && p.handRaised && (
          <span class="badge hand" role="img" aria-label={t('callHandRaised', { name: p.name })} data-testid="hand-raised">
            ✋
          </span>
        )}
        {!screen && p.connection !== 'connected' && (
          <span class="badge">{p.connection === 'reconnecting' ? t('callPeerReconnecting') : t('callConnecting')}</span>
        )}
      </figcaption>
    </figure>
  );
}

function InCall({ engine, s }: { engine: CallEngine; s: EngineState }) {
  const [visible, poke] = useFadingControls();
  const [chatOpen, setChatOpen] = useState(false);
  const [seen, setSeen] = useState(0);
  const stage = useRef<HTMLDivElement>(null);
  const { w, h } = useSize(stage);
  const st = s.status;
  const room = st.kind === 'room' ? st.id : null;
  const ids = s.participants.map((p) => p.id);
  const byId = useMemo(() => new Map(s.participants.map((p) => [p.id, p])), [s.participants]);
  const sharer = s.participants.find((p) => p.screen)?.id ?? null;
  const layout = chooseLayout(ids, s.activeSpeaker, sharer, w, h);
  const unread = chatOpen ? 0 : s.chat.filter((c) => !c.own && !c.system).length - seen;
  useEffect(() => {
    if (chatOpen) setSeen(s.chat.filter((c) => !c.own && !c.system).length);
  }, [chatOpen, s.chat]);
  const reconnecting = s.signaling === 'reconnecting' || s.signaling === 'connecting';
  const layer = useRef<HTMLDivElement>(null);
  // Focus moves into the call (the button that started it, or the ringing dialog, is gone): onto
  // the view itself, not a control, so the controls still fade; Tab reaches them next.
  useEffect(() => {
    const el = layer.current;
    if (el && !el.contains(document.activeElement)) el.focus({ preventScroll: true });
  }, []);

  return (
    <div
      ref={layer}
      class={`call-layer call-view${visible ? '' : ' idle'}${chatOpen ? ' with-chat' : ''}`}
      data-testid="call-view"
      data-status={st.kind}
      onMouseMove={poke}
      onTouchStart={poke}
      onKeyDown={poke}
      onFocusCapture={poke}
      role="region"
      tabIndex={-1}
      aria-label={room ? t('callRoom', { room }) : st.kind === 'call' ? st.peer.name || st.peer.id : ''}
    >
      {reconnecting && (
        <div class="call-banner" role="status" data-testid="call-reconnecting">
          {t('callReconnecting')}
        </div>
      )}
      <div class="stage" ref={stage}>
        {ids.length === 0 && (
          <div class="alone">
            <p>{room ? t('callAlone', { room }) : t('callConnecting')}</p>
          </div>
        )}
        {layout.kind === 'grid' && ids.length > 0 && (
          <div class="grid" style={{ gridTemplateColumns: `repeat(${layout.columns}, minmax(0, 1fr))` }}>
            {layout.tiles.map((id) => (
              <Tile key={id} p={byId.get(id)!} speaker={id === s.activeSpeaker && ids.length > 1} />
            ))}
          </div>
        )}
        {layout.kind === 'focus' && (
          <div class={`focus${layout.screen ? ' has-screen' : ''}`} data-testid={layout.screen ? 'layout-screen' : 'layout-speaker'}>
            <div class="main">
              <Tile p={byId.get(layout.main)!} big screen={layout.screen} speaker={!layout.screen} />
            </div>
            <div class="side">
              {layout.side.map((id) => (
                <Tile key={id} p={byId.get(id)!} />
              ))}
            </div>
          </div>
        )}
      </div>
      {s.local.stream && s.local.camOn && <Video stream={s.local.stream} muted mirror class="self-corner" label={t('callYou')} />}
      {s.local.screen && (
        <div class="sharing-note" role="status">
          {t('callSharing')}
        </div>
      )}
      {chatOpen && <Chat engine={engine} s={s} onClose={() => setChatOpen(false)} />}
      <div class={`call-controls${visible ? ' visible' : ''}`} role="toolbar" aria-label={t('callControls')}>
        <RoundButton
          icon="mic"
          label={s.local.micOn ? t('callMicOn') : t('callMicOff')}
          kind={s.local.micOn ? undefined : 'off'}
          pressed={!s.local.micOn}
          testid="call-mic"
          onClick={() => engine.setMic(!s.local.micOn)}
        />
        {!s.audioOnly && (
          <RoundButton
            icon="cam"
            label={s.local.camOn ? t('callCamOn') : t('callCamOff')}
            kind={s.local.camOn ? undefined : 'off'}
            pressed={!s.local.camOn}
            testid="call-cam"
            disabled={!s.local.stream?.getVideoTracks().length}
            onClick={() => engine.setCamera(!s.local.camOn)}
          />
        )}
        {s.canShareScreen && (
          <RoundButton
            icon="screen"
            label={s.local.screen ? t('callShareStop') : t('callShareStart')}
            kind={s.local.screen ? 'ok' : undefined}
            pressed={!!s.local.screen}
            testid="call-screen"
            onClick={() => (s.local.screen ? engine.stopScreenShare() : void engine.startScreenShare())}
          />
        )}
        <RoundButton icon="hand" label={s.local.handRaised ? t('callHandLower') : t('callHandRaise')} kind={s.local.handRaised ? 'active' : undefined} pressed={s.local.handRaised} testid="call-hand" onClick={() => engine.setHandRaised(!s.local.handRaised)} />
        <span class="chat-btn-wrap">
          <RoundButton icon="chat" label={chatOpen ? t('callChatClose') : t('callChat')} pressed={chatOpen} kind={chatOpen ? 'active' : undefined} testid="call-chat" onClick={() => setChatOpen(!chatOpen)} />
          {unread > 0 && <span class="unread" aria-hidden="true">{unread}</span>}
        </span>
        <RoundButton icon="hangup" label={room ? t('callLeave') : t('callHangup')} kind="danger" testid="call-hangup" onClick={() => engine.hangup()} />
      </div>
    </div>
  );
}

export function Chat({ engine, s, onClose }: { engine: CallEngine; s: EngineState; onClose: () => void }) {
  const [text, setText] = useState('');
  const [failed, setFailed] = useState(false);
  const [sending, setSending] = useState(false);
  const list = useRef<HTMLOListElement>(null);
  const input = useRef<HTMLInputElement>(null);
  useLayoutEffect(() => input.current?.focus(), []);
  useEffect(() => {
    if (list.current) list.current.scrollTop = list.current.scrollHeight;
  }, [s.chat.length]);
  // The text leaves the input only once the server took it; a failed send keeps it (with the
  // reason next to the input) so nothing typed is lost.
  const submit = async (e: JSX.TargetedEvent<HTMLFormElement>) => {
    e.preventDefault();
    if (!text.trim() || sending) return;
    const sent = text;
    setSending(true);
    const ok = await engine.sendChat(sent).catch(() => false);
    setSending(false);
    setFailed(!ok);
    if (ok) setText((now) => (now === sent ? '' : now));
    input.current?.focus();
  };
  return (
    <aside class="chat" aria-label={t('callChat')} data-testid="call-chat-panel" onKeyDown={(e) => e.key === 'Escape' && onClose()}>
      <header>
        <h2>{t('callChat')}</h2>
        <button type="button" class="link" onClick={onClose} aria-label={t('callChatClose')}>
          ✕
        </button>
      </header>
      <ol ref={list} aria-live="polite">
        {s.chat.length === 0 && <li class="muted">{t('callChatEmpty')}</li>}
        {s.chat.map((m) =>
          m.system ? (
            <li key={m.id} class="system">
              {t(m.system === 'joined' ? 'callChatJoined' : 'callChatLeft', { name: m.fromName })}
            </li>
          ) : (
            <li key={m.id} class={m.own ? 'own' : ''} data-testid="chat-message">
              <span class="from">{m.own ? t('callYou') : m.fromName}</span>
              <span class="text">{m.text}</span>
            </li>
          ),
        )}
      </ol>
      <form onSubmit={submit}>
        <input
          ref={input}
          value={text}
          maxLength={16000}
          onInput={(e) => setText(e.currentTarget.value)}
          placeholder={t('callChatPlaceholder')}
          aria-label={t('callChatPlaceholder')}
          aria-invalid={failed || undefined}
          aria-describedby={failed ? 'call-chat-error' : undefined}
          data-testid="chat-input"
        />
        <button type="submit" class="primary" disabled={sending}>
          {t('callChatSend')}
        </button>
      </form>
      {failed && (
        <p id="call-chat-error" class="chat-error" role="alert" data-testid="chat-error">
          {t('chatFailed')}
        </p>
      )}
    </aside>
  );
}

// --- notices ---------------------------------------------------------------------------------

const endedKeys: Record<string, MessageKey> = {
  hangup: 'endedHangup',
  declined: 'endedDeclined',
  busy: 'endedBusy',
  'no-answer': 'endedNoAnswer',
  failed: 'endedFailed',
  'answered-elsewhere': 'endedElsewhere',
};

function Notice({ engine, s }: { engine: CallEngine; s: EngineState }) {
  const idle = s.status.kind === 'idle';
  const msgs: { key: string; text: string; alert: boolean }[] = [];
  if (s.signaling === 'denied') msgs.push({ key: 'denied', text: t('signalingDenied'), alert: true });
  if (s.error) msgs.push({ key: `e-${s.error}`, text: t(s.error as MessageKey), alert: true });
  if (idle && s.ended) msgs.push({ key: `x-${s.ended.reason}`, text: t(endedKeys[s.ended.reason] ?? 'endedHangup', { name: s.ended.peer?.name || s.ended.peer?.id || '' }), alert: s.ended.reason !== 'hangup' });
  // Endings go away by themselves; errors stay until dismissed.
  useEffect(() => {
    if (!idle || !s.ended || s.error) return;
    const tm = setTimeout(() => engine.dismiss(), 6000);
    return () => clearTimeout(tm);
  }, [idle, s.ended, s.error]);
  if (!msgs.length) return null;
  return (
    <div class="call-notices" data-testid="call-notice">
      {msgs.map((m) => (
        <div key={m.key} class={`call-notice${m.alert ? ' alert' : ''}`} role={m.alert ? 'alert' : 'status'} data-key={m.key}>
          <span>{m.text}</span>
          {m.key !== 'denied' && (
            <button type="button" class="link" onClick={() => engine.dismiss()}>
              {t('callDismiss')}
            </button>
          )}
        </div>
      ))}
    </div>
  );
}
