import type { JobRecord } from './job.js';
import type { ServerRecord } from './servers.js';

/** Which slice of a list to read. */
export interface Page {
  offset?: number;
  /** Default 50, at most 1000. */
  limit?: number;
}

/** A queue's depth. */
export interface QueueInfo {
  name: string;
  /** Visible jobs waiting to be fetched (including expired leases). */
  waiting: number;
  /** Fetched jobs whose invisibility has not expired. */
  inFlight: number;
  /** Through a router: the queue (or its whole tenant) is paused (router.admin.pause). */
  paused?: boolean;
}

/** Outcomes counted in one day or hour. */
export interface StatisticsPoint {
  /** `YYYY-MM-DD` for days, `YYYY-MM-DDTHH` for hours, UTC. */
  period: string;
  succeeded: number;
  failed: number;
}

/** Outcomes counted in all, per day and per hour. */
export interface Statistics {
  succeeded: number;
  failed: number;
  deleted: number;
  /** Oldest first. */
  perDay: StatisticsPoint[];
  perHour: StatisticsPoint[];
}

/** Reads for operators and dashboards: queues, jobs by state, a job's history, servers, statistics. */
export interface MonitoringApi {
  /** Every queue that holds at least one entry, sorted by name. */
  queues(): Promise<QueueInfo[]>;
  /** Waiting jobs of a queue in the order they will be fetched. */
  queueJobs(queue: string, page?: Page): Promise<JobRecord[]>;
  /** Number of jobs per current state name. */
  stateCounts(): Promise<Record<string, number>>;
  /** Jobs in a state, most recent state change first. */
  jobsInState(state: string, page?: Page): Promise<JobRecord[]>;
  /** One job with its full history (oldest first); JobNotFoundError if absent. */
  jobDetails(id: string): Promise<{ job: JobRecord; history: import('./job.js').StateRecord[] }>;
  /** Every server record of the namespace. */
  servers(): Promise<ServerRecord[]>;
  /** Totals and the last `days` days / `hours` hours from the `stats:*` counters. */
  statistics(options?: { days?: number; hours?: number }): Promise<Statistics>;
}
