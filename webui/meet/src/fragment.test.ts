import { describe, expect, it } from 'vitest';
import { parseFragment } from './fragment';

describe('parseFragment', () => {
  it('reads the manual §4.1 parameters combined with &', () => {
    const p = parseFragment('#guest=1&name=Jane%20Doe&auto=2&mute=3');
    expect(p).toMatchObject({ guest: true, name: 'Jane Doe', auto: 2, muteMic: true, muteCam: true });
  });
  it('mute is a bit mask: 1 microphone, 2 camera', () => {
    expect(parseFragment('#mute=1')).toMatchObject({ muteMic: true, muteCam: false });
    expect(parseFragment('#mute=2')).toMatchObject({ muteMic: false, muteCam: true });
    expect(parseFragment('#mute=x')).toMatchObject({ muteMic: false, muteCam: false });
  });
  it('auto accepts only 1 and 2', () => {
    expect(parseFragment('#auto=1').auto).toBe(1);
    expect(parseFragment('#auto=3').auto).toBeUndefined();
  });
  it('hd and stereo as the original', () => {
    expect(parseFragment('').hd).toBe(720);
    expect(parseFragment('#hd=2').hd).toBe(1080);
    expect(parseFragment('#hd=360p').hd).toBe(360);
    expect(parseFragment('#hd=bogus').hd).toBe(720);
    expect(parseFragment('#stereo').stereo).toBe(true);
    expect(parseFragment('#guest=0').guest).toBe(false);
  });
});
