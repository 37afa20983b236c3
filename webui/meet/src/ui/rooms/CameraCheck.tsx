// The camera check of the group landing page and the join wizard: the own camera in a preview,
// with the manual's known cases (permission denied, no camera, camera busy) as clear messages.
import { useEffect, useRef, useState } from 'preact/hooks';
import { t, type MessageKey } from '../../i18n';
import { mediaSettings } from '../../media/settings';
import { Icon } from './icons';

type Problem = { key: MessageKey; error?: string };

export function cameraProblem(e: unknown): Problem {
  const name = e instanceof DOMException || e instanceof Error ? e.name : '';
  if (name === 'NotAllowedError' || name === 'SecurityError') return { key: 'roomsCameraDenied' };
  if (name === 'NotFoundError' || name === 'OverconstrainedError') return { key: 'roomsCameraMissing' };
  if (name === 'NotReadableError' || name === 'AbortError') return { key: 'roomsCameraBusy' };
  return { key: 'roomsCameraFailed', error: e instanceof Error ? e.message : String(e) };
}

export function CameraCheck({ active, onToggle }: { active: boolean; onToggle?: (on: boolean) => void }) {
  const video = useRef<HTMLVideoElement>(null);
  const [problem, setProblem] = useState<Problem | null>(null);
  const [live, setLive] = useState(false);

  useEffect(() => {
    if (!active) return;
    let stream: MediaStream | null = null;
    let cancelled = false;
    setProblem(null);
    const s = mediaSettings();
    const constraints: MediaStreamConstraints = {
      audio: false,
      video: { ...(s.cameraId ? { deviceId: { ideal: s.cameraId } } : {}), height: { ideal: Math.min(s.hd, 720) } },
    };
    if (!navigator.mediaDevices?.getUserMedia) {
      setProblem({ key: 'roomsCameraMissing' });
      return;
    }
    navigator.mediaDevices.getUserMedia(constraints).then(
      (st) => {
        if (cancelled) {
          st.getTracks().forEach((tr) => tr.stop());
          return;
        }
        stream = st;
        if (video.current) {
          video.current.srcObject = st;
          void video.current.play().catch(() => {});
        }
        setLive(true);
      },
      (e) => !cancelled && setProblem(cameraProblem(e)),
    );
    return () => {
      cancelled = true;
      stream?.getTracks().forEach((tr) => tr.stop());
      if (video.current) video.current.srcObject = null;
      setLive(false);
    };
  }, [active]);

  return (
    <section class="rooms-camera" aria-label={t('roomsCameraCheck')}>
      <div class="rooms-preview">
        <video
          ref={video}
          data-testid="camera-preview"
          data-live={live && active ? '1' : '0'}
          muted
          playsInline
          autoPlay
          aria-label={t('roomsCameraPreview')}
          hidden={!active || !!problem}
        />
        {!active && (
          <div class="rooms-preview-off" aria-hidden="true">
            <Icon name="camera" size={48} />
          </div>
        )}
        {active && problem && (
          <p role="alert" class="rooms-error" data-testid="camera-problem">
            {t(problem.key, { error: problem.error ?? '' })}
          </p>
        )}
      </div>
      {onToggle && (
        <button type="button" onClick={() => onToggle(!active)} aria-pressed={active}>
          {active ? t('roomsCameraOff') : t('roomsCameraOn')}
        </button>
      )}
    </section>
  );
}
