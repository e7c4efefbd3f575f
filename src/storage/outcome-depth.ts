import type { Storage } from './storage.js';

/**
 * How many outcome writes one JobServer worker may have in flight on a storage, as its backend
 * prefers: a worker's job outcome is written while it runs the next jobs, and while one group
 * commit is in flight the next gathers the outcomes written meanwhile. A symbol, so it stays off
 * the public surface; a storage without it (a router's tenant, a wrapper) gets the default.
 */
export const OUTCOME_DEPTH = Symbol('jobshard.outcomeDepth');

/**
 * A few at a time: a slow storage slows the workers down instead of piling writes up (on Postgres,
 * one at a time per worker made groups of about 16; three, 30-40).
 */
export const DEFAULT_OUTCOME_DEPTH = 3;

export interface OutcomeDepth {
  readonly [OUTCOME_DEPTH]: number;
}

export function outcomeDepth(storage: Storage): number {
  return (storage as Partial<OutcomeDepth>)[OUTCOME_DEPTH] ?? DEFAULT_OUTCOME_DEPTH;
}
