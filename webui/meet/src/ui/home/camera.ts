// The camera preview's state machine as a hook: asks (after explaining) when the browser has not
// decided yet, opens the camera per the media settings, and names the known failures.
import { useCallback, useEffect, useRef, useState } from 'preact/hooks';
import { cameraPermission, classifyMediaError, openCameraPreview, requestMediaPermission, stopStream, type CameraProblem } from '../../media/devices';
import type { MediaSettings } from '../../media/settings';

export type CameraState =
  | { kind: 'idle' }
  | { kind: 'explain' }
  | { kind: 'starting' }
  | { kind: 'live'; stream: MediaStream }
  | { kind: 'audio-only' }
  | { kind: 'problem'; problem: CameraProblem; error: string };

export function useCamera(settings: MediaSettings, opts: { explainFirst: boolean }) {
  const [state, setState] = useState<CameraState>({ kind: 'idle' });
  const [attempt, setAttempt] = useState(0);
  const [asked, setAsked] = useState(false);
  const current = useRef<MediaStream | null>(null);

  useEffect(() => {
    let live = true;
    const fail = (e: unknown) =>
      live && setState({ kind: 'problem', problem: classifyMediaError(e), error: e instanceof Error ? `${e.name}: ${e.message}` : String(e) });
    void (async () => {
      if (settings.audioOnly) {
        setState({ kind: 'audio-only' });
        return;
      }
      const perm = await cameraPermission();
      if (!live) return;
      if (perm === 'denied') {
        setState({ kind: 'problem', problem: 'denied', error: 'NotAllowedError' });
        return;
      }
      if (perm === 'prompt' && opts.explainFirst && !asked) {
        setState({ kind: 'explain' });
        return;
      }
      setState({ kind: 'starting' });
      try {
        if (perm === 'prompt') await requestMediaPermission(settings);
        const s = await openCameraPreview(settings);
        if (!live) {
          stopStream(s);
          return;
        }
        // The app went to the background while the camera opened: its light must not stay on.
        if (document.visibilityState === 'hidden') {
          stopStream(s);
          setState({ kind: 'idle' });
          return;
        }
        current.current = s;
        setState({ kind: 'live', stream: s });
      } catch (e) {
        fail(e);
      }
    })();
    return () => {
      live = false;
      stopStream(current.current);
      current.current = null;
    };
  }, [settings.cameraId, settings.hd, settings.audioOnly, attempt, asked, opts.explainFirst]);

  // The camera light goes off while the app is in the background.
  useEffect(() => {
    const vis = () => {
      if (document.visibilityState === 'hidden' && current.current) {
        stopStream(current.current);
        current.current = null;
        setState({ kind: 'idle' });
      } else if (document.visibilityState === 'visible') setAttempt((n) => n + 1);
    };
    document.addEventListener('visibilitychange', vis);
    return () => document.removeEventListener('visibilitychange', vis);
  }, []);

  const retry = useCallback(() => setAttempt((n) => n + 1), []);
  const allow = useCallback(() => setAsked(true), []);
  return { state, retry, allow };
}
