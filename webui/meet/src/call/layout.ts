// Pure choices of the in-call view: who is the active speaker (with hold time, so the big tile
// does not flicker), how tiles are arranged, and connection quality from getStats numbers.
import type { Quality } from './engine';

export interface SpeakerTracker {
  current: string | null;
  since: number;
}

/**
 * The active speaker: the loudest participant over the threshold; a change needs the new one to
 * be loudest and the current one to have held the place for `holdMs`. Silence keeps the last one.
 */
export function chooseSpeaker(t: SpeakerTracker, levels: Record<string, number>, now: number, threshold = 0.02, holdMs = 1500): SpeakerTracker {
  let best: string | null = null;
  let bestLevel = threshold;
  for (const [id, l] of Object.entries(levels)) {
    if (l > bestLevel) {
      best = id;
      bestLevel = l;
    }
  }
  if (t.current !== null && !(t.current in levels)) return { current: best, since: now };
  if (best === null || best === t.current) return t;
  if (t.current === null || now - t.since >= holdMs) return { current: best, since: now };
  return t;
}

export type Layout =
  /** Everyone in an even grid (few participants). */
  | { kind: 'grid'; tiles: string[]; columns: number }
  /** One big tile (active speaker, or a shared screen) and the rest in a strip at the side. */
  | { kind: 'focus'; main: string; screen: boolean; side: string[] };

/**
 * Tiles for the remote participants (ids in join order). A shared screen is always large with the
 * others at the side; with 6 or more participants the active speaker is large; below that, a grid.
 */
export function chooseLayout(ids: readonly string[], speaker: string | null, screenOf: string | null, width = 1280, height = 720): Layout {
  if (screenOf && ids.includes(screenOf)) return { kind: 'focus', main: screenOf, screen: true, side: [...ids] };
  if (ids.length >= 6) {
    const main = speaker && ids.includes(speaker) ? speaker : ids[0];
    return { kind: 'focus', main, screen: false, side: ids.filter((i) => i !== main) };
  }
  return { kind: 'grid', tiles: [...ids], columns: gridColumns(ids.length, width, height) };
}

/** Columns for n 16:9 tiles in a w×h area that make the tiles largest. */
export function gridColumns(n: number, w: number, h: number): number {
  if (n <= 1) return 1;
  let best = 1;
  let bestArea = 0;
  for (let cols = 1; cols <= n; cols++) {
    const rows = Math.ceil(n / cols);
    const tw = Math.min(w / cols, ((h / rows) * 16) / 9);
    if (tw >= bestArea - 0.5) {
      bestArea = tw;
      best = cols;
    }
  }
  return best;
}

export interface StatsSample {
  /** Cumulative counters from inbound-rtp (all kinds). */
  packetsReceived: number;
  packetsLost: number;
  /** Seconds, from the selected candidate pair. */
  rtt?: number;
  /** Seconds, worst inbound jitter. */
  jitter?: number;
}

/** Quality between two samples: loss over the interval, round-trip time and jitter. */
export function qualityOf(prev: StatsSample | undefined, cur: StatsSample, connected: boolean): Quality {
  if (!connected) return 'poor';
  const received = cur.packetsReceived - (prev?.packetsReceived ?? 0);
  const lost = Math.max(0, cur.packetsLost - (prev?.packetsLost ?? 0));
  if (received + lost <= 0 && cur.rtt === undefined) return 'unknown';
  const loss = received + lost > 0 ? lost / (received + lost) : 0;
  const rtt = cur.rtt ?? 0;
  const jitter = cur.jitter ?? 0;
  if (loss > 0.08 || rtt > 0.6 || jitter > 0.1) return 'poor';
  if (loss > 0.02 || rtt > 0.3 || jitter > 0.04) return 'fair';
  return 'good';
}
