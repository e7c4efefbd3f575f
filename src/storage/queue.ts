import type { JobRecord, NewState } from './job.js';

/** How a fetch waits, how long its lease lasts, and what it reads and changes in the same round trip. */
export interface FetchOptions {
  /** Aborting rejects a waiting fetch with the signal's reason. */
  signal?: AbortSignal;
  /**
   * How long the job stays invisible to other consumers unless extended.
   * Default 30 minutes. Invisibility is sliding: `extend()` pushes the deadline.
   */
  invisibilityTimeoutMs?: number;
  /**
   * Read each fetched job's record in the fetch's own round trip (FetchedJob.job),
   * so a worker needs no second call. Off by default: a consumer that only moves
   * queue entries pays nothing for it.
   */
  withJob?: boolean;
  /**
   * Needs `withJob`. In the fetch's own round trip and atomically with each lease,
   * every fetched job whose current state is one of `from` gets `state` (appended to
   * its history and made current), and `FetchedJob.job` is the job after that change;
   * a job in any other state is handed out unchanged. A worker marks its jobs
   * Processing this way with no write of its own before it runs them.
   */
  setState?: FetchStateChange;
}

/** A state a fetch gives each job it leases whose current state is one of `from`. */
export interface FetchStateChange {
  state: NewState;
  /** The states a job may be in to take the new one (1 to 16 names). */
  from: readonly string[];
}

/**
 * A job handed to exactly one consumer. Each method is fenced by this
 * delivery's token: once the lease expired and another consumer fetched the
 * job, these throw LeaseLostError instead of touching the other delivery.
 */
export interface FetchedJob {
  readonly jobId: string;
  readonly queue: string;
  /** 1 on the first delivery, 2 after one re-delivery, and so on. */
  readonly deliveries: number;
  /**
   * With `withJob`: the job as it was when fetched, read in the fetch's own
   * round trip (so a worker needs no second call before it runs the job), or
   * null if the job no longer exists (expired). Without it: undefined.
   */
  readonly job: JobRecord | null | undefined;
  /** Remove the job from its queue (done). */
  ack(): Promise<void>;
  /** Make the job fetchable again at once, keeping its original place in the queue. */
  requeue(): Promise<void>;
  /** Push the invisibility deadline to now + ms (default: the fetch's timeout). */
  extend(ms?: number): Promise<void>;
}

/**
 * Queues. Jobs enter a queue inside a transaction (`tx.enqueue`).
 * Order: the first queue in the list that has a visible job wins (priority
 * is the caller's order); inside a queue, strictly first-in first-out, and a
 * re-delivered or requeued job keeps its original place.
 */
export interface QueueStore {
  /** Waits until a job is available or `signal` aborts. */
  fetch(queues: readonly string[], options?: FetchOptions): Promise<FetchedJob>;
  /** One attempt, no waiting: a job, or null if none of the queues has a visible one. */
  tryFetch(queues: readonly string[], options?: Omit<FetchOptions, 'signal'>): Promise<FetchedJob | null>;
}
