import { PAUSED_HASH, pausesOf, unpausedQueues, type Pauses } from '../storage/pauses.js';
import type { Storage } from '../storage/storage.js';

/** How long a tenant's pauses (or, with `changes`, the shards' counts of pause changes) are trusted once read: a pause stops new starts within a second. */
export const PAUSE_TTL_MS = 800;
/** With `changes`: how long a tenant's pauses are trusted while no count moves (a safety net for a count that was not written). */
export const PAUSE_MAX_AGE_MS = 60_000;
/** Lapsed entries are dropped once the cache has doubled since the last time (and holds this many). */
const PRUNE_FROM = 1_024;

interface Entry {
  at: number;
  pauses: Promise<Pauses>;
}

/**
 * A server's view of its tenants' pauses (router.admin.pause), read from each
 * tenant's home unit only for tenants it is about to fetch for: idle tenants
 * cost nothing.
 *
 * Without `changes`, each tenant's read is trusted for PAUSE_TTL_MS. With it
 * (a server over a router: every pause and resume adds one to a count of
 * changes on every shard, see PAUSES_NAMESPACE), the counts are read at most
 * every PAUSE_TTL_MS, one call per shard, and a tenant's read is trusted until
 * they move. A server with 1,000 active tenants read each one's pauses about
 * every 0.8 s: two commands a tenant, 2,500 a second, where a pause is a rare
 * admin call.
 */
export class PauseCache {
  readonly #cache = new Map<string, Entry>();
  #pruneAt = PRUNE_FROM;
  /** What `changes` last returned; null before the first read and after a failed one. */
  #seen: string | null = null;
  #checkedAt = -Infinity;
  #checking: Promise<void> | null = null;

  constructor(
    readonly storageOf: (tenant: string) => Storage,
    readonly ttlMs = PAUSE_TTL_MS,
    readonly changes?: () => Promise<string>,
    readonly maxAgeMs = PAUSE_MAX_AGE_MS,
  ) {}

  /** The queues (of `queues`, in their order) this tenant may be fetched from now; empty when paused. */
  async queuesFor(tenant: string, queues: readonly string[]): Promise<readonly string[]> {
    let now = performance.now();
    const checking = this.#check(now);
    if (checking) {
      await checking;
      now = performance.now();
    }
    const trustedMs = this.changes ? this.maxAgeMs : this.ttlMs;
    let entry = this.#cache.get(tenant);
    if (!entry || now - entry.at > trustedMs) {
      // Shared while in flight: the workers that start a tenant's turn together made one read each
      // (16 reads, each with its ownership check, for 16 jobs of 1,000 tenants × 20 in bench:tenants).
      const read = this.storageOf(tenant).data.hashGetAll(PAUSED_HASH).then(pausesOf);
      entry = { at: now, pauses: read };
      if (this.#cache.size >= this.#pruneAt) {
        // Tenants served once and gone idle leave no entry for good: the cache stays about twice the active ones.
        for (const [k, e] of this.#cache) if (now - e.at > trustedMs) this.#cache.delete(k);
        this.#pruneAt = Math.max(PRUNE_FROM, this.#cache.size * 2);
      }
      this.#cache.set(tenant, entry);
      const mine = entry;
      read.catch(() => {
        if (this.#cache.get(tenant) === mine) this.#cache.delete(tenant);
      });
    }
    // The same array when nothing is paused: storage checks a queue list it has seen once.
    return unpausedQueues(queues, await entry.pauses);
  }

  /**
   * With `changes`: once per PAUSE_TTL_MS, reads the counts; when they moved (or could not be read,
   * or are read for the first time) every tenant's entry goes, read before or during the check.
   * Callers meanwhile wait for it. Null when there is nothing to wait for.
   */
  #check(now: number): Promise<void> | null {
    if (!this.changes) return null;
    if (this.#checking) return this.#checking;
    if (now - this.#checkedAt <= this.ttlMs) return null;
    this.#checkedAt = now;
    const checking = this.changes().then(
      (seen) => {
        if (seen !== this.#seen) this.#cache.clear();
        this.#seen = seen;
      },
      () => {
        // Unknown: back to reading each tenant's pauses, until a read of the counts succeeds.
        this.#cache.clear();
        this.#seen = null;
      },
    );
    this.#checking = checking.finally(() => {
      this.#checking = null;
    });
    return this.#checking;
  }
}
