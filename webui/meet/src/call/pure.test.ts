import { describe, expect, it } from 'vitest';
import { defaultSdpParams, mungeSdp, preferCodec, sdpParamsFrom } from './sdp';
import { chooseLayout, chooseSpeaker, gridColumns, qualityOf } from './layout';

const offer = [
  'v=0',
  'o=- 1 2 IN IP4 127.0.0.1',
  's=-',
  't=0 0',
  'a=group:BUNDLE 0 1 2',
  'm=audio 9 UDP/TLS/RTP/SAVPF 111 63',
  'c=IN IP4 0.0.0.0',
  'a=mid:0',
  'a=rtpmap:111 opus/48000/2',
  'a=fmtp:111 minptime=10;useinbandfec=0',
  'm=video 9 UDP/TLS/RTP/SAVPF 96',
  'c=IN IP4 0.0.0.0',
  'b=AS:30',
  'a=mid:1',
  'a=rtpmap:96 VP8/90000',
  'm=video 9 UDP/TLS/RTP/SAVPF 96',
  'c=IN IP4 0.0.0.0',
  'a=mid:2',
  'a=rtpmap:96 VP8/90000',
  '',
].join('\r\n');

describe('SDP munging', () => {
  it('caps each video section and turns on Opus FEC and DTX', () => {
    const out = mungeSdp(offer, { videoKbps: { '1': 1000, '2': 2500 }, opus: defaultSdpParams });
    const lines = out.split('\r\n');
    expect(lines).toContain('a=fmtp:111 minptime=10;useinbandfec=1;usedtx=1');
    const v1 = lines.indexOf('a=mid:1');
    expect(lines.slice(v1 - 3, v1)).toEqual(['c=IN IP4 0.0.0.0', 'b=AS:1000', 'b=TIAS:1000000']);
    expect(lines.filter((l) => l === 'b=AS:30')).toEqual([]);
    const v2 = lines.indexOf('a=mid:2');
    expect(lines[v2 - 2]).toBe('b=AS:2500');
    expect(out.endsWith('\r\n')).toBe(true);
    expect(lines.indexOf('m=audio 9 UDP/TLS/RTP/SAVPF 111 63')).toBe(5);
  });

  it('adds an fmtp line when there is none, and stereo on request', () => {
    const sdp = offer.replace('a=fmtp:111 minptime=10;useinbandfec=0\r\n', '');
    const out = mungeSdp(sdp, { opus: { opusFec: true, opusDtx: false, opusStereo: true, opusMaxPbr: 48000 } });
    expect(out).toContain('a=rtpmap:111 opus/48000/2\r\na=fmtp:111 useinbandfec=1;usedtx=0;stereo=1;maxplaybackrate=48000\r\n');
  });

  it('reads config.json sdpParams over the defaults', () => {
    expect(sdpParamsFrom({ videoSendBitrate: 300, opusDtx: false, bogus: 1, videoRecvBitrate: 'x' }, defaultSdpParams)).toEqual({ ...defaultSdpParams, videoSendBitrate: 300, opusDtx: false });
    expect(preferCodec([{ mimeType: 'video/VP8' }, { mimeType: 'video/VP9' }], 'VP9').map((c) => c.mimeType)).toEqual(['video/VP9', 'video/VP8']);
  });
});

describe('layout', () => {
  it('keeps the active speaker for the hold time and through silence', () => {
    let t = { current: null as string | null, since: 0 };
    t = chooseSpeaker(t, { a: 0.3, b: 0.1 }, 0);
    expect(t.current).toBe('a');
    t = chooseSpeaker(t, { a: 0.01, b: 0.5 }, 1000);
    expect(t.current).toBe('a'); // held
    t = chooseSpeaker(t, { a: 0.01, b: 0.5 }, 1600);
    expect(t.current).toBe('b');
    t = chooseSpeaker(t, { a: 0, b: 0 }, 5000);
    expect(t.current).toBe('b'); // silence keeps
    t = chooseSpeaker(t, { a: 0 }, 5100);
    expect(t.current).toBe(null); // b left
  });

  it('grid below 6, speaker large from 6, screen always large', () => {
    expect(chooseLayout(['a', 'b'], 'b', null)).toEqual({ kind: 'grid', tiles: ['a', 'b'], columns: 2 });
    expect(chooseLayout(['a', 'b', 'c', 'd', 'e', 'f'], 'c', null)).toEqual({ kind: 'focus', main: 'c', screen: false, side: ['a', 'b', 'd', 'e', 'f'] });
    expect(chooseLayout(['a', 'b', 'c', 'd', 'e', 'f'], null, null)).toMatchObject({ main: 'a' });
    expect(chooseLayout(['a', 'b'], 'a', 'b')).toEqual({ kind: 'focus', main: 'b', screen: true, side: ['a', 'b'] });
    expect(gridColumns(4, 1280, 720)).toBe(2);
    expect(gridColumns(3, 400, 800)).toBe(1); // phone portrait: one column
  });

  it('quality from loss, rtt and jitter', () => {
    expect(qualityOf(undefined, { packetsReceived: 0, packetsLost: 0 }, true)).toBe('unknown');
    expect(qualityOf({ packetsReceived: 100, packetsLost: 0 }, { packetsReceived: 300, packetsLost: 1, rtt: 0.05 }, true)).toBe('good');
    expect(qualityOf({ packetsReceived: 100, packetsLost: 0 }, { packetsReceived: 300, packetsLost: 8, rtt: 0.05 }, true)).toBe('fair');
    expect(qualityOf({ packetsReceived: 100, packetsLost: 0 }, { packetsReceived: 300, packetsLost: 40 }, true)).toBe('poor');
    expect(qualityOf(undefined, { packetsReceived: 10, packetsLost: 0, rtt: 0.9 }, true)).toBe('poor');
    expect(qualityOf(undefined, { packetsReceived: 10, packetsLost: 0 }, false)).toBe('poor');
  });
});
