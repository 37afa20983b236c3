// The settings dialog (manual §5.8, §5.9): camera, microphone and speaker, audio-only mode,
// camera resolution and language. Nothing changes until "Done" (saveMediaSettings, setLanguage);
// "Cancel" and Escape discard. A modal <dialog>: the page behind is inert, focus starts in the
// dialog and returns to the button that opened it.
import { useEffect, useRef, useState } from 'preact/hooks';
import { language, setLanguage, t, type Lang } from '../../i18n';
import { canChooseSpeaker, listDevices, playTestTone, type DeviceLists } from '../../media/devices';
import { mediaSettings, saveMediaSettings, type MediaSettings } from '../../media/settings';
import { Preview } from './Preview';

const build = (import.meta.env.VITE_PALAVER_BUILD as string | undefined) ?? '';

export function SettingsDialog({ onClose }: { onClose: () => void }) {
  const ref = useRef<HTMLDialogElement>(null);
  const [draft, setDraft] = useState<MediaSettings>(mediaSettings());
  const [lang, setLang] = useState<Lang>(language());
  const [devices, setDevices] = useState<DeviceLists>({ cameras: [], mics: [], speakers: [] });

  useEffect(() => {
    const opener = document.activeElement as HTMLElement | null;
    const d = ref.current!;
    if (!d.open) d.showModal?.();
    return () => {
      // Close first: while the modal dialog is open the rest of the page is inert.
      if (d.open) d.close();
      opener?.focus?.();
    };
  }, []);

  // Device names appear once the camera is allowed; the list follows plugged devices.
  useEffect(() => {
    const update = () => void listDevices().then(setDevices).catch(() => {});
    update();
    const timer = setTimeout(update, 1500);
    navigator.mediaDevices?.addEventListener?.('devicechange', update);
    return () => {
      clearTimeout(timer);
      navigator.mediaDevices?.removeEventListener?.('devicechange', update);
    };
  }, []);

  const done = () => {
    saveMediaSettings(draft);
    if (lang !== language()) setLanguage(lang);
    onClose();
  };
  const patch = (p: Partial<MediaSettings>) => setDraft((d) => ({ ...d, ...p }));
  const label = (d: MediaDeviceInfo, i: number, kind: string) => d.label || t('deviceNumbered', { kind, n: i + 1 });

  return (
    <dialog
      ref={ref}
      class="dialog settings"
      aria-labelledby="settings-title"
      data-testid="settings"
      onCancel={(e) => {
        e.preventDefault();
        onClose();
      }}
    >
      <form
        method="dialog"
        onSubmit={(e) => {
          e.preventDefault();
          done();
        }}
      >
        <h2 id="settings-title">{t('settings')}</h2>
        <div class="settings-body">
          <div class="settings-preview">{!draft.audioOnly && <Preview settings={draft} explainFirst={false} testid="settings-preview" />}</div>
          <div class="settings-fields">
            <label class="field">
              <span>{t('camera')}</span>
              <select value={draft.cameraId ?? ''} disabled={draft.audioOnly} onChange={(e) => patch({ cameraId: (e.target as HTMLSelectElement).value || undefined })} data-testid="camera-select">
                <option value="">{t('deviceDefault')}</option>
                {devices.cameras.map((d, i) => (
                  <option key={d.deviceId} value={d.deviceId}>
                    {label(d, i, t('camera'))}
                  </option>
                ))}
              </select>
            </label>
            <label class="field">
              <span>{t('microphone')}</span>
              <select value={draft.micId ?? ''} onChange={(e) => patch({ micId: (e.target as HTMLSelectElement).value || undefined })} data-testid="mic-select">
                <option value="">{t('deviceDefault')}</option>
                {devices.mics.map((d, i) => (
                  <option key={d.deviceId} value={d.deviceId}>
                    {label(d, i, t('microphone'))}
                  </option>
                ))}
              </select>
            </label>
            {canChooseSpeaker() ? (
              <label class="field">
                <span>{t('speaker')}</span>
                <select value={draft.speakerId ?? ''} onChange={(e) => patch({ speakerId: (e.target as HTMLSelectElement).value || undefined })} data-testid="speaker-select">
                  <option value="">{t('deviceDefault')}</option>
                  {devices.speakers.map((d, i) => (
                    <option key={d.deviceId} value={d.deviceId}>
                      {label(d, i, t('speaker'))}
                    </option>
                  ))}
                </select>
              </label>
            ) : (
              <p class="note">{t('speakerUnsupported')}</p>
            )}
            <button type="button" class="test-sound" onClick={() => void playTestTone(draft.speakerId).catch(() => {})}>
              <span aria-hidden="true">♪</span> {t('testSound')}
            </button>
            <label class="field">
              <span>{t('resolution')}</span>
              <select value={String(draft.hd)} disabled={draft.audioOnly} onChange={(e) => patch({ hd: Number((e.target as HTMLSelectElement).value) as MediaSettings['hd'] })}>
                <option value="360">360p</option>
                <option value="720">720p (HD)</option>
                <option value="1080">1080p (Full HD)</option>
              </select>
            </label>
            <label class="switch">
              <input type="checkbox" role="switch" checked={draft.audioOnly} onChange={(e) => patch({ audioOnly: (e.target as HTMLInputElement).checked })} data-testid="audio-only" aria-describedby="audio-only-hint" />
              <span>{t('audioOnly')}</span>
            </label>
            <p class="note" id="audio-only-hint">
              {t('audioOnlyHint')}
            </p>
            <label class="field">
              <span>{t('language')}</span>
              <select value={lang} onChange={(e) => setLang((e.target as HTMLSelectElement).value as Lang)} data-testid="language-select">
                <option value="en" lang="en">
                  English
                </option>
                <option value="de" lang="de">
                  Deutsch
                </option>
              </select>
            </label>
          </div>
        </div>
        <p class="note">{t('settingsApplyHint')}</p>
        {build && <p class="note">{t('version', { v: build })}</p>}
        <div class="row dialog-actions">
          <button type="button" onClick={onClose}>
            {t('cancel')}
          </button>
          <button type="submit" class="primary" data-testid="settings-done">
            {t('done')}
          </button>
        </div>
      </form>
    </dialog>
  );
}
