import { ALL_QUEUES, PAUSED_HASH } from '../storage/pauses.js';
import type { Storage } from '../storage/storage.js';

/** How long a tenant's pauses are trusted once read: a pause stops new starts within a second. */
export const PAUSE_TTL_MS = 800;
/** Past this many cached tenants, lapsed entries are dropped. */
const MAX_CACHED = 10_000;

/**
 * A server's view of its tenants' pauses (router.admin.pause), read from each
 * tenant's home unit at most once per PAUSE_TTL_MS, and only for tenants it is
 * about to fetch for: idle tenants cost nothing.
 */
export class PauseCache {
  readonly #cache = new Map<string, { at: number; all: boolean; queues: Set<string> }>();

  constructor(readonly storageOf: (tenant: string) => Storage, readonly ttlMs = PAUSE_TTL_MS) {}

  /** The queues (of `queues`, in their order) this tenant may be fetched from now; empty when paused. */
  async queuesFor(tenant: string, queues: readonly string[]): Promise<readonly string[]> {
    const now = performance.now();
    let entry = this.#cache.get(tenant);
    if (!entry || now - entry.at > this.ttlMs) {
      const fields = await this.storageOf(tenant).data.hashGetAll(PAUSED_HASH);
      const on = Object.entries(fields ?? {}).filter(([, v]) => v === '1').map(([k]) => k);
      entry = { at: now, all: on.includes(ALL_QUEUES), queues: new Set(on) };
      if (this.#cache.size >= MAX_CACHED) for (const [k, e] of this.#cache) if (now - e.at > this.ttlMs) this.#cache.delete(k);
      this.#cache.set(tenant, entry);
    }
    if (entry.all) return [];
    // The same array when nothing is paused: storage checks a queue list it has seen once.
    return entry.queues.size === 0 ? queues : queues.filter((q) => !entry.queues.has(q));
  }
}
