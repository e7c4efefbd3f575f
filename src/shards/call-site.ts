/** Where a call goes, for interceptors (health, telemetry). */
export interface CallSite {
  /** 'jobs', 'queues', 'locks', 'data', 'servers', 'monitoring', 'transaction', 'fetched' (a FetchedJob) or 'lock' (a Lock). */
  component: string;
  method: string;
  /** The backend namespace the call is for. */
  namespace: string;
  /** The object the method is called on (e.g. the FetchedJob for 'fetched'). */
  subject?: unknown;
  /**
   * The queue of each enqueue the call makes: for 'transaction', those it recorded; for 'jobs'
   * 'create' with `enqueue: true`, the job's queue.
   */
  enqueues?: string[];
  /** For 'transaction': the queue of each fetched job it acknowledges (removeFromQueue). */
  acks?: string[];
}

/** Runs every call of a storage (and of the fetched jobs and locks it hands out) through `intercept`. */
export type Interceptor = <T>(site: CallSite, call: () => Promise<T>) => Promise<T>;

/**
 * The site passed while `observed()` says no interceptor reads sites (only the shard's breaker
 * sees the calls): building one per call was a measurable share of a routed call.
 */
export const UNOBSERVED: CallSite = Object.freeze({ component: '', method: '', namespace: '' });
