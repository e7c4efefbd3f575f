import { LeaseLostError, UnitMovedError } from '../storage/errors.js';
import type { JobRecord } from '../storage/job.js';
import type { FetchedJob } from '../storage/queue.js';
import type { Unit } from '../tenancy/unit.js';
import type { TenantContext } from './tenant-context.js';
import { throughFreeze } from './through-freeze.js';

/** A fetched job as the tenant sees it: the router's id, the backend's lease (and the unit it came from, for removeFromQueue). */
export class RoutedFetchedJob implements FetchedJob {
  constructor(
    readonly inner: FetchedJob,
    readonly ctx: TenantContext,
    readonly unit: Unit,
    readonly jobId: string,
    readonly job: JobRecord | null | undefined,
  ) {}
  get queue() {
    return this.inner.queue;
  }
  get deliveries() {
    return this.inner.deliveries;
  }
  // The lease lives on the shard that handed it out: these go there, not through the unit's lane,
  // so they wait out a freeze themselves.
  ack() {
    return throughFreeze(() => this.inner.ack(), this.ctx.route.frozenWaitMs).catch(movedAway);
  }
  requeue() {
    return throughFreeze(() => this.inner.requeue(), this.ctx.route.frozenWaitMs).catch(movedAway);
  }
  extend(ms?: number) {
    return throughFreeze(() => this.inner.extend(ms), this.ctx.route.frozenWaitMs).catch(movedAway);
  }
}

/**
 * A delivery's lease stays on the shard that handed it out. When its unit
 * moves, the copy on the new shard keeps the entry invisible until the same
 * deadline and then delivers it again: at-least-once, never two live leases.
 */
function movedAway(err: unknown): never {
  if (err instanceof UnitMovedError)
    throw new LeaseLostError(`the job's unit moved to shard '${err.toShard}' while it was leased; it is delivered again there once this lease lapses`, {
      cause: err,
    });
  throw err;
}
