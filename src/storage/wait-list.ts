/**
 * The fetches waiting on one set of queues, and which of them a wake-up is for.
 *
 * A wake-up ("work may have arrived") rings one sleeping waiter, not all of them:
 * with 32 idle workers, one job used to send all 32 to fetch at once, and the
 * winner's reply queued behind the losers' (enqueue-to-start p50 3.5 ms with 32
 * idle workers vs 1.8 ms with one, on Redis). A waiter that gets a job rings two
 * more, since more may be there, so a burst reaches every waiter in a few rounds.
 *
 * No wake-up may be lost. A wake-up that finds no one asleep (every waiter is
 * fetching right now) marks one fetching waiter to look again, since its attempt
 * may have been read before the work arrived. A waiter that leaves without
 * fetching (aborted) passes its wake-up on. The poll timer bounds anything else.
 */
export class WaitList {
  readonly #subscribe: (wake: () => void) => () => void;
  readonly #sleeping: Waiter[] = [];
  readonly #fetching = new Set<Waiter>();
  #unsubscribe: (() => void) | null = null;

  constructor(subscribe: (wake: () => void) => () => void) {
    this.#subscribe = subscribe;
  }

  /** A new waiter, counted as fetching. The list subscribes to wake-ups before its first member's attempt. */
  join(): Waiter {
    this.#unsubscribe ??= this.#subscribe(() => this.wake(1));
    const w = new Waiter(this.#sleeping, this.#fetching);
    this.#fetching.add(w);
    return w;
  }

  leave(w: Waiter): void {
    this.#fetching.delete(w);
    const i = this.#sleeping.indexOf(w);
    if (i >= 0) this.#sleeping.splice(i, 1);
    if (this.#fetching.size === 0 && this.#sleeping.length === 0) {
      this.#unsubscribe?.();
      this.#unsubscribe = null;
    }
  }

  /** Rings up to n sleepers, longest asleep first; what is left over marks fetching waiters to look again. */
  wake(n: number): void {
    let left = n;
    while (left > 0 && this.#sleeping.length > 0) {
      this.#sleeping.shift()!.ring();
      left--;
    }
    for (const w of this.#fetching) {
      if (left === 0) break;
      if (w.again) continue;
      w.again = true;
      left--;
    }
  }
}

export class Waiter {
  /** Set when a wake-up arrived during this waiter's attempt: it looks again instead of sleeping. */
  again = false;
  #ring: (() => void) | null = null;

  constructor(
    readonly sleeping: Waiter[],
    readonly fetching: Set<Waiter>,
  ) {}

  /** Sleeps until rung or ms pass (or end() is called); then counts as fetching again. */
  async sleep(ms: number): Promise<void> {
    this.fetching.delete(this);
    this.sleeping.push(this);
    await new Promise<void>((resolve) => {
      const timer = setTimeout(() => this.ring(), ms);
      this.#ring = () => {
        clearTimeout(timer);
        this.#ring = null;
        resolve();
      };
    });
    const i = this.sleeping.indexOf(this);
    if (i >= 0) this.sleeping.splice(i, 1);
    this.fetching.add(this);
  }

  /** Ends the current sleep, if any. */
  ring(): void {
    this.#ring?.();
  }
}
