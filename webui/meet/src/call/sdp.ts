// SDP tuning as the original Meet does it (config.json `kwm.sdpParams` / `kwm.sdpParamsScreenshare`,
// spec kopano-services.md §4.2): bandwidth caps (`b=AS`, `b=TIAS`) per video m-section and Opus
// FEC/DTX/stereo in the fmtp line. Pure string functions.

export interface SdpParams {
  videoSendBitrate?: number; // kbit/s
  videoRecvBitrate?: number;
  audioSendBitrate?: number;
  audioRecvBitrate?: number;
  videoSendCodec?: string;
  videoRecvCodec?: string;
  opusFec?: boolean;
  opusDtx?: boolean;
  opusStereo?: boolean;
  opusSpropStereo?: boolean;
  opusMaxPbr?: number;
}

export const defaultSdpParams: SdpParams = { videoSendBitrate: 1000, videoRecvCodec: 'VP8', opusFec: true, opusDtx: true };
export const defaultScreenshareSdpParams: SdpParams = { videoSendBitrate: 2500, videoRecvCodec: 'VP9', opusFec: true, opusDtx: true };

/** Reads the config.json objects (unknown keys and wrong types are dropped). */
export function sdpParamsFrom(raw: Record<string, unknown> | undefined, defaults: SdpParams): SdpParams {
  const out: SdpParams = { ...defaults };
  if (!raw) return out;
  for (const k of ['videoSendBitrate', 'videoRecvBitrate', 'audioSendBitrate', 'audioRecvBitrate', 'opusMaxPbr'] as const) {
    const v = raw[k];
    if (typeof v === 'number' && v > 0) out[k] = v;
  }
  for (const k of ['opusFec', 'opusDtx', 'opusStereo', 'opusSpropStereo'] as const) {
    if (typeof raw[k] === 'boolean') out[k] = raw[k] as boolean;
  }
  for (const k of ['videoSendCodec', 'videoRecvCodec'] as const) {
    if (typeof raw[k] === 'string') out[k] = raw[k] as string;
  }
  return out;
}

interface Section {
  lines: string[];
}

function split(sdp: string): { head: string[]; sections: Section[] } {
  const lines = sdp.split(/\r\n|\n/).filter((l, i, a) => l !== '' || i < a.length - 1);
  const head: string[] = [];
  const sections: Section[] = [];
  for (const l of lines) {
    if (l.startsWith('m=')) sections.push({ lines: [l] });
    else if (sections.length) sections[sections.length - 1].lines.push(l);
    else head.push(l);
  }
  return { head, sections };
}

function join(head: string[], sections: Section[]): string {
  return [...head, ...sections.flatMap((s) => s.lines)].filter((l) => l !== '').join('\r\n') + '\r\n';
}

function kind(s: Section): string {
  return s.lines[0].slice(2).split(' ')[0];
}

function mid(s: Section): string | undefined {
  return s.lines.find((l) => l.startsWith('a=mid:'))?.slice(6);
}

/** Sets `b=AS:<kbps>` and `b=TIAS:<bps>` in a section (after c=, replacing old ones). */
function setBandwidth(s: Section, kbps: number): void {
  s.lines = s.lines.filter((l) => !l.startsWith('b=AS:') && !l.startsWith('b=TIAS:'));
  let at = s.lines.findIndex((l) => l.startsWith('c='));
  at = at < 0 ? 1 : at + 1;
  s.lines.splice(at, 0, `b=AS:${Math.round(kbps)}`, `b=TIAS:${Math.round(kbps * 1000)}`);
}

/** Adds or replaces fmtp parameters of one payload type. */
function setFmtp(s: Section, pt: string, params: Record<string, string | number>): void {
  const i = s.lines.findIndex((l) => l.startsWith(`a=fmtp:${pt} `));
  const current = new Map<string, string>();
  if (i >= 0) {
    for (const kv of s.lines[i].slice(`a=fmtp:${pt} `.length).split(';')) {
      const [k, v] = kv.split('=');
      if (k.trim()) current.set(k.trim(), (v ?? '').trim());
    }
  }
  for (const [k, v] of Object.entries(params)) current.set(k, String(v));
  const line = `a=fmtp:${pt} ` + [...current].map(([k, v]) => `${k}=${v}`).join(';');
  if (i >= 0) s.lines[i] = line;
  else {
    const rtpmap = s.lines.findIndex((l) => l.startsWith(`a=rtpmap:${pt} `));
    s.lines.splice(rtpmap >= 0 ? rtpmap + 1 : s.lines.length, 0, line);
  }
}

function opusPt(s: Section): string | undefined {
  const l = s.lines.find((x) => /^a=rtpmap:\d+ opus\/48000/i.test(x));
  return l ? l.slice(9).split(' ')[0] : undefined;
}

export interface MungeOptions {
  /** kbit/s cap per video mid (what this side may send when applied to the remote description). */
  videoKbps?: Record<string, number>;
  audioKbps?: number;
  opus?: SdpParams;
}

/**
 * Tunes an SDP: bandwidth lines for the given video mids and the audio section, and Opus
 * `useinbandfec`/`usedtx`/`stereo`/`sprop-stereo`/`maxplaybackrate` from the params.
 * Applied to the remote description it caps what this browser sends; applied to the local
 * description (Opus fmtp) it asks the other side to send FEC and DTX.
 */
export function mungeSdp(sdp: string, o: MungeOptions): string {
  const { head, sections } = split(sdp);
  for (const s of sections) {
    const k = kind(s);
    const m = mid(s);
    if (k === 'video' && m !== undefined && o.videoKbps?.[m]) setBandwidth(s, o.videoKbps[m]);
    if (k === 'audio') {
      if (o.audioKbps) setBandwidth(s, o.audioKbps);
      const pt = opusPt(s);
      if (pt && o.opus) {
        const p: Record<string, string | number> = {};
        if (o.opus.opusFec !== undefined) p.useinbandfec = o.opus.opusFec ? 1 : 0;
        if (o.opus.opusDtx !== undefined) p.usedtx = o.opus.opusDtx ? 1 : 0;
        if (o.opus.opusStereo) p.stereo = 1;
        if (o.opus.opusSpropStereo) p['sprop-stereo'] = 1;
        if (o.opus.opusMaxPbr) p.maxplaybackrate = o.opus.opusMaxPbr;
        if (Object.keys(p).length) setFmtp(s, pt, p);
      }
    }
  }
  return join(head, sections);
}

/** Orders codecs so that `preferred` (e.g. "VP8") comes first; for setCodecPreferences. */
export function preferCodec<T extends { mimeType: string }>(codecs: readonly T[], preferred: string | undefined): T[] {
  if (!preferred) return [...codecs];
  const want = `video/${preferred}`.toLowerCase();
  return [...codecs.filter((c) => c.mimeType.toLowerCase() === want), ...codecs.filter((c) => c.mimeType.toLowerCase() !== want)];
}

/** The mids of the m-sections in order (media and data). */
export function sectionMids(sdp: string): string[] {
  return split(sdp).sections.map((s) => mid(s) ?? '');
}
