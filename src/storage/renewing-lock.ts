import type { NamespaceDriver } from './driver.js';
import { LeaseLostError, UnitMovedError } from './errors.js';
import type { Lock } from './lock.js';
import { checkMs } from './validate.js';

/**
 * How long before the server's deadline a holder counts its lease as lost: a timer fires late when
 * the event loop is busy (callbacks of I/O that came in meanwhile run first), and another holder's
 * grant must not be seen before this holder's loss. Measured: under the full test suite's load, a
 * 600 ms lease with no margin let the next grant in a process be seen before the lapse fired.
 * Redlock subtracts a clock drift for the same reason (1% of the ttl plus 2 ms); this is larger.
 */
export function leaseMarginMs(ttlMs: number): number {
  return Math.min(1_000, Math.floor(ttlMs * 0.05) + 5);
}

/**
 * A granted lease, renewed every ttl/3 while this process lives. If renewal
 * is refused (someone else holds it now) or cannot reach the server before
 * the lease would lapse, `signal` aborts so the holder can stop its work.
 */
export class RenewingLock implements Lock {
  readonly resource: string;
  readonly token: number;
  readonly #driver: NamespaceDriver;
  readonly #ttlMs: number;
  readonly #abort = new AbortController();
  #timer: NodeJS.Timeout | undefined;
  #deadline: NodeJS.Timeout | undefined;
  /** When the last renewal (or the granting call) was sent: the next renewal counts from here. */
  #lastSentAt: number;
  #released = false;

  /** `sentAt`: when the call that granted the lease was sent (the server's deadline counts from no earlier). */
  constructor(driver: NamespaceDriver, resource: string, token: number, ttlMs: number, autoRenew: boolean, sentAt: number) {
    this.#driver = driver;
    this.resource = resource;
    this.token = token;
    this.#ttlMs = ttlMs;
    this.#lastSentAt = sentAt;
    this.#leasedFrom(sentAt, ttlMs);
    if (autoRenew) this.#schedule();
  }

  /**
   * The lease is lost when it lapses, whether or not a renewal is still on its way: a renewal
   * stalled on a slow link would otherwise answer (refused) only after the next holder had been
   * granted, and both would believe they held the lock (test/faults/connection-kills.test.ts).
   * It counts from when the call that granted or extended it was sent (`sentAt`), so it never ends
   * after the server's deadline, less a margin (leaseMarginMs).
   */
  #leasedFrom(sentAt: number, ms: number): void {
    if (this.#abort.signal.aborted) return;
    const until = sentAt + ms - leaseMarginMs(ms);
    clearTimeout(this.#deadline);
    this.#deadline = setTimeout(() => this.#lose(), Math.max(0, until - Date.now()));
    this.#deadline.unref();
  }

  get signal(): AbortSignal {
    return this.#abort.signal;
  }

  /**
   * The next renewal goes out a third of the ttl after the last one was sent (or the grant's call),
   * not after its answer: a slow answer does not push the renewals back, so one is lost only when
   * an answer takes two thirds of the ttl, less the margin.
   */
  #schedule(): void {
    const next = this.#lastSentAt + Math.floor(this.#ttlMs / 3) - Date.now();
    this.#timer = setTimeout(() => void this.#renew(), Math.max(1, next));
    // A lock must not keep a process alive: when the process ends the lease lapses, which is the point.
    this.#timer.unref();
  }

  async #renew(): Promise<void> {
    if (this.#released) return;
    try {
      const startedAt = Date.now();
      this.#lastSentAt = startedAt;
      const extended = await this.#driver.extendLock(this.resource, this.token, this.#ttlMs);
      // Released meanwhile: the renewal found the grant gone, which is no loss.
      if (this.#released) return;
      if (!extended) return this.#lose();
      this.#leasedFrom(startedAt, this.#ttlMs);
    } catch (err) {
      // The unit moved with its lock: say so at once, so a router can carry the grant to the new owner.
      if (err instanceof UnitMovedError) return this.#lose(err);
      // Any other failure is tried again; the deadline alone says when the lease is lost.
    }
    // A renewal that came back after the deadline does not revive a lease the holder was told it lost.
    if (!this.#released && !this.#abort.signal.aborted) this.#schedule();
  }

  #lose(reason?: Error): void {
    clearTimeout(this.#timer);
    clearTimeout(this.#deadline);
    if (!this.#abort.signal.aborted) this.#abort.abort(reason ?? new LeaseLostError(`lock '${this.resource}' (token ${this.token})`));
  }

  /** Stops renewing without releasing (the grant was carried to another shard with its unit). */
  abandon(): void {
    this.#released = true;
    clearTimeout(this.#timer);
    clearTimeout(this.#deadline);
  }

  async extend(ms: number = this.#ttlMs): Promise<void> {
    checkMs('extend ms', ms, 1);
    const startedAt = Date.now();
    if (this.#released || !(await this.#extendOrMoved(ms))) {
      this.#lose();
      throw new LeaseLostError(`cannot extend lock '${this.resource}' (token ${this.token})`);
    }
    this.#leasedFrom(startedAt, ms);
  }

  async #extendOrMoved(ms: number): Promise<boolean> {
    try {
      return await this.#driver.extendLock(this.resource, this.token, ms);
    } catch (err) {
      if (err instanceof UnitMovedError) this.#lose(err);
      throw err;
    }
  }

  async release(): Promise<void> {
    if (this.#released) return;
    this.#released = true;
    clearTimeout(this.#timer);
    clearTimeout(this.#deadline);
    await this.#driver.releaseLock(this.resource, this.token);
  }
}

/**
 * Takes over a live grant by its token, on the storage the grant's unit lives
 * on now (a move copies locks with their holders and tokens). Off the public
 * surface: the router calls it when a held lock's unit has moved.
 */
export const ADOPT_LOCK = Symbol('jobshard.adoptLock');

export type AdoptLock = (resource: string, token: number, ttlMs: number, autoRenew: boolean) => Promise<RenewingLock>;
