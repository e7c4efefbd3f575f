import { isJobshardError } from '../storage/errors.js';
import type { Lock } from '../storage/lock.js';
import type { Storage } from '../storage/storage.js';

export interface Caps {
  maxConcurrent: number | null;
  queues: ReadonlyMap<string, number>;
}

/** What a worker holds while it fetches and runs one job of a capped tenant. */
export interface SlotGrant {
  /** The queues it may fetch from: the asked ones less those whose cap is full. */
  queues: readonly string[];
  /** Keeps the slots the job fetched from `queue` needs (null: no job) and releases the others. */
  keep(queue: string | null): Promise<void>;
  /** Releases what keep() kept, once the job has run. */
  release(): Promise<void>;
}

/** After a cap was found full, this process does not ask again for this long (a job's end here asks at once). */
const FULL_BACKOFF_MS = 200;

/**
 * Fleet-wide concurrency caps with the storage's own primitive: a cap of N is N
 * lock resources in the tenant's home unit (`jobshard.slot.<scope>.<i>`), and
 * a running job holds one. Locks are leased and renewed while their holder
 * lives, so a crashed process's slots come back when their leases lapse.
 */
export class ConcurrencySlots {
  /** Until when (performance.now()) a scope of a tenant was last seen full. */
  readonly #fullUntil = new Map<string, number>();

  constructor(
    readonly capsOf: (tenant: string) => Caps,
    readonly leaseMs: number,
  ) {}

  /** True when the tenant has caps: only then do its fetches take slots. */
  capped(tenant: string): boolean {
    const caps = this.capsOf(tenant);
    return caps.maxConcurrent !== null || caps.queues.size > 0;
  }

  /**
   * Takes the tenant's slot (if it has a cap) and one slot per capped queue among `queues`. Null
   * when the tenant's cap is full, or every queue asked for is capped and full.
   */
  async take(tenant: string, storage: Storage, queues: readonly string[]): Promise<SlotGrant | null> {
    const caps = this.capsOf(tenant);
    const held: Lock[] = [];
    if (caps.maxConcurrent !== null) {
      const lock = await this.#one(tenant, storage, 'all', caps.maxConcurrent);
      if (!lock) return null;
      held.push(lock);
    }
    const byQueue = new Map<string, Lock>();
    const open: string[] = [];
    for (const q of queues) {
      const cap = caps.queues.get(q);
      if (cap === undefined) {
        open.push(q);
        continue;
      }
      const lock = await this.#one(tenant, storage, `q.${q}`, cap);
      if (!lock) continue;
      byQueue.set(q, lock);
      open.push(q);
    }
    if (open.length === 0) {
      await Promise.all(held.map((l) => l.release().catch(() => {})));
      return null;
    }
    let kept: Lock[] = [];
    return {
      queues: open.length === queues.length ? queues : open,
      keep: async (queue) => {
        const q = queue === null ? undefined : byQueue.get(queue);
        kept = queue === null ? [] : [...held, ...(q ? [q] : [])];
        const others = queue === null ? [...held, ...byQueue.values()] : [...byQueue.values()].filter((l) => l !== q);
        await Promise.all(others.map((l) => l.release().catch(() => {})));
      },
      release: async () => {
        const locks = kept;
        kept = [];
        await Promise.all(locks.map((l) => l.release().catch(() => {})));
        this.freed(tenant);
      },
    };
  }

  /** One free slot of the scope, tried from a random start; null when all N are held. */
  async #one(tenant: string, storage: Storage, scope: string, n: number): Promise<Lock | null> {
    const key = `${tenant}\u0000${scope}`;
    if ((this.#fullUntil.get(key) ?? 0) > performance.now()) return null;
    const start = Math.floor(Math.random() * n);
    for (let i = 0; i < n; i++) {
      const resource = `jobshard.slot.${scope}.${(start + i) % n}`;
      try {
        const lock = await storage.locks.acquire(resource, { timeoutMs: 0, ttlMs: this.leaseMs });
        this.#fullUntil.delete(key);
        return lock;
      } catch (err) {
        if (!isJobshardError(err, 'LOCK_TIMEOUT')) throw err;
      }
    }
    this.#fullUntil.set(key, performance.now() + FULL_BACKOFF_MS);
    return null;
  }

  /** A job of the tenant finished here: its scopes may have room again. */
  freed(tenant: string): void {
    for (const key of this.#fullUntil.keys()) if (key.startsWith(`${tenant}\u0000`)) this.#fullUntil.delete(key);
  }
}
