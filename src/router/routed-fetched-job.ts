import type { JobRecord } from '../storage/job.js';
import type { FetchedJob } from '../storage/queue.js';
import type { Unit } from '../tenancy/unit.js';
import type { TenantContext } from './tenant-context.js';

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
  ack() {
    return this.inner.ack();
  }
  requeue() {
    return this.inner.requeue();
  }
  extend(ms?: number) {
    return this.inner.extend(ms);
  }
}
