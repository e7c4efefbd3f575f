import type { JsonValue } from './json.js';

/** A state a job enters, e.g. `{ name: 'Enqueued' }` or `{ name: 'Failed', reason: 'timeout' }`. */
export interface NewState {
  /** 1–50 characters. jobshard's processing core uses Scheduled, Enqueued, Processing, Succeeded, Failed, Deleted. */
  name: string;
  reason?: string;
  /** Free-form string fields (e.g. `enqueueAt`, `serverId`, `error`). */
  data?: Record<string, string>;
}

/** One entry of a job's state history, as stored. */
export interface StateRecord {
  name: string;
  reason: string | null;
  data: Record<string, string>;
  createdAt: Date;
}

/** A job to create: `jobs.create(input)`. */
export interface CreateJobInput {
  /** The handler's name, e.g. `email.send`. */
  type: string;
  /** JSON-serializable arguments; checked and size-limited before anything is written. */
  args: JsonValue[];
  /** The queue the job belongs to; routers place the job with this queue. */
  queue: string;
  parameters?: Record<string, string>;
  /**
   * The job record expires this long after creation unless a transaction
   * persists it. A job created without state only becomes real when a
   * transaction sets its state, so an abandoned creation cleans itself up.
   * Omit for no expiry.
   */
  expireInMs?: number;
  /**
   * The job's first state: its current state and the first entry of its
   * history, written in the same atomic step as the job itself.
   */
  state?: NewState;
  /**
   * Put the job at the tail of `queue` in the same atomic step: it is
   * fetchable once `create` resolves, and waiting fetches wake. With `state`,
   * this is a whole enqueue in one write (one round trip, one commit) instead
   * of a create followed by a transaction.
   */
  enqueue?: boolean;
}

/** A job as storage returns it: its type, arguments, queue, current state, parameters and expiry. */
export interface JobRecord {
  id: string;
  type: string;
  args: JsonValue[];
  queue: string;
  /** Current state name, or null for a job created but never given a state. */
  state: string | null;
  stateReason: string | null;
  stateData: Record<string, string>;
  /** When the current state was set (null with no state). */
  stateAt: Date | null;
  createdAt: Date;
  parameters: Record<string, string>;
  /** When the record will be deleted, or null if it never expires. */
  expireAt: Date | null;
}

/**
 * The job store. Every call with an id this storage does not hold (unknown,
 * malformed, expired, or another namespace's) throws JobNotFoundError.
 * State changes, expiry and persisting go through `storage.transaction`.
 */
export interface JobStore {
  /** Creates a job; with `state` and `enqueue: true`, its first state and queue entry in the same atomic write. Returns its id. */
  create(input: CreateJobInput): Promise<string>;
  /** A job by id; JobNotFoundError for an unknown, expired or other namespace's id. */
  get(id: string): Promise<JobRecord>;
  /** Full state history, oldest first. */
  history(id: string): Promise<StateRecord[]>;
  /** One parameter of a job, or null when it has none; JobNotFoundError for an unknown job. */
  getParameter(id: string, name: string): Promise<string | null>;
  /** Sets one parameter of a job; JobNotFoundError for an unknown job. */
  setParameter(id: string, name: string, value: string): Promise<void>;
}
