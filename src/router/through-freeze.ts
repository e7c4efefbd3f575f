import { UnitFrozenError } from '../storage/errors.js';
import { sleep } from '../storage/sleep.js';

/** While a unit is frozen, a call is tried again this often (a freeze ends by a flip or a thaw, usually within ms). */
const FROZEN_POLL_MS = 20;

/** The wait before a frozen unit's call goes again: a poll, cut short by the freeze's end or the caller's deadline. */
export function freezePause(err: UnitFrozenError, deadline: number): Promise<void> {
  const now = Date.now();
  return sleep(Math.max(1, Math.min(FROZEN_POLL_MS, err.until - now, deadline - now)));
}

/**
 * Runs `call` again while its shard answers `frozen`, for up to `waitMs`, as a lane does for the
 * calls it routes. For the calls that go straight to the shard holding a grant (a fetched job's
 * ack, extend and requeue; a held lock's extend and release): during a move's last copy they
 * wait it out instead of failing, and a `moved` answer comes back to the caller as usual.
 */
export async function throughFreeze<T>(call: () => Promise<T>, waitMs: number): Promise<T> {
  const deadline = Date.now() + waitMs;
  for (;;) {
    try {
      return await call();
    } catch (err) {
      if (!(err instanceof UnitFrozenError) || Date.now() >= deadline) throw err;
      await freezePause(err, deadline);
    }
  }
}
