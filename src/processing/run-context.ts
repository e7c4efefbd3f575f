import type { JobRecord } from '../storage/job.js';
import type { JobContext } from './handler.js';
import type { LazyAbort } from './lazy-abort.js';

/**
 * The JobContext a handler gets. A class, with `signal` a getter on its prototype: an object
 * literal with its own getter was defined through V8's slow runtime path on every run (3.5% of a
 * memory-backend drain's CPU in a profile). Its signal's controller is made only if read.
 */
export class RunContext implements JobContext {
  readonly jobId: string;
  readonly type: string;
  readonly queue: string;
  readonly attempt: number;
  /** Set only over a router, as JobContext says. */
  declare readonly tenant?: string;
  readonly #abort: LazyAbort;

  constructor(job: JobRecord, attempt: number, abort: LazyAbort, tenant: string | undefined) {
    this.jobId = job.id;
    this.type = job.type;
    this.queue = job.queue;
    this.attempt = attempt;
    this.#abort = abort;
    if (tenant !== undefined) (this as { tenant?: string }).tenant = tenant;
  }

  get signal(): AbortSignal {
    return this.#abort.signal;
  }
}
