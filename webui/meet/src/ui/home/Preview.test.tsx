// The preview's known cases in jsdom with a stand-in mediaDevices (the browser test covers "denied"
// in Chromium): first use explains before asking, and each failure gets its message and a way on.
import { afterEach, describe, expect, it, vi } from 'vitest';
import { render } from 'preact';
import { act } from 'preact/test-utils';
import { Preview } from './Preview';
import { defaultMediaSettings } from '../../media/settings';

const flush = async () => {
  for (let i = 0; i < 5; i++) await act(() => new Promise((r) => setTimeout(r, 0)));
};

function setup(permission: string, getUserMedia: (c: MediaStreamConstraints) => Promise<MediaStream>) {
  const calls: MediaStreamConstraints[] = [];
  vi.stubGlobal('navigator', {
    ...navigator,
    permissions: { query: async () => ({ state: permission }) },
    mediaDevices: { getUserMedia: (c: MediaStreamConstraints) => (calls.push(c), getUserMedia(c)) },
  });
  const root = document.createElement('div');
  document.body.appendChild(root);
  roots.push(root);
  return { root, calls };
}

const roots: HTMLElement[] = [];
const mount = (el: preact.VNode, root: HTMLElement) => act(() => render(el, root));

const fail = (name: string) => () => Promise.reject(Object.assign(new Error(name), { name }));
const fakeStream = () => Promise.resolve({ getTracks: () => [{ stop() {} }] } as unknown as MediaStream);

afterEach(() => {
  roots.splice(0).forEach((r) => render(null, r));
  vi.unstubAllGlobals();
  document.body.innerHTML = '';
});

describe('Preview', () => {
  it('explains the permission prompt first, then asks for camera and microphone', async () => {
    const { root, calls } = setup('prompt', fakeStream);
    await mount(<Preview settings={defaultMediaSettings} />, root);
    await flush();
    expect(root.querySelector('[data-state]')!.getAttribute('data-state')).toBe('explain');
    expect(root.textContent).toContain('choose “Allow”');
    expect(calls.length).toBe(0);
    await act(() => (root.querySelector('button') as HTMLButtonElement).click());
    await flush();
    expect(calls[0]).toMatchObject({ audio: true });
    expect(calls[0].video).toBeTruthy();
    expect(root.querySelector('[data-state]')!.getAttribute('data-state')).toBe('live');
  });

  it.each([
    ['NotFoundError', 'no-camera', 'No camera found'],
    ['NotReadableError', 'in-use', 'another application may be using it'],
    ['NotAllowedError', 'denied', 'Camera access is blocked'],
  ])('%s: says so and offers a retry and the settings', async (error, state, text) => {
    const onSettings = vi.fn();
    const { root, calls } = setup('granted', fail(error));
    await mount(<Preview settings={defaultMediaSettings} onSettings={onSettings} />, root);
    await flush();
    expect(root.querySelector('[data-state]')!.getAttribute('data-state')).toBe(state);
    expect(root.querySelector('[role=alert]')!.textContent).toContain(text);
    const [retry, settings] = [...root.querySelectorAll('[role=alert] button')] as HTMLButtonElement[];
    await act(() => retry.click());
    await flush();
    expect(calls.length).toBe(2);
    settings.click();
    expect(onSettings).toHaveBeenCalled();
  });

  it('audio-only mode does not open the camera', async () => {
    const { root, calls } = setup('granted', fakeStream);
    await mount(<Preview settings={{ ...defaultMediaSettings, audioOnly: true }} />, root);
    await flush();
    expect(root.querySelector('[data-state]')!.getAttribute('data-state')).toBe('audio-only');
    expect(calls.length).toBe(0);
  });
});

describe('Preview in the background', () => {
  it('a camera that opens after the app went to the background is stopped at once', async () => {
    let open: (s: MediaStream) => void = () => undefined;
    const stopped: string[] = [];
    const { root } = setup('granted', () => new Promise<MediaStream>((r) => (open = r)));
    await mount(<Preview settings={defaultMediaSettings} />, root);
    await flush();
    const vis = vi.spyOn(document, 'visibilityState', 'get').mockReturnValue('hidden');
    document.dispatchEvent(new Event('visibilitychange'));
    await act(() => open({ getTracks: () => [{ stop: () => stopped.push('cam') }] } as unknown as MediaStream));
    await flush();
    expect(stopped).toEqual(['cam']);
    expect(root.querySelector('[data-state]')!.getAttribute('data-state')).toBe('idle');
    vis.mockRestore();
  });
});
