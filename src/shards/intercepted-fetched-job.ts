import { LEASE, leaseOf, type Lease } from '../storage/fetched-job.js';
import type { JobRecord } from '../storage/job.js';
import type { FetchedJob } from '../storage/queue.js';
import { UNOBSERVED, type CallSite, type Interceptor } from './call-site.js';

/**
 * A fetched job whose acknowledgement, requeue and extension pass through a shard's interceptor.
 * A class rather than a proxy: one is made per fetch, and its fields are read on every job.
 */
export class InterceptedFetchedJob implements FetchedJob {
  constructor(
    readonly inner: FetchedJob,
    readonly namespace: string,
    readonly intercept: Interceptor,
    readonly observed: () => boolean,
  ) {}

  get jobId(): string {
    return this.inner.jobId;
  }
  get queue(): string {
    return this.inner.queue;
  }
  get deliveries(): number {
    return this.inner.deliveries;
  }
  get job(): JobRecord | null | undefined {
    return this.inner.job;
  }
  /** The delivery behind it, for the transaction that acknowledges it (removeFromQueue). */
  get [LEASE](): Lease | undefined {
    return leaseOf(this.inner);
  }

  ack(): Promise<void> {
    return this.intercept(this.#site('ack'), () => this.inner.ack());
  }
  requeue(): Promise<void> {
    return this.intercept(this.#site('requeue'), () => this.inner.requeue());
  }
  extend(ms?: number): Promise<void> {
    return this.intercept(this.#site('extend'), () => this.inner.extend(ms));
  }

  #site(method: string): CallSite {
    return this.observed() ? { component: 'fetched', method, namespace: this.namespace, subject: this.inner } : UNOBSERVED;
  }
}
