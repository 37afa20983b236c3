import { describe, expect, it } from 'vitest';
import { classifyMediaError, splitDevices, testToneWav, videoConstraints } from './devices';

const err = (name: string) => Object.assign(new Error(name), { name });

describe('media devices', () => {
  it('tells the known camera cases apart', () => {
    expect(classifyMediaError(err('NotAllowedError'))).toBe('denied');
    expect(classifyMediaError(err('SecurityError'))).toBe('denied');
    expect(classifyMediaError(err('NotFoundError'))).toBe('no-camera');
    expect(classifyMediaError(err('NotReadableError'))).toBe('in-use');
    expect(classifyMediaError(err('AbortError'))).toBe('in-use');
    expect(classifyMediaError(err('Weird'))).toBe('failed');
  });
  it('builds constraints from the settings', () => {
    expect(videoConstraints({ hd: 720 })).toEqual({ facingMode: 'user', width: { ideal: 1280 }, height: { ideal: 720, max: 720 } });
    expect(videoConstraints({ cameraId: 'cam2', hd: 360 })).toMatchObject({ deviceId: { ideal: 'cam2' }, height: { max: 360 } });
  });
  it('splits device lists, leaving out the default aliases', () => {
    const d = (kind: MediaDeviceKind, deviceId: string) => ({ kind, deviceId, label: deviceId, groupId: '' }) as MediaDeviceInfo;
    const s = splitDevices([d('videoinput', 'c1'), d('audioinput', 'default'), d('audioinput', 'm1'), d('audiooutput', 'communications'), d('audiooutput', 's1'), d('videoinput', '')]);
    expect(s.cameras.map((x) => x.deviceId)).toEqual(['c1']);
    expect(s.mics.map((x) => x.deviceId)).toEqual(['m1']);
    expect(s.speakers.map((x) => x.deviceId)).toEqual(['s1']);
  });
  it('makes a valid WAV test tone', async () => {
    const wav = new Uint8Array(testToneWav(0.1, 8000));
    expect(String.fromCharCode(...wav.slice(0, 4))).toBe('RIFF');
    expect(String.fromCharCode(...wav.slice(8, 12))).toBe('WAVE');
    expect(wav.length).toBe(44 + 800 * 2);
  });
});
