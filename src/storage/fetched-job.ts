import type { FetchedEntry, NamespaceDriver, LeasedEntry } from './driver.js';
import { LeaseLostError } from './errors.js';
import type { JobRecord } from './job.js';
import type { FetchedJob } from './queue.js';
import { checkMs } from './validate.js';

/**
 * The delivery behind a FetchedJob, for the storage that handed it out (a transaction's
 * removeFromQueue). A symbol, so it stays off the public surface and passes through the
 * proxies and wrappers of upper layers.
 */
export const LEASE = Symbol('jobshard.lease');

export interface Lease {
  owner: NamespaceDriver;
  entry: LeasedEntry;
}

export function leaseOf(fetched: FetchedJob): Lease | undefined {
  return (fetched as unknown as { [LEASE]?: Lease })[LEASE];
}

export class DriverFetchedJob implements FetchedJob {
  readonly #driver: NamespaceDriver;
  readonly #entry: LeasedEntry;
  readonly #invisibilityMs: number;
  readonly #ack: (entry: LeasedEntry) => Promise<boolean>;
  readonly job: JobRecord | null | undefined;

  constructor(driver: NamespaceDriver, fetched: FetchedEntry, invisibilityMs: number, ack: (entry: LeasedEntry) => Promise<boolean>) {
    this.#driver = driver;
    // Named fields, not a rest pattern: copying with `...` was a slow generic path on every fetch.
    this.job = fetched.job;
    this.#entry = { jobId: fetched.jobId, queue: fetched.queue, token: fetched.token, deliveries: fetched.deliveries };
    this.#invisibilityMs = invisibilityMs;
    this.#ack = ack;
  }

  get [LEASE](): Lease {
    return { owner: this.#driver, entry: this.#entry };
  }

  get jobId(): string {
    return this.#entry.jobId;
  }
  get queue(): string {
    return this.#entry.queue;
  }
  get deliveries(): number {
    return this.#entry.deliveries;
  }

  async ack(): Promise<void> {
    if (!(await this.#ack(this.#entry))) throw this.#lost('ack');
  }
  async requeue(): Promise<void> {
    if (!(await this.#driver.requeue(this.#entry))) throw this.#lost('requeue');
  }
  async extend(ms: number = this.#invisibilityMs): Promise<void> {
    checkMs('extend ms', ms, 1);
    if (!(await this.#driver.extend(this.#entry, ms))) throw this.#lost('extend');
  }

  #lost(what: string): LeaseLostError {
    return new LeaseLostError(`cannot ${what} job '${this.jobId}' of queue '${this.queue}'`);
  }
}
