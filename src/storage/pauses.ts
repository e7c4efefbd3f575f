/**
 * A tenant's pauses, kept in its home unit (so they move with it): a hash whose
 * fields are queue names, or ALL_QUEUES for the whole tenant, each '1' while
 * paused and '0' once resumed. Servers over a router read it before they fetch
 * for the tenant; enqueues are never refused.
 */
export const PAUSED_HASH = 'jobshard.paused';
export const ALL_QUEUES = '*';

export interface Pauses {
  /** The whole tenant is paused. */
  tenant: boolean;
  /** Queues paused one by one (a pause may name a queue that has no job yet). */
  queues: string[];
}

export function pausesOf(fields: Record<string, string> | null | undefined): Pauses {
  const on = Object.entries(fields ?? {})
    .filter(([, v]) => v === '1')
    .map(([k]) => k);
  return { tenant: on.includes(ALL_QUEUES), queues: on.filter((k) => k !== ALL_QUEUES).sort() };
}

/** Of `queues` (in their order), those not paused; the same array when none is, empty when the tenant is. */
export function unpausedQueues(queues: readonly string[], pauses: Pauses): readonly string[] {
  if (pauses.tenant) return [];
  if (pauses.queues.length === 0) return queues;
  const paused = new Set(pauses.queues);
  const left = queues.filter((q) => !paused.has(q));
  return left.length === queues.length ? queues : left;
}

/**
 * Every pause and resume made through a router adds one to this counter on every shard, in this
 * reserved namespace (no tenant id has a '.'), once the pause is written: a server over a router
 * reads the counters, one call per shard, to learn that some pause changed (PauseCache).
 */
export const PAUSES_NAMESPACE = 'jobshard.pauses';
export const PAUSE_CHANGES_COUNTER = 'changes';
