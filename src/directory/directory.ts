import { ConfigError, InvalidArgumentError } from '../storage/errors.js';
import { Placement } from '../tenancy/placement.js';
import type { ResolvedTenantMap } from '../tenancy/tenant-map.js';
import { placementOf, recordOf, type DirectoryRecord } from './directory-record.js';
import { DIRECTORY_LOCK_TTL_MS, type DirectoryStore } from './directory-store.js';
import { applyChange, finishFlips, type Backends } from './placement-change.js';
import { reconcile } from './reconcile.js';
import { recoverMoves } from './unit-move.js';

/** A move left in flip or cleanup this long is taken to have lost its mover, and any router finishes it. */
const MOVE_STALE_MS = 5_000;

export interface DirectoryFollowOptions {
  /** How often the stored epoch is polled (ms); 0 turns polling off. Default 1000. */
  pollMs: number;
  /** Listen for changes pushed by the store's backend (NOTIFY / pub-sub). Default true. */
  push: boolean;
}

/**
 * A router's view of the placement directory: loaded once (reconciling the
 * router's config with what is stored), then followed by push and polling.
 * The cached placement is only a hint; shards refuse units they do not own,
 * and the router re-reads on such a refusal.
 */
export class Directory {
  #record: DirectoryRecord | null = null;
  #placement: Placement | null = null;
  #loading: Promise<void> | null = null;
  #reading: Promise<void> | null = null;
  #finishing: Promise<void> | null = null;
  #recovering: Promise<void> | null = null;
  #timer: NodeJS.Timeout | null = null;
  #unwatch: (() => void) | null = null;
  #closed = false;
  /** Epoch adoptions, for tests and benchmarks: [epoch, when adopted (performance.now())]. */
  readonly adopted: Array<[number, number]> = [];

  constructor(
    readonly store: DirectoryStore,
    readonly backends: Backends,
    readonly config: ResolvedTenantMap,
    readonly options: DirectoryFollowOptions,
  ) {}

  get loaded(): boolean {
    return this.#placement !== null;
  }

  get record(): DirectoryRecord {
    if (!this.#record)
      throw new InvalidArgumentError('the router has not loaded its placement directory yet: create it with createRouter, or await router.open()');
    return this.#record;
  }

  get placement(): Placement {
    if (!this.#placement) void this.record; // throws the explanation
    return this.#placement!;
  }

  /** Loads (once) and starts following. Rejects with ConfigError or DirectoryUnavailableError and may be retried. */
  ready(): Promise<void> {
    this.#loading ??= this.#load().then(
      () => this.#follow(),
      (err) => {
        this.#loading = null;
        throw err;
      },
    );
    return this.#loading;
  }

  async #load(): Promise<void> {
    const seen = await this.store.read();
    if (seen) {
      const r = reconcile(this.config, seen);
      this.#refuse(r.problems);
      if (r.addShards.length === 0 && r.newTenants.length === 0) return this.#adopt(seen);
    }
    await this.store.locked(async (current) => {
      if (!current) {
        const weights = new Map(this.config.shards.map((s) => [s.id, s.weight ?? 1]));
        const initial = recordOf(Placement.fromConfig(this.config), weights);
        await this.store.write(initial);
        return this.#adopt(initial);
      }
      const r = reconcile(this.config, current);
      this.#refuse(r.problems);
      if (r.addShards.length === 0 && r.newTenants.length === 0) return this.#adopt(current);
      const next = structuredClone(current);
      for (const s of r.addShards) next.shards.push({ id: s.id, weight: s.weight, state: 'active' });
      const empty: string[] = [];
      for (const t of r.newTenants) {
        Object.assign(next.pins, t.pins);
        if (Object.keys(t.groups).length) {
          next.groups[t.tenant] = t.groups;
          // Queues of the new groups leave the home unit: only safe while it holds nothing.
          empty.push(t.tenant, ...Object.keys(t.groups).map((g) => `${t.tenant}:${g}`));
        }
      }
      this.#adopt(await applyChange(this.store, this.backends, current, next, empty));
    });
  }

  #refuse(problems: string[]): void {
    if (problems.length) throw new ConfigError(`this configuration disagrees with the placement directory; nothing was written: ${problems.join('; ')}`);
  }

  #adopt(record: DirectoryRecord): void {
    const cur = this.#record;
    if (cur && record.epoch < cur.epoch) return;
    if (cur && record.epoch === cur.epoch && record.flips.length === cur.flips.length) return;
    const placement = placementOf(record);
    this.#record = record;
    this.#placement = placement;
    this.adopted.push([record.epoch, performance.now()]);
    if (record.flips.length) this.#finishStale();
  }

  /**
   * Re-reads the store, unless the cached epoch already reaches `minEpoch`.
   * Concurrent callers share a read.
   */
  async refresh(minEpoch?: number): Promise<void> {
    const reached = () => minEpoch !== undefined && (this.#record?.epoch ?? 0) >= minEpoch;
    if (reached()) return;
    if (this.#reading) {
      await this.#reading;
      if (minEpoch === undefined || reached()) return;
    }
    this.#reading ??= this.store
      .read()
      .then((r) => {
        if (r) this.#adopt(r);
      })
      .finally(() => (this.#reading = null));
    await this.#reading;
  }

  /** Runs an edit under the directory lock: `edit` changes a copy and names the units that must be empty. */
  async change(edit: (next: DirectoryRecord, current: DirectoryRecord) => string[] | null): Promise<DirectoryRecord> {
    await this.ready();
    return this.store.locked(async (current) => {
      if (!current) throw new InvalidArgumentError('the placement directory is empty');
      this.#adopt(current);
      const next = structuredClone(current);
      const empty = edit(next, current);
      if (empty === null) return current; // nothing to change
      const done = await applyChange(this.store, this.backends, current, next, empty);
      this.#adopt(done);
      return done;
    });
  }

  /**
   * Writes an edit as the next epoch under the directory lock, with no data
   * checks: for moves, which copy the data and fence the source themselves.
   * Flips the edit records are finished (shard markers set) before it returns;
   * `beforeFlips` runs once the record is written, before the markers are set.
   * `edit` returns false for "nothing to change".
   */
  async write(edit: (next: DirectoryRecord, current: DirectoryRecord) => boolean, beforeFlips?: () => Promise<void>): Promise<DirectoryRecord> {
    await this.ready();
    return this.store.locked(async (current) => {
      if (!current) throw new InvalidArgumentError('the placement directory is empty');
      this.#adopt(current);
      const next = structuredClone(current);
      if (!edit(next, current)) return current;
      const written: DirectoryRecord = { ...next, epoch: current.epoch + 1, writtenAt: Date.now() };
      await this.store.write(written);
      this.#adopt(written);
      if (written.flips.length === 0) return written;
      await beforeFlips?.();
      await finishFlips(this.backends, written.flips);
      const done: DirectoryRecord = { ...written, flips: [], writtenAt: Date.now() };
      await this.store.write(done);
      this.#adopt(done);
      return done;
    });
  }

  #follow(): void {
    if (this.#closed || this.#timer || this.#unwatch) return;
    if (this.options.push) this.#unwatch = this.store.watch(() => void this.refresh().catch(() => {}));
    if (this.options.pollMs > 0) {
      this.#timer = setInterval(() => void this.#poll(), this.options.pollMs);
      this.#timer.unref();
    }
  }

  async #poll(): Promise<void> {
    try {
      // Keep routing by the last record while the store is unreachable: shards still fence.
      if ((await this.store.epoch()) > (this.#record?.epoch ?? 0)) await this.refresh();
      else if (this.#record?.flips.length) this.#finishStale();
      if (this.#record?.moves.length && !this.#recovering) {
        // Moves whose mover died: rolled back once their freeze lapsed, or finished past their flip.
        this.#recovering = recoverMoves(this, MOVE_STALE_MS)
          .then(
            () => {},
            () => {},
          )
          .finally(() => (this.#recovering = null));
      }
    } catch {
      /* next poll */
    }
  }

  /** Flips left in the record by a writer that died are finished by whoever notices, under the lock. */
  #finishStale(): void {
    const rec = this.#record!;
    if (this.#finishing || Date.now() - rec.writtenAt < DIRECTORY_LOCK_TTL_MS / 4) return;
    this.#finishing = this.store
      .locked(async (current) => {
        if (!current || current.flips.length === 0) {
          if (current) this.#adopt(current);
          return;
        }
        await finishFlips(this.backends, current.flips);
        const done = { ...current, flips: [] };
        await this.store.write(done);
        this.#adopt(done);
      })
      .catch(() => {})
      .finally(() => (this.#finishing = null));
  }

  close(): void {
    this.#closed = true;
    if (this.#timer) clearInterval(this.#timer);
    this.#unwatch?.();
    this.#timer = null;
    this.#unwatch = null;
  }
}
