/**
 * A server's periodic tasks (heartbeats, due sweeps, discovery, pause reads): each runs, then waits
 * `ms` before its next run, until cancel(). Shared by the server over one storage and the pool over
 * a router. The first run comes after a random delay of up to 200 ms, so servers started together
 * do not tick in step.
 */
export class Periodic {
  readonly #timers = new Set<{ t: NodeJS.Timeout | undefined }>();
  #cancelled = false;

  constructor(readonly onError: (err: unknown) => void) {}

  every(ms: number, fn: () => unknown): void {
    const slot: { t: NodeJS.Timeout | undefined } = { t: undefined };
    const tick = async () => {
      if (this.#cancelled) return;
      try {
        await fn();
      } catch (err) {
        this.onError(err);
      }
      if (this.#cancelled) return;
      slot.t = setTimeout(tick, ms);
      slot.t.unref();
    };
    slot.t = setTimeout(tick, Math.random() * Math.min(ms, 200));
    slot.t.unref();
    this.#timers.add(slot);
  }

  /** No task starts again; one running now finishes. */
  cancel(): void {
    this.#cancelled = true;
    for (const slot of this.#timers) clearTimeout(slot.t);
    this.#timers.clear();
  }
}
