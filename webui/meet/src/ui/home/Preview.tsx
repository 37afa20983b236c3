// The own camera preview (main screen and settings), with the first-use explanation of the
// browser's permission prompt and a clear message plus a way forward for each known failure.
import { useEffect, useRef } from 'preact/hooks';
import { t, type MessageKey } from '../../i18n';
import type { MediaSettings } from '../../media/settings';
import type { CameraProblem } from '../../media/devices';
import { useCamera } from './camera';

const problemText: Record<CameraProblem, MessageKey> = {
  denied: 'camDenied',
  'no-camera': 'camNone',
  'in-use': 'camInUse',
  insecure: 'camInsecure',
  failed: 'camFailed',
};

export function Preview({ settings, onSettings, explainFirst = true, testid = 'preview' }: { settings: MediaSettings; onSettings?: () => void; explainFirst?: boolean; testid?: string }) {
  const { state, retry, allow } = useCamera(settings, { explainFirst });
  const video = useRef<HTMLVideoElement>(null);
  useEffect(() => {
    if (video.current && state.kind === 'live') {
      video.current.srcObject = state.stream;
      void video.current.play().catch(() => {});
    }
  }, [state]);

  return (
    <div class="preview" data-testid={testid} data-state={state.kind === 'problem' ? state.problem : state.kind}>
      {state.kind === 'live' && <video ref={video} class="preview-video" muted autoplay playsInline aria-label={t('yourCamera')} />}
      {(state.kind === 'idle' || state.kind === 'starting') && <p class="preview-note">{t('cameraStarting')}</p>}
      {state.kind === 'explain' && (
        <div class="preview-note">
          <p>{t('permissionExplain')}</p>
          <button type="button" class="primary" onClick={allow}>
            {t('allowMedia')}
          </button>
        </div>
      )}
      {state.kind === 'audio-only' && (
        <div class="preview-note">
          <p>{t('audioOnlyOn')}</p>
          {onSettings && (
            <button type="button" onClick={onSettings}>
              {t('openSettings')}
            </button>
          )}
        </div>
      )}
      {state.kind === 'problem' && (
        <div class="preview-note" role="alert" data-testid="camera-problem">
          <p>{t(problemText[state.problem], { error: state.error })}</p>
          <div class="row">
            <button type="button" onClick={retry}>
              {t('retry')}
            </button>
            {onSettings && (
              <button type="button" onClick={onSettings}>
                {t('openSettings')}
              </button>
            )}
          </div>
        </div>
      )}
    </div>
  );
}
