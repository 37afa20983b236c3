// The ringing sound of an incoming call, made with WebAudio (no audio file): two tones of 440 and
// 480 Hz, 1.2 s on, 2.4 s off, until stopped. Returns the stop function.
export function startRinging(): () => void {
  const Ctx = window.AudioContext ?? (window as unknown as { webkitAudioContext?: typeof AudioContext }).webkitAudioContext;
  if (!Ctx) return () => undefined;
  let ctx: AudioContext;
  try {
    ctx = new Ctx();
  } catch {
    return () => undefined;
  }
  const gain = ctx.createGain();
  gain.gain.value = 0;
  gain.connect(ctx.destination);
  const oscs = [440, 480].map((f) => {
    const o = ctx.createOscillator();
    o.frequency.value = f;
    o.connect(gain);
    o.start();
    return o;
  });
  const schedule = () => {
    const now = ctx.currentTime;
    for (let i = 0; i < 10; i++) {
      const at = now + i * 3.6;
      gain.gain.setValueAtTime(0, at);
      gain.gain.linearRampToValueAtTime(0.12, at + 0.05);
      gain.gain.setValueAtTime(0.12, at + 1.15);
      gain.gain.linearRampToValueAtTime(0, at + 1.2);
    }
  };
  schedule();
  const timer = setInterval(schedule, 36000);
  void ctx.resume().catch(() => undefined);
  (window as unknown as { __palaverRinging?: boolean }).__palaverRinging = true;
  return () => {
    clearInterval(timer);
    (window as unknown as { __palaverRinging?: boolean }).__palaverRinging = false;
    oscs.forEach((o) => {
      try {
        o.stop();
      } catch {
        /* stopped */
      }
    });
    void ctx.close().catch(() => undefined);
  };
}
