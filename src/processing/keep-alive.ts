import { LeaseLostError } from '../storage/errors.js';
import type { FetchedJob } from '../storage/queue.js';

/** A delivery a server holds (waiting for a worker, or running), and when its lease was last taken or extended. */
export interface Kept {
  fetched: FetchedJob;
  since: number;
}

/**
 * Sliding invisibility: a live server keeps its deliveries from being handed to another. One timer
 * per server, not one per job (a timer per job showed in a no-op drain's profile): every third of
 * the invisibility, `tick` extends (extendDue) the deliveries not extended for a period or more, so
 * a delivery's first extension comes between one and two periods after it was fetched, before its
 * invisibility (three periods) lapses. Shared by the server over one storage and the pool.
 */
export class KeepAlive {
  readonly #timer: NodeJS.Timeout;

  constructor(invisibilityTimeoutMs: number, tick: (startedBy: number) => void) {
    const period = Math.max(10, Math.floor(invisibilityTimeoutMs / 3));
    this.#timer = setInterval(() => tick(performance.now() - period), period);
    this.#timer.unref();
  }

  stop(): void {
    clearInterval(this.#timer);
  }
}

/**
 * Extends each delivery of `kept` taken (or, with `restamp`, last extended) before `startedBy`;
 * `onLost` for one another consumer has taken since. Without `restamp` a delivery is extended at
 * every tick once it is a period old, as the server over one storage did for its running jobs.
 */
export function extendDue<T extends Kept>(
  kept: Iterable<T>,
  startedBy: number,
  onLost: (item: T, err: LeaseLostError) => void,
  { restamp = true }: { restamp?: boolean } = {},
): void {
  for (const item of kept) {
    if (item.since > startedBy) continue;
    if (restamp) item.since = performance.now();
    item.fetched.extend().catch((err: unknown) => {
      if (err instanceof LeaseLostError) onLost(item, err);
    });
  }
}
