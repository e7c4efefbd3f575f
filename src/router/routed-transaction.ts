import { InvalidArgumentError } from '../storage/errors.js';
import { replayOp } from '../storage/replay.js';
import { recordTransaction } from '../storage/transaction-builder.js';
import type { WriteOp, WriteTransaction } from '../storage/transaction.js';
import { sameUnit, unitKey, type Unit } from '../tenancy/unit.js';
import type { TenantContext } from './tenant-context.js';

/**
 * A transaction commits on one unit, so on one shard, atomically: the unit of
 * the jobs it touches, or the tenant's home if it touches none. Its data
 * writes go to that unit too. One that would span units is refused before
 * anything is written, since no shard could make it atomic.
 */
export async function routedTransaction<T>(ctx: TenantContext, fn: (tx: WriteTransaction) => T | Promise<T>): Promise<T> {
  const { result, ops: recorded } = await recordTransaction(fn);
  if (recorded.length === 0) return result;

  // Decode every id first: an unknown or foreign id is JobNotFoundError, as on a backend.
  const decoded = recorded.map((op) => ('jobId' in op ? ctx.decode(op.jobId) : null));
  let unit: Unit | null = null;
  for (const d of decoded) {
    if (!d) continue;
    if (unit && !sameUnit(unit, d.unit)) {
      throw new InvalidArgumentError(`this transaction touches jobs of units '${unitKey(unit)}' and '${unitKey(d.unit)}', which live on different shards; split it into one transaction per queue group`);
    }
    unit = d.unit;
  }
  const target = unit ?? ctx.home;
  const ops: WriteOp[] = recorded.map((op, i) => {
    if (op.op === 'enqueue') {
      const queueUnit = ctx.unitOfQueue(op.queue);
      if (!sameUnit(queueUnit, target)) {
        throw new InvalidArgumentError(`job '${op.jobId}' lives in unit '${unitKey(target)}' but queue '${op.queue}' belongs to '${unitKey(queueUnit)}'; enqueue a job only to queues of its own queue group`);
      }
    }
    return decoded[i] ? { ...op, jobId: decoded[i]!.backendId } as WriteOp : op;
  });
  await ctx.storageOf(target).transaction((tx) => {
    for (const op of ops) replayOp(tx, op);
  });
  return result;
}
