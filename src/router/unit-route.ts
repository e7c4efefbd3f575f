import type { Directory } from '../directory/directory.js';
import type { Shard } from '../shards/shard.js';
import type { Placement } from '../tenancy/placement.js';
import { ShardUnavailableError, UnitFrozenError, UnitMovedError } from '../storage/errors.js';
import { sleep } from '../storage/sleep.js';
import type { Storage } from '../storage/storage.js';
import { COMMIT_RECORDED, commitRecorded } from '../storage/commit-recorded.js';
import type { RecordedOp, WriteTransaction } from '../storage/transaction.js';
import { unitKey, type Unit } from '../tenancy/unit.js';
import { routedLocks } from './routed-lock.js';
import { WeakCache } from '../storage/weak-cache.js';

interface Target {
  shard: Shard;
  storage: Storage;
}

/** A stale router follows at most this many `moved` answers per call (a chain of quick moves). */
const MAX_HOPS = 8;
/** While the directory has not caught up with a shard's `moved` (a flip being finished), retry this often. */
const CATCH_UP_MS = 20;

/**
 * Runs calls for units on whichever shard the directory currently names,
 * following the shards' refusals: `moved` re-reads the directory and
 * retries on the new owner; `frozen` waits for the cutover and retries,
 * until `frozenWaitMs` has passed, then ShardUnavailableError. Nothing was
 * written by a refused call, so retrying it is safe.
 */
export class UnitRoute {
  readonly #storages = new WeakCache<Storage>();
  /** Lives while its shard storage does: an idle unit's memo goes with it. */
  readonly #targets = new WeakCache<Target>((target) => target.storage);
  #targetsOf: Placement | null = null;

  constructor(
    readonly directory: Directory,
    readonly shards: ReadonlyMap<string, Shard>,
    readonly frozenWaitMs: number,
  ) {}

  shardOf(unit: Unit): Shard {
    return this.shardById(this.directory.placement.shardOf(unit));
  }

  shardById(id: string): Shard {
    const shard = this.shards.get(id);
    if (!shard)
      throw new ShardUnavailableError(
        id,
        `the placement directory names shard '${id}', which this router's configuration does not list; deploy the configuration with every shard`,
      );
    return shard;
  }

  run<T>(unit: Unit, call: (storage: Storage) => Promise<T>): Promise<T> {
    return this.#run(unitKey(unit), call);
  }

  /**
   * The unit's shard and its storage there under the current placement, remembered per unit. A new
   * placement empties the memo (rather than each entry keeping the placement it was made under,
   * which kept every placement that an idle unit was last routed by).
   */
  #target(key: string): Target {
    const placement = this.directory.placement;
    if (placement !== this.#targetsOf) {
      this.#targets.clear();
      this.#targetsOf = placement;
    }
    return this.#targets.getOrMake(key, () => {
      const shard = this.shardById(placement.shardOfKey(key));
      return { shard, storage: shard.storage(key) };
    });
  }

  #run<T>(key: string, call: (storage: Storage) => Promise<T>): Promise<T> {
    if (!this.directory.loaded) return this.directory.ready().then(() => this.#follow(key, call, 0, 0));
    // The first attempt, without an async frame: it is every call's path, a refusal almost none's.
    let target: Target;
    let first: Promise<T>;
    try {
      target = this.#target(key);
      first = call(target.storage);
    } catch (err) {
      return Promise.reject(err);
    }
    return first.catch((err: unknown) => this.#refused(err, key, call, target.shard, 0, 0));
  }

  async #follow<T>(key: string, call: (storage: Storage) => Promise<T>, hops: number, deadline: number): Promise<T> {
    const { shard, storage } = this.#target(key);
    try {
      return await call(storage);
    } catch (err) {
      return this.#refused(err, key, call, shard, hops, deadline);
    }
  }

  /** After a refusal by `shard`: `moved` re-reads the directory, `frozen` waits; then the call goes again. Anything else is the answer. */
  async #refused<T>(err: unknown, key: string, call: (storage: Storage) => Promise<T>, shard: Shard, hops: number, deadline: number): Promise<T> {
    if (err instanceof UnitMovedError) {
      if (++hops > MAX_HOPS) throw err;
      await this.directory.refresh(err.epoch);
      if (this.directory.placement.shardOfKey(key) === shard.id) {
        deadline ||= Date.now() + this.frozenWaitMs;
        if (Date.now() >= deadline)
          throw new ShardUnavailableError(
            shard.id,
            `unit '${key}' is marked moved to '${err.toShard}' (epoch ${err.epoch}) but the directory still places it here`,
            { cause: err },
          );
        await sleep(CATCH_UP_MS);
      }
      return this.#follow(key, call, hops, deadline);
    }
    if (err instanceof UnitFrozenError) {
      deadline ||= Date.now() + this.frozenWaitMs;
      const now = Date.now();
      if (now >= deadline)
        throw new ShardUnavailableError(shard.id, `unit '${key}' stayed frozen for a placement change longer than ${this.frozenWaitMs} ms`, { cause: err });
      // The freeze ends by a flip (seen as moved or active) long before `until`; poll it briefly.
      await sleep(Math.max(1, Math.min(CATCH_UP_MS, err.until - now, deadline - now)));
      return this.#follow(key, call, hops, deadline);
    }
    throw err;
  }

  /** The unit's storage: every call goes through `run`. Cached per unit. */
  storage(unit: Unit): Storage {
    const key = unitKey(unit);
    return this.#storages.getOrMake(key, () => routedUnitStorage((call) => this.#run(key, call)));
  }
}

const COMPONENTS = ['jobs', 'queues', 'data', 'servers', 'monitoring'] as const;

type RunOnUnit = <T>(call: (storage: Storage) => Promise<T>) => Promise<T>;

function routedUnitStorage(run: RunOnUnit): Storage {
  const out: Record<PropertyKey, unknown> = {
    transaction: <T>(fn: (tx: WriteTransaction) => T | Promise<T>) => run((s) => s.transaction(fn)),
    [COMMIT_RECORDED]: (ops: readonly RecordedOp[]) => run((s) => commitRecorded(s, ops)),
    locks: routedLocks(run),
  };
  for (const component of COMPONENTS) {
    const methods = new Map<string, unknown>();
    out[component] = new Proxy(
      {},
      {
        get(_, prop) {
          if (typeof prop !== 'string' || prop === 'then') return undefined; // not a thenable, not inspectable
          let m = methods.get(prop);
          if (!m) {
            m = (...args: unknown[]) => run((s) => (s[component] as unknown as Record<string, (...a: unknown[]) => Promise<unknown>>)[prop]!(...args));
            methods.set(prop, m);
          }
          return m;
        },
      },
    );
  }
  return out as unknown as Storage;
}
