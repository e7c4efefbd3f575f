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
import { freezePause } from './through-freeze.js';
import { WeakCache } from '../storage/weak-cache.js';
import { methodCache } from '../storage/method-cache.js';

interface Target {
  shard: Shard;
  storage: Storage;
}

/** A stale router follows at most this many `moved` answers per call (a chain of quick moves). */
const MAX_HOPS = 8;
/** While the directory has not caught up with a shard's `moved` (a flip being finished), retry this often. */
const CATCH_UP_MS = 20;

/** Where each unit's calls go: a lane per unit (below), made while something holds it. */
export class UnitRoute {
  readonly #lanes = new WeakCache<UnitLane>();
  #seen: Placement | null = null;
  /** Bumped when the directory adopts a placement: lanes compare numbers, and keep no old placement alive. */
  #generation = 0;

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

  /** The current placement's generation (the placement getter throws while the directory has not loaded). */
  get generation(): number {
    const placement = this.directory.placement;
    if (placement !== this.#seen) {
      this.#seen = placement;
      this.#generation++;
    }
    return this.#generation;
  }

  /** The unit's lane: one per unit while something holds it (a tenant's context holds its home's). */
  lane(unit: Unit): UnitLane {
    const key = unitKey(unit);
    return this.#lanes.getOrMake(key, () => new UnitLane(this, key));
  }

  /** The unit's storage: every call goes through its lane. */
  storage(unit: Unit): Storage {
    return this.lane(unit).storage;
  }
}

/**
 * Runs one unit's calls on whichever shard the directory currently names, following the shards'
 * refusals: `moved` re-reads the directory and retries on the new owner; `frozen` waits for the
 * cutover and retries, until `frozenWaitMs` has passed, then ShardUnavailableError. Nothing was
 * written by a refused call, so retrying it is safe. The lane remembers its shard and storage
 * there for the placement it found them by: every call's path is a number compare.
 */
export class UnitLane {
  #generation = -1;
  #target!: Target;
  #storage?: Storage;

  constructor(
    readonly route: UnitRoute,
    readonly key: string,
  ) {}

  #current(): Target {
    const generation = this.route.generation;
    if (generation !== this.#generation) {
      const shard = this.route.shardById(this.route.directory.placement.shardOfKey(this.key));
      this.#target = { shard, storage: shard.storage(this.key) };
      this.#generation = generation;
    }
    return this.#target;
  }

  run<T>(call: (storage: Storage) => Promise<T>): Promise<T> {
    const directory = this.route.directory;
    if (!directory.loaded) return directory.ready().then(() => this.#follow(call, 0, 0));
    // The first attempt, without an async frame: it is every call's path, a refusal almost none's.
    let target: Target;
    let first: Promise<T>;
    try {
      target = this.#current();
      first = call(target.storage);
    } catch (err) {
      return Promise.reject(err);
    }
    return first.catch((err: unknown) => this.#refused(err, call, target.shard, 0, 0));
  }

  async #follow<T>(call: (storage: Storage) => Promise<T>, hops: number, deadline: number): Promise<T> {
    const { shard, storage } = this.#current();
    try {
      return await call(storage);
    } catch (err) {
      return this.#refused(err, call, shard, hops, deadline);
    }
  }

  /** After a refusal by `shard`: `moved` re-reads the directory, `frozen` waits; then the call goes again. Anything else is the answer. */
  async #refused<T>(err: unknown, call: (storage: Storage) => Promise<T>, shard: Shard, hops: number, deadline: number): Promise<T> {
    const { directory, frozenWaitMs } = this.route;
    const key = this.key;
    if (err instanceof UnitMovedError) {
      if (++hops > MAX_HOPS) throw err;
      await directory.refresh(err.epoch);
      if (directory.placement.shardOfKey(key) === shard.id) {
        deadline ||= Date.now() + frozenWaitMs;
        if (Date.now() >= deadline)
          throw new ShardUnavailableError(
            shard.id,
            `unit '${key}' is marked moved to '${err.toShard}' (epoch ${err.epoch}) but the directory still places it here`,
            { cause: err },
          );
        await sleep(CATCH_UP_MS);
      }
      return this.#follow(call, hops, deadline);
    }
    if (err instanceof UnitFrozenError) {
      deadline ||= Date.now() + frozenWaitMs;
      if (Date.now() >= deadline)
        throw new ShardUnavailableError(shard.id, `unit '${key}' stayed frozen for a placement change longer than ${frozenWaitMs} ms`, { cause: err });
      // The freeze ends by a flip (seen as moved or active) long before `until`; poll it briefly.
      await freezePause(err, deadline);
      return this.#follow(call, hops, deadline);
    }
    throw err;
  }

  /** The unit's storage: every call goes through `run`. */
  get storage(): Storage {
    return (this.#storage ??= routedUnitStorage((call) => this.run(call), this.route.frozenWaitMs));
  }
}

const COMPONENTS = ['jobs', 'queues', 'data', 'servers', 'monitoring'] as const;

type RunOnUnit = <T>(call: (storage: Storage) => Promise<T>) => Promise<T>;

function routedUnitStorage(run: RunOnUnit, frozenWaitMs: number): Storage {
  const out: Record<PropertyKey, unknown> = {
    transaction: <T>(fn: (tx: WriteTransaction) => T | Promise<T>) => run((s) => s.transaction(fn)),
    [COMMIT_RECORDED]: (ops: readonly RecordedOp[]) => run((s) => commitRecorded(s, ops)),
    locks: routedLocks(run, frozenWaitMs),
  };
  for (const component of COMPONENTS) {
    out[component] = methodCache({}, (_, prop) => {
      if (typeof prop !== 'string' || prop === 'then') return undefined; // not a thenable, not inspectable
      return (...args: unknown[]) => run((s) => (s[component] as unknown as Record<string, (...a: unknown[]) => Promise<unknown>>)[prop]!(...args));
    });
  }
  return out as unknown as Storage;
}
