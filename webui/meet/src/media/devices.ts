// Opening the camera for previews, and the known ways it fails (manual §5.1, the issue's "known
// cases"): permission denied, no camera at all, a camera that cannot be opened (in use by another
// app). Pure helpers plus thin wrappers over navigator.mediaDevices; the call engine may use them.
import type { MediaSettings } from './settings';

export type CameraProblem = 'denied' | 'no-camera' | 'in-use' | 'insecure' | 'failed';

/** Maps a getUserMedia error to the case the user is told about (pure). */
export function classifyMediaError(e: unknown): CameraProblem {
  const name = (e as { name?: string })?.name ?? '';
  switch (name) {
    case 'NotAllowedError':
    case 'PermissionDeniedError':
    case 'SecurityError':
      return 'denied';
    case 'NotFoundError':
    case 'DevicesNotFoundError':
    case 'OverconstrainedError':
      return 'no-camera';
    case 'NotReadableError':
    case 'TrackStartError':
    case 'AbortError':
      return 'in-use';
    case 'TypeError':
      return typeof navigator !== 'undefined' && !navigator.mediaDevices ? 'insecure' : 'failed';
    default:
      return 'failed';
  }
}

const widths: Record<MediaSettings['hd'], number> = { 360: 640, 720: 1280, 1080: 1920, 2160: 3840 };

/** Video constraints from the settings: the chosen camera (ideal, so a missing one falls back), the height cap. */
export function videoConstraints(s: Pick<MediaSettings, 'cameraId' | 'hd'>): MediaTrackConstraints {
  return {
    ...(s.cameraId ? { deviceId: { ideal: s.cameraId } } : { facingMode: 'user' }),
    width: { ideal: widths[s.hd] ?? 1280 },
    height: { ideal: s.hd, max: s.hd },
  };
}

export function audioConstraints(s: Pick<MediaSettings, 'micId'>): MediaTrackConstraints | boolean {
  return s.micId ? { deviceId: { ideal: s.micId } } : true;
}

/** Opens the camera (video only) for a preview. Throws the browser's error (see classifyMediaError). */
export async function openCameraPreview(s: MediaSettings): Promise<MediaStream> {
  if (!navigator.mediaDevices?.getUserMedia) throw new TypeError('no mediaDevices');
  return navigator.mediaDevices.getUserMedia({ video: videoConstraints(s), audio: false });
}

/** Asks for camera and microphone at once (the first-use permission prompt), then closes both. */
export async function requestMediaPermission(s: MediaSettings): Promise<void> {
  if (!navigator.mediaDevices?.getUserMedia) throw new TypeError('no mediaDevices');
  const stream = await navigator.mediaDevices.getUserMedia({ video: videoConstraints(s), audio: audioConstraints(s) });
  stopStream(stream);
}

export function stopStream(s: MediaStream | null | undefined): void {
  s?.getTracks().forEach((t) => t.stop());
}

/** The browser's camera permission: 'granted', 'denied', 'prompt', or 'unknown' when it cannot say. */
export async function cameraPermission(): Promise<PermissionState | 'unknown'> {
  try {
    const st = await navigator.permissions.query({ name: 'camera' as PermissionName });
    return st.state;
  } catch {
    return 'unknown';
  }
}

export interface DeviceLists {
  cameras: MediaDeviceInfo[];
  mics: MediaDeviceInfo[];
  speakers: MediaDeviceInfo[];
}

export function splitDevices(all: MediaDeviceInfo[]): DeviceLists {
  const real = (d: MediaDeviceInfo) => d.deviceId !== '' && d.deviceId !== 'default' && d.deviceId !== 'communications';
  return {
    cameras: all.filter((d) => d.kind === 'videoinput' && d.deviceId !== ''),
    mics: all.filter((d) => d.kind === 'audioinput' && real(d)),
    speakers: all.filter((d) => d.kind === 'audiooutput' && real(d)),
  };
}

export async function listDevices(): Promise<DeviceLists> {
  if (!navigator.mediaDevices?.enumerateDevices) return { cameras: [], mics: [], speakers: [] };
  return splitDevices(await navigator.mediaDevices.enumerateDevices());
}

/** Whether audio output can be chosen (HTMLMediaElement.setSinkId). */
export function canChooseSpeaker(): boolean {
  return typeof HTMLMediaElement !== 'undefined' && 'setSinkId' in HTMLMediaElement.prototype;
}

/** Routes an audio/video element to the chosen speaker where the browser can; ignores failures. */
export async function applySpeaker(el: HTMLMediaElement, speakerId: string | undefined): Promise<void> {
  const withSink = el as HTMLMediaElement & { setSinkId?: (id: string) => Promise<void> };
  if (!withSink.setSinkId) return;
  try {
    await withSink.setSinkId(speakerId ?? '');
  } catch {
    /* the device is gone: the default output plays */
  }
}

/** A short 440 Hz tone as WAV bytes (for "play a test sound" through the chosen speaker). */
export function testToneWav(seconds = 0.6, rate = 22050): ArrayBuffer {
  const n = Math.floor(seconds * rate);
  const buf = new ArrayBuffer(44 + n * 2);
  const v = new DataView(buf);
  const str = (o: number, s: string) => [...s].forEach((c, i) => v.setUint8(o + i, c.charCodeAt(0)));
  str(0, 'RIFF');
  v.setUint32(4, 36 + n * 2, true);
  str(8, 'WAVEfmt ');
  v.setUint32(16, 16, true);
  v.setUint16(20, 1, true);
  v.setUint16(22, 1, true);
  v.setUint32(24, rate, true);
  v.setUint32(28, rate * 2, true);
  v.setUint16(32, 2, true);
  v.setUint16(34, 16, true);
  str(36, 'data');
  v.setUint32(40, n * 2, true);
  for (let i = 0; i < n; i++) {
    const fade = Math.min(1, i / 400, (n - i) / 400);
    v.setInt16(44 + i * 2, Math.round(Math.sin((2 * Math.PI * 440 * i) / rate) * 0.3 * fade * 32767), true);
  }
  return buf;
}

/** Plays the test tone on `speakerId` (where the browser can choose); resolves when it ends. */
export async function playTestTone(speakerId: string | undefined): Promise<void> {
  const url = URL.createObjectURL(new Blob([testToneWav()], { type: 'audio/wav' }));
  const el = new Audio();
  try {
    await applySpeaker(el, speakerId);
    el.src = url;
    await el.play();
    await new Promise<void>((res) => {
      el.onended = () => res();
      setTimeout(res, 2000);
    });
  } finally {
    URL.revokeObjectURL(url);
  }
}
