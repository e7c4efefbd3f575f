import { InvalidArgumentError, LeaseLostError, UnitMovedError } from '../storage/errors.js';
import type { AcquireOptions, Lock, LockManager } from '../storage/lock.js';
import { ADOPT_LOCK, type AdoptLock, type RenewingLock } from '../storage/renewing-lock.js';
import { DEFAULT_LOCK_TTL_MS } from '../storage/storage-options.js';
import type { Storage } from '../storage/storage.js';
import { throughFreeze } from './through-freeze.js';

type RunOnUnit = <T>(call: (storage: Storage) => Promise<T>) => Promise<T>;

/**
 * A lock of a unit that may move while it is held. A move copies the grant
 * (holder token and lease) to the new shard; when the old shard answers
 * `moved`, this takes the grant over there by its token and goes on renewing,
 * so the holder keeps mutual exclusion and can extend and release it.
 */
export class RoutedLock implements Lock {
  readonly #abort = new AbortController();
  readonly #ttlMs: number;
  readonly #autoRenew: boolean;
  #inner: Lock;
  #moving: Promise<void> | null = null;

  constructor(
    inner: Lock,
    options: AcquireOptions,
    readonly run: RunOnUnit,
    readonly frozenWaitMs: number,
  ) {
    this.#inner = inner;
    this.#ttlMs = options.ttlMs ?? DEFAULT_LOCK_TTL_MS;
    this.#autoRenew = options.autoRenew ?? true;
    this.#watch(inner);
  }

  get resource(): string {
    return this.#inner.resource;
  }
  get token(): number {
    return this.#inner.token;
  }
  get signal(): AbortSignal {
    return this.#abort.signal;
  }

  #watch(inner: Lock): void {
    const onAbort = () => {
      if (inner !== this.#inner) return;
      if (inner.signal.reason instanceof UnitMovedError) void this.#follow().catch((err: unknown) => this.#lose(err));
      else this.#lose(inner.signal.reason);
    };
    if (inner.signal.aborted) onAbort();
    else inner.signal.addEventListener('abort', onAbort, { once: true });
  }

  #lose(reason: unknown): void {
    if (this.#abort.signal.aborted) return;
    this.#abort.abort(reason instanceof LeaseLostError ? reason : new LeaseLostError(`lock '${this.resource}' (token ${this.token})`, { cause: reason }));
  }

  /** Re-homes the grant on the unit's current shard (the route follows `moved`). */
  #follow(): Promise<void> {
    this.#moving ??= (async () => {
      const old = this.#inner as RenewingLock;
      old.abandon?.();
      const adopted = await this.run(
        (s) =>
          (s.locks as unknown as { [ADOPT_LOCK]?: AdoptLock })[ADOPT_LOCK]?.(this.resource, this.token, this.#ttlMs, this.#autoRenew) ??
          Promise.reject(new InvalidArgumentError('this storage cannot take over a lock')),
      );
      this.#inner = adopted;
      this.#watch(adopted);
    })().finally(() => (this.#moving = null));
    return this.#moving;
  }

  /** The grant's own shard answers (not the lane): a freeze is waited out here, a move followed. */
  async #call(fn: (lock: Lock) => Promise<void>): Promise<void> {
    if (this.#moving) await this.#moving;
    try {
      await throughFreeze(() => fn(this.#inner), this.frozenWaitMs);
    } catch (err) {
      if (!(err instanceof UnitMovedError)) throw err;
      await this.#follow();
      await throughFreeze(() => fn(this.#inner), this.frozenWaitMs);
    }
  }

  extend(ms?: number): Promise<void> {
    return this.#call((l) => l.extend(ms));
  }

  release(): Promise<void> {
    return this.#call((l) => l.release());
  }
}

/** A unit's lock manager whose grants follow the unit across moves. */
export function routedLocks(run: RunOnUnit, frozenWaitMs: number): LockManager {
  return {
    async acquire(resource: string, options: AcquireOptions): Promise<Lock> {
      const lock = await run((s) => s.locks.acquire(resource, options));
      return new RoutedLock(lock, options ?? ({} as AcquireOptions), run, frozenWaitMs);
    },
  };
}
