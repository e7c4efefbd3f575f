import { replayOp } from './replay.js';
import type { Storage } from './storage.js';
import type { RecordedOp } from './transaction.js';

/**
 * Commits writes that a TransactionBuilder already recorded and validated, as one transaction,
 * without running a callback to record them again. Layers that forward a transaction to the
 * storage below (the router's tenant storage, a shard's health and telemetry wrapper) pass it
 * on: recording each write once per layer, through a proxy each, was most of the routed
 * transaction's cost. A symbol, so it stays off the public surface.
 */
export const COMMIT_RECORDED = Symbol('jobshard.commitRecorded');

export interface CommitsRecorded {
  [COMMIT_RECORDED](ops: readonly RecordedOp[]): Promise<void>;
}

/** Commits recorded writes on a storage: directly where it takes them, else by replaying them into a transaction. */
export function commitRecorded(storage: Storage, ops: readonly RecordedOp[]): Promise<void> {
  const direct = (storage as Partial<CommitsRecorded>)[COMMIT_RECORDED];
  if (direct) return direct.call(storage, ops);
  return storage.transaction((tx) => {
    for (const op of ops) replayOp(tx, op);
  });
}
