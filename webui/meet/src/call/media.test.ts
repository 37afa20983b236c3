import { afterEach, describe, expect, it, vi } from 'vitest';
import { constraints, openLocalMedia, screenShareSupported } from './media';

function err(name: string) {
  const e = new Error(name);
  e.name = name;
  return e;
}

function stubDevices(impl: (c: MediaStreamConstraints) => Promise<unknown>, extra: Record<string, unknown> = {}) {
  const calls: MediaStreamConstraints[] = [];
  vi.stubGlobal('navigator', { mediaDevices: { getUserMedia: (c: MediaStreamConstraints) => (calls.push(c), impl(c)), ...extra } });
  return calls;
}

afterEach(() => vi.unstubAllGlobals());

describe('local media', () => {
  it('asks for the chosen devices, HD height and stereo; audio-only asks for no video', () => {
    const c = constraints({ audioOnly: false, hd: 1080, cameraId: 'cam1', micId: 'mic1' }, 720, true, true);
    expect(c.audio).toMatchObject({ deviceId: { exact: 'mic1' }, channelCount: 2 });
    expect(c.video).toMatchObject({ deviceId: { exact: 'cam1' }, height: { ideal: 720 } });
    expect(constraints({ audioOnly: true, hd: 720 }, 720, false, true).video).toBe(false);
    expect(constraints({ audioOnly: false, hd: 720 }, 720, false, false).video).toBe(false);
  });

  it('camera denied is said so, and the call goes on without media', async () => {
    stubDevices(() => Promise.reject(err('NotAllowedError')));
    expect(await openLocalMedia({ audioOnly: false, hd: 720 }, 720, false, true)).toEqual({ stream: null, problem: 'cameraDenied' });
  });

  it('no camera: audio only with a notice', async () => {
    const calls = stubDevices((c) => (c.video ? Promise.reject(err('NotFoundError')) : Promise.resolve('audio-stream')));
    expect(await openLocalMedia({ audioOnly: false, hd: 720 }, 720, false, true)).toEqual({ stream: 'audio-stream', problem: 'noCamera' });
    expect(calls.length).toBe(2);
  });

  it('a camera in use by another program: audio only with its own notice', async () => {
    stubDevices((c) => (c.video ? Promise.reject(err('NotReadableError')) : Promise.resolve('a')));
    expect((await openLocalMedia({ audioOnly: false, hd: 720 }, 720, false, true)).problem).toBe('cameraInUse');
  });

  it('a chosen device that is gone falls back to the defaults', async () => {
    const calls = stubDevices((c) => ((c.video as MediaTrackConstraints).deviceId ? Promise.reject(err('OverconstrainedError')) : Promise.resolve('s')));
    expect(await openLocalMedia({ audioOnly: false, hd: 720, cameraId: 'gone' }, 720, false, true)).toEqual({ stream: 's' });
    expect(calls.length).toBe(2);
  });

  it('screen sharing only where getDisplayMedia exists', () => {
    stubDevices(() => Promise.resolve(null));
    expect(screenShareSupported()).toBe(false);
    stubDevices(() => Promise.resolve(null), { getDisplayMedia: () => null });
    expect(screenShareSupported()).toBe(true);
  });
});
