import { PAUSED_HASH, pausesOf, unpausedQueues, type Pauses } from '../storage/pauses.js';
import type { Storage } from '../storage/storage.js';

/** How long a tenant's pauses are trusted once read: a pause stops new starts within a second. */
export const PAUSE_TTL_MS = 800;
/** Lapsed entries are dropped once the cache has doubled since the last time (and holds this many). */
const PRUNE_FROM = 1_024;

/**
 * A server's view of its tenants' pauses (router.admin.pause), read from each
 * tenant's home unit at most once per PAUSE_TTL_MS, and only for tenants it is
 * about to fetch for: idle tenants cost nothing.
 */
export class PauseCache {
  readonly #cache = new Map<string, { at: number; pauses: Promise<Pauses> }>();
  #pruneAt = PRUNE_FROM;

  constructor(
    readonly storageOf: (tenant: string) => Storage,
    readonly ttlMs = PAUSE_TTL_MS,
  ) {}

  /** The queues (of `queues`, in their order) this tenant may be fetched from now; empty when paused. */
  async queuesFor(tenant: string, queues: readonly string[]): Promise<readonly string[]> {
    const now = performance.now();
    let entry = this.#cache.get(tenant);
    if (!entry || now - entry.at > this.ttlMs) {
      // Shared while in flight: the workers that start a tenant's turn together made one read each
      // (16 reads, each with its ownership check, for 16 jobs of 1,000 tenants × 20 in bench:tenants).
      const read = this.storageOf(tenant).data.hashGetAll(PAUSED_HASH).then(pausesOf);
      entry = { at: now, pauses: read };
      if (this.#cache.size >= this.#pruneAt) {
        // Tenants served once and gone idle leave no entry for good: the cache stays about twice the active ones.
        for (const [k, e] of this.#cache) if (now - e.at > this.ttlMs) this.#cache.delete(k);
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
}
