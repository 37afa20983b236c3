// Local media for a call: camera and microphone per the media settings (devices, HD, stereo,
// audio-only), with the manual's failure cases turned into message keys of the call feature.
import type { MediaSettings } from '../media/settings';

export interface LocalMedia {
  stream: MediaStream | null;
  /** Message key when something is missing: cameraDenied, noCamera, micDenied, noDevices. */
  problem?: 'cameraDenied' | 'noCamera' | 'cameraInUse' | 'noDevices';
}

export function constraints(s: MediaSettings, hd: number, stereo: boolean, video: boolean): MediaStreamConstraints {
  const audio: MediaTrackConstraints = { echoCancellation: true, noiseSuppression: true, autoGainControl: true };
  if (s.micId) audio.deviceId = { exact: s.micId };
  if (stereo) audio.channelCount = 2;
  if (!video || s.audioOnly) return { audio, video: false };
  const h = Math.min(hd, s.hd);
  const v: MediaTrackConstraints = { height: { ideal: h }, width: { ideal: Math.round((h * 16) / 9) }, frameRate: { ideal: 30, max: 30 } };
  if (s.cameraId) v.deviceId = { exact: s.cameraId };
  else v.facingMode = 'user';
  return { audio, video: v };
}

function errName(e: unknown): string {
  return e instanceof Error ? e.name : String(e);
}

/** Opens camera and microphone; falls back to the microphone alone, then to nothing (receive only). */
export async function openLocalMedia(s: MediaSettings, hd: number, stereo: boolean, video: boolean): Promise<LocalMedia> {
  const md = navigator.mediaDevices;
  if (!md?.getUserMedia) return { stream: null, problem: 'noDevices' };
  const c = constraints(s, hd, stereo, video);
  try {
    return { stream: await md.getUserMedia(c) };
  } catch (e) {
    const name = errName(e);
    // A chosen device that is gone: try the defaults once.
    if ((name === 'OverconstrainedError' || name === 'NotFoundError') && (s.cameraId || s.micId)) {
      try {
        return { stream: await md.getUserMedia(constraints({ ...s, cameraId: undefined, micId: undefined }, hd, stereo, video)) };
      } catch {
        /* fall through */
      }
    }
    if (!c.video) return { stream: null, problem: name === 'NotAllowedError' ? 'cameraDenied' : 'noDevices' };
    const problem = name === 'NotAllowedError' ? 'cameraDenied' : name === 'NotReadableError' ? 'cameraInUse' : 'noCamera';
    try {
      return { stream: await md.getUserMedia({ audio: c.audio, video: false }), problem };
    } catch {
      return { stream: null, problem: problem === 'cameraDenied' ? 'cameraDenied' : 'noDevices' };
    }
  }
}

/** Screen sharing is offered where the Screen Capture API exists (not on phones). */
export function screenShareSupported(): boolean {
  return typeof navigator !== 'undefined' && !!navigator.mediaDevices && 'getDisplayMedia' in navigator.mediaDevices;
}
