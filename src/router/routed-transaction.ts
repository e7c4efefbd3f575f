import { InvalidArgumentError, JobNotFoundError } from '../storage/errors.js';
import { commitRecorded } from '../storage/commit-recorded.js';
import { recordTransaction } from '../storage/transaction-builder.js';
import type { FetchedJob } from '../storage/queue.js';
import type { RecordedOp, WriteTransaction } from '../storage/transaction.js';
import { RoutedFetchedJob } from './routed-fetched-job.js';
import { sameUnit, unitKey, type Unit } from '../tenancy/unit.js';
import type { TenantContext } from './tenant-context.js';

/** Data keys of a unit that jobshard writes itself (ALIAS_HASH); tenants' transactions may not. */
const RESERVED_KEY_PREFIX = 'jobshard.';

/**
 * A transaction commits on one unit, so on one shard, atomically: the unit of
 * the jobs it touches, or the tenant's home if it touches none. Its data
 * writes go to that unit too. One that would span units is refused before
 * anything is written, since no shard could make it atomic.
 */
export async function routedTransaction<T>(ctx: TenantContext, fn: (tx: WriteTransaction) => T | Promise<T>): Promise<T> {
  const { result, ops: recorded } = await recordTransaction(fn);
  if (recorded.length === 0) return result;

  // Decode every id first: an unknown or foreign id is JobNotFoundError, as on a backend. A
  // removeFromQueue belongs to the unit its fetched job came from.
  const decoded = recorded.map((op) => ('jobId' in op ? ctx.decode(op.jobId, true) : op.op === 'removeFromQueue' ? fetchedUnit(ctx, op.fetched) : null));
  let unit: Unit | null = null;
  for (const d of decoded) {
    if (!d) continue;
    if (unit && !sameUnit(unit, d.unit)) {
      throw new InvalidArgumentError(
        `this transaction touches jobs of units '${unitKey(unit)}' and '${unitKey(d.unit)}', which live on different shards; split it into one transaction per queue group`,
      );
    }
    unit = d.unit;
  }
  const target = unit ?? ctx.home;
  // The recorded ops are this call's own (a fresh recorder's), so ids are rewritten in place.
  const ops: RecordedOp[] = recorded;
  for (let i = 0; i < ops.length; i++) {
    const op = ops[i]!;
    if ('key' in op && op.key.startsWith(RESERVED_KEY_PREFIX)) {
      throw new InvalidArgumentError(
        `key '${op.key}': keys starting with '${RESERVED_KEY_PREFIX}' are jobshard's own (a moved unit's job id aliases live there); use another name`,
      );
    }
    if (op.op === 'enqueue') {
      const queueUnit = ctx.unitOfQueue(op.queue);
      if (!sameUnit(queueUnit, target)) {
        throw new InvalidArgumentError(
          `job '${op.jobId}' lives in unit '${unitKey(target)}' but queue '${op.queue}' belongs to '${unitKey(queueUnit)}'; enqueue a job only to queues of its own queue group`,
        );
      }
    }
    const d = decoded[i];
    if (op.op === 'removeFromQueue') ops[i] = { op: 'removeFromQueue', fetched: (op.fetched as RoutedFetchedJob).inner };
    else if (d && 'backendId' in d) (op as { jobId: string }).jobId = (d as { backendId: string }).backendId;
  }
  const commit = (rename: ReadonlyMap<string, string> | null) => {
    const final = rename ? ops.map((op) => ('jobId' in op && rename.has(op.jobId) ? ({ ...op, jobId: rename.get(op.jobId)! } as RecordedOp) : op)) : ops;
    return ctx.on(target, (s) => commitRecorded(s, final));
  };
  try {
    await commit(null);
  } catch (err) {
    // Nothing was written: ids a move renamed resolve through the unit's alias hash, then commit again.
    if (!(err instanceof JobNotFoundError)) throw err;
    const rename = await ctx.resolveIds(
      target,
      ops.flatMap((op) => ('jobId' in op ? [op.jobId] : [])),
    );
    if (rename.size === 0) throw err;
    await commit(rename);
  }
  return result;
}

/** The unit a routed fetched job came from; a job fetched elsewhere (another tenant, or a shard's storage directly) is refused. */
function fetchedUnit(ctx: TenantContext, fetched: FetchedJob): { unit: Unit } {
  if (!(fetched instanceof RoutedFetchedJob) || fetched.ctx !== ctx) {
    throw new InvalidArgumentError(
      `job '${String(fetched.jobId)}' was not fetched from this tenant's storage; remove it from its queue in a transaction of the storage that fetched it`,
    );
  }
  return { unit: fetched.unit };
}
