import { sleep } from '../storage/sleep.js';

/** Waits for `p` at most `ms`; true if the time ran out. The timer is cleared either way (it must not hold the process). */
export async function within(p: Promise<unknown>, ms: number): Promise<boolean> {
  const timer = new AbortController();
  const timedOut = await Promise.race([
    p.then(() => false),
    sleep(ms, timer.signal).then(
      () => true,
      () => false,
    ),
  ]);
  timer.abort();
  return timedOut;
}
