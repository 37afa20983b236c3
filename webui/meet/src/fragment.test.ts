import { beforeEach, describe, expect, it } from 'vitest';
import { initialFragment, parseFragment, rememberGuestFragment, resetFragmentForTests, takeFragment } from './fragment';

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

describe('takeFragment', () => {
  beforeEach(() => {
    resetFragmentForTests();
    sessionStorage.clear();
  });

  it('reads the fragment once and removes it from the address bar without a new history entry', () => {
    history.replaceState(null, '', '/meet/r/group/public/lobby?x=1#guest=1&name=Gina&token=t0k&auto=2');
    const entries = history.length;
    expect(takeFragment()).toBe('#guest=1&name=Gina&token=t0k&auto=2');
    expect(location.hash).toBe('');
    expect(location.pathname + location.search).toBe('/meet/r/group/public/lobby?x=1');
    expect(history.length).toBe(entries);
    expect(takeFragment()).toBe('#guest=1&name=Gina&token=t0k&auto=2'); // read once: the same later
    expect(initialFragment()).toBe('#guest=1&name=Gina&token=t0k&auto=2');
  });

  it("leaves the original Meet's sign-in answer alone", () => {
    history.replaceState(null, '', '/meet/#oidc-callback&code=c0de&state=s');
    expect(takeFragment()).toBe('');
    expect(location.hash).toBe('#oidc-callback&code=c0de&state=s');
  });

  it("a reload of a guest's room finds the guest's parameters in this tab, for that room only", () => {
    rememberGuestFragment('/meet/r/group/public/lobby', '#guest=1&name=Gina');
    history.replaceState(null, '', '/meet/r/group/public/lobby');
    expect(takeFragment()).toBe('#guest=1&name=Gina');
    resetFragmentForTests();
    history.replaceState(null, '', '/meet/r/group/public/other');
    expect(takeFragment()).toBe('');
  });
});
