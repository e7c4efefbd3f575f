// What the peer benchmark drives: one job system, set up on one kind of server.
export interface Subject {
  /** Shown in the table, e.g. "BullMQ 6.7.0". */
  name: string;
  server: 'redis' | 'postgres' | '2 redis + 2 postgres';
  /** How it is configured, and why (each peer as its documentation recommends for throughput). */
  config: string;
  /** Adds one no-op job. */
  enqueue(): Promise<void>;
  /** Starts workers with the benchmark's concurrency; onJob is called when a handler starts. Returns their stop. */
  start(onJob: () => void): Promise<() => Promise<void>>;
  /** Stops everything and deletes what the subject wrote. */
  close(): Promise<void>;
}

export const CONCURRENCY = 32;
