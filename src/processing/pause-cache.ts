import { PAUSED_HASH, pausesOf, unpausedQueues, type Pauses } from '../storage/pauses.js';
import type { Storage } from '../storage/storage.js';

/** How long a tenant's pauses (or, with `counts`, the shards' counts of pause changes) are trusted once read: a pause stops new starts within a second. */
export const PAUSE_TTL_MS = 800;
/**
 * How often a server over a router reads the shards' counts (and its TTL while none answers). A
 * pause is then seen after a count read and a read of the tenant's pauses, two round trips where
 * a TTL alone needed one: a shorter period keeps the same margin under the second.
 */
export const PAUSE_COUNTS_INTERVAL_MS = 500;
/** With `counts`: how long a tenant's pauses are trusted while no count moves (a safety net for a count that was not written). */
export const PAUSE_MAX_AGE_MS = 60_000;
/** Lapsed entries are dropped once the cache has doubled since the last time (and holds this many). */
const PRUNE_FROM = 1_024;

interface Entry {
  at: number;
  pauses: Promise<Pauses>;
}

/** One shard's count of pause changes, as this cache last read it. */
interface Count {
  /** null before the first read and after a failed one. */
  seen: number | null;
  reading: boolean;
}

/** A shard's count of pause changes: the shard (any object naming it) and how to read its count. */
export type PauseCount = readonly [shard: object, read: () => Promise<number>];

/**
 * A server's view of its tenants' pauses (router.admin.pause), read from each
 * tenant's home unit only for tenants it is about to fetch for: idle tenants
 * cost nothing.
 *
 * Without `counts`, each tenant's read is trusted for `ttlMs`. With them (a
 * server over a router: every pause and resume adds one to a count on every
 * shard, see PAUSES_NAMESPACE), the counts are read in the background at most
 * every `ttlMs`, one call per shard, and a tenant's read is trusted while none
 * moves and they answer. A server with 1,000 active tenants read each one's
 * pauses about every 0.8 s: two commands a tenant, 2,500 a second, where a
 * pause is a rare admin call. Nobody waits for a count: a shard that does not
 * answer must hold up no other shard's tenants.
 */
export class PauseCache {
  readonly #cache = new Map<string, Entry>();
  #pruneAt = PRUNE_FROM;
  readonly #counts = new Map<object, Count>();
  #checkedAt = -Infinity;
  /** When the last count read that answered was sent. */
  #answeredAt = -Infinity;

  constructor(
    readonly storageOf: (tenant: string) => Storage,
    readonly ttlMs = PAUSE_TTL_MS,
    readonly counts?: () => readonly PauseCount[],
    readonly maxAgeMs = PAUSE_MAX_AGE_MS,
  ) {}

  /** The queues (of `queues`, in their order) this tenant may be fetched from now; empty when paused. */
  async queuesFor(tenant: string, queues: readonly string[]): Promise<readonly string[]> {
    const now = performance.now();
    this.#check(now);
    // Past the TTL, a read is trusted only while the counts answer: a count read sent within the
    // last two periods came back (a bump lands on every shard, so any one of them tells).
    const trustedMs = this.counts && now - this.#answeredAt <= 2 * this.ttlMs ? this.maxAgeMs : this.ttlMs;
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
   * With `counts`: once per `ttlMs`, sends a read of each shard's count that is not still
   * reading. A count that moved (or is read for the first time, or after a failed read) clears
   * every tenant's entry, those read before or while it was read.
   */
  #check(now: number): void {
    if (!this.counts || now - this.#checkedAt <= this.ttlMs) return;
    this.#checkedAt = now;
    for (const [shard, read] of this.counts()) {
      let count = this.#counts.get(shard);
      if (!count) this.#counts.set(shard, (count = { seen: null, reading: false }));
      if (count.reading) continue;
      count.reading = true;
      const c = count;
      // A read that throws at once (a closed backend) fails like one that rejects.
      Promise.resolve()
        .then(read)
        .then(
          (n) => {
            c.reading = false;
            if (n !== c.seen) this.#cache.clear();
            c.seen = n;
            this.#answeredAt = Math.max(this.#answeredAt, now);
          },
          () => {
            c.reading = false;
            c.seen = null;
          },
        );
    }
  }
}
