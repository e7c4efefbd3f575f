import type { Storage } from '../storage/storage.js';
import type { MoveProgress } from './unit-move.js';

/** How often a mover publishes its counts, at most (phase changes go out at once). */
const PUBLISH_MS = 500;
/** A published progress outlives its mover by this much, then expires. */
const KEEP_MS = 10 * 60_000;

const keyOf = (moveId: string) => `move-progress:${moveId}`;

/** A move's counts as its mover last published them, for operators in other processes (the dashboard). */
export interface PublishedProgress {
  phase: string;
  unitsDone: number;
  unitsTotal: number;
  jobsCopied: number;
  itemsCopied: number;
  /** When the mover published it (ms since the Unix epoch). */
  at: number;
}

/**
 * Publishes a move's progress into the directory's namespace, throttled: the directory record
 * holds the phase, these hold the counts. Advisory: a failed write is dropped, never the move.
 */
export function progressPublisher(store: Storage, moveId: string): (p: Readonly<MoveProgress>) => void {
  let last = 0;
  let lastPhase = '';
  return (p) => {
    const now = Date.now();
    if (p.phase === lastPhase && now - last < PUBLISH_MS) return;
    last = now;
    lastPhase = p.phase;
    const fields = {
      phase: p.phase,
      unitsDone: String(p.unitsDone),
      unitsTotal: String(p.unitsTotal),
      jobsCopied: String(p.jobsCopied),
      itemsCopied: String(p.itemsCopied),
      at: String(now),
    };
    void store
      .transaction((tx) => {
        tx.hashSet(keyOf(moveId), fields);
        tx.expire('hash', keyOf(moveId), KEEP_MS);
      })
      .catch(() => {});
  };
}

export async function readProgress(store: Storage, moveId: string): Promise<PublishedProgress | null> {
  const h = await store.data.hashGetAll(keyOf(moveId));
  if (!h) return null;
  return {
    phase: h['phase'] ?? '',
    unitsDone: Number(h['unitsDone']),
    unitsTotal: Number(h['unitsTotal']),
    jobsCopied: Number(h['jobsCopied']),
    itemsCopied: Number(h['itemsCopied']),
    at: Number(h['at']),
  };
}
