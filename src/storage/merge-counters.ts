import type { WriteOp } from './transaction.js';

type Increment = Extract<WriteOp, { op: 'counterIncrement' }>;

/**
 * Folds the increments of one counter (same key, same expiry) in a group
 * commit into its first increment. Every job outcome bumps the same
 * statistics counters, so a group of 64 outcomes would otherwise write each
 * counter 64 times. Sums commute and the expiry each sets is the same, so the
 * result is identical; a counter whose expiry the group also changes
 * (expire / persist) is left alone, since there order matters.
 */
export function mergeCounterIncrements(ops: readonly WriteOp[]): WriteOp[] {
  const pinned = new Set<string>();
  for (const op of ops) if ((op.op === 'expire' || op.op === 'persist') && op.kind === 'counter') pinned.add(op.key);
  const first = new Map<string, Increment>();
  const out: WriteOp[] = [];
  for (const op of ops) {
    if (op.op !== 'counterIncrement' || pinned.has(op.key)) {
      out.push(op);
      continue;
    }
    const id = `${op.expireInMs}\u0000${op.key}`;
    const seen = first.get(id);
    if (seen && Number.isSafeInteger(seen.by + op.by)) {
      seen.by += op.by;
      continue;
    }
    const copy = { ...op };
    first.set(id, copy);
    out.push(copy);
  }
  return out;
}
