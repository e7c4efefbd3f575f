import type { JsonValue } from '../storage/json.js';

/** What a handler knows of the run: the job, its attempt, its tenant (over a router) and a signal that fires when the server stops past its timeout. */
export interface JobContext {
  jobId: string;
  type: string;
  queue: string;
  /** 1 on the first run; a retry after a failure is attempt 2, and so on. */
  attempt: number;
  /** The tenant whose job this is, when the server runs over a router (JobServer(router, …)). */
  tenant?: string;
  /**
   * Aborts when the server stops past its shutdown timeout, or when this job's lease was lost to
   * another worker. A getter (its controller is made only when read): `{ ...ctx }` does not copy it.
   */
  readonly signal: AbortSignal;
}

/** Runs one job: gets its arguments and context; a throw (or rejection) fails the attempt. */
export type JobHandler = (args: JsonValue[], ctx: JobContext) => unknown | Promise<unknown>;

/** How often a failing job runs again, and how long it waits in between (exponential backoff with jitter). */
export interface RetryPolicy {
  /** Runs in all, the first included. Default 3. */
  attempts?: number;
  /** Delay before the first retry; doubles each time. Default 1000 ms. */
  baseDelayMs?: number;
  /** Cap on one delay. Default 10 minutes. */
  maxDelayMs?: number;
  /** Random extra delay, as a fraction of the delay (0–1), so retries of many jobs spread out. Default 0.2. */
  jitter?: number;
}

/** A handler, or a handler with its own retry policy. */
export type HandlerEntry = JobHandler | ({ handler: JobHandler } & RetryPolicy);

/** Delay before retry number `failedAttempts` (1 = after the first failure): exponential, capped, with jitter. */
export function backoffMs(failedAttempts: number, policy: Required<RetryPolicy>, random = Math.random): number {
  const base = Math.min(policy.maxDelayMs, policy.baseDelayMs * 2 ** (failedAttempts - 1));
  return Math.round(base * (1 + policy.jitter * random()));
}
