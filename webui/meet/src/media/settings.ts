// The user's media settings, kept in this browser (localStorage), as the original keeps them:
// devices, audio-only mode, camera resolution. The settings dialog edits them; the call engine
// reads them when it opens devices. Applied on "Done" (save), not while the dialog is open.
export interface MediaSettings {
  cameraId?: string;
  micId?: string;
  speakerId?: string;
  /** No video in or out and no screen sharing (metered connections). */
  audioOnly: boolean;
  /** Maximum camera height (fragment `hd` overrides it for one visit). */
  hd: 360 | 720 | 1080 | 2160;
}

const KEY = 'palaver.meet.media';
export const defaultMediaSettings: MediaSettings = { audioOnly: false, hd: 720 };

let current: MediaSettings = load();
const listeners = new Set<(s: MediaSettings) => void>();

function load(): MediaSettings {
  try {
    const raw = JSON.parse(localStorage.getItem(KEY) ?? '{}') as Partial<MediaSettings>;
    return { ...defaultMediaSettings, ...raw };
  } catch {
    return { ...defaultMediaSettings };
  }
}

export function mediaSettings(): MediaSettings {
  return current;
}

export function saveMediaSettings(next: MediaSettings): void {
  current = { ...next };
  try {
    localStorage.setItem(KEY, JSON.stringify(current));
  } catch {
    /* storage full or private mode: the settings last for this page */
  }
  listeners.forEach((l) => l(current));
}

export function onMediaSettings(fn: (s: MediaSettings) => void): () => void {
  listeners.add(fn);
  return () => void listeners.delete(fn);
}
