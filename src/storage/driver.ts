import type { DataStore } from './data.js';
import type { JobRecord, NewState, StateRecord } from './job.js';
import type { QueueInfo } from './monitoring.js';
import type { FetchStateChange } from './queue.js';
import type { ServerInfo, ServerRecord } from './servers.js';
import type { WriteOp } from './transaction.js';
import type { UnitOwnership } from './ownership.js';
import type { ImportFence, ItemRef, UnitImport, UnitItem } from './unit-stream.js';

/**
 * What a backend implements for one namespace. Inputs arrive validated
 * (createStorage checks them once for every backend); the driver only does
 * I/O and reports "not found" / "lease lost" as return values, which
 * createStorage turns into the contract's typed errors.
 */
export interface NamespaceDriver {
  /** The namespace this driver serves (for errors). */
  readonly namespace: string;
  /**
   * The unit's ownership record on this server. Every write and fetch below
   * checks it atomically with its effect and throws UnitMovedError /
   * UnitFrozenError (writing nothing) when it refuses; reads are checked by
   * createStorage after they return.
   */
  ownership(): Promise<UnitOwnership>;
  /**
   * Replaces the record. Resolves only once every write or fetch that began
   * under the old record has finished, so after a freeze nothing more lands.
   * A `moved` record of an older epoch than the one stored is ignored (isOlderMark).
   */
  setOwnership(own: UnitOwnership): Promise<void>;
  /** True when the namespace holds anything: a job, queue entry, structure, lock record or server. */
  hasData(): Promise<boolean>;
  /**
   * The namespace's whole content (see UnitItem), in batches: every job
   * before any queue entry, each queue's entries in FIFO order. Not a
   * snapshot unless writes are refused meanwhile (a move freezes the unit).
   */
  exportUnit(): AsyncIterable<UnitItem[]>;
  /**
   * Writes an export into this namespace, which must hold nothing, whatever
   * its ownership record says (a move imports into a unit nobody routes to
   * yet): a whole export, then deltas that replace what changed (see
   * UnitImport). Ids, id counters and fencing counters end up above the
   * imported ones, so nothing issued here later repeats one issued at the source.
   * With a fence, every call first checks the record (see ImportFence).
   */
  beginImport(fence?: ImportFence): UnitImport;
  /**
   * Starts (true) or stops (false) recording what every write and fetch of
   * the namespace changes, for a move's catch-up. Off, it costs nothing.
   */
  trackChanges(on: boolean): Promise<void>;
  /** The refs changed since tracking began or since the last call, each once; taking them clears them. */
  takeChanges(): Promise<ItemRef[]>;
  /** The items the refs name as they are now; a `gone` item for each that no longer exists. */
  exportRefs(refs: readonly ItemRef[]): Promise<UnitItem[]>;
  /** Deletes everything the namespace holds except its ownership record. */
  clearUnit(): Promise<void>;
  /** Writes a new job (with its first state and queue entry when the row says so); returns its id. */
  createJob(input: NewJobRow): Promise<string>;
  /** Optional, used when batching: many creates in one statement (and one commit); ids in input order. */
  createJobs?(inputs: readonly NewJobRow[]): Promise<string[]>;
  /** null when the id is unknown, malformed or expired. */
  getJob(id: string): Promise<JobRecord | null>;
  /** Optional, used when batching: many reads in one round trip; result[i] is ids[i]'s job or null. */
  getJobs?(ids: readonly string[]): Promise<Array<JobRecord | null>>;
  /** A job's states, oldest first; null for an unknown or expired job. */
  getHistory(id: string): Promise<StateRecord[] | null>;
  /** undefined when the job does not exist; null when it has no such parameter. */
  getParameter(id: string, name: string): Promise<string | null | undefined>;
  /** false when the job does not exist. */
  setParameter(id: string, name: string, value: string): Promise<boolean>;
  /**
   * All-or-nothing; throws JobNotFoundError (and writes nothing) if any job id is absent.
   * When batching, createStorage may hand in several transactions' ops concatenated
   * (a group commit): the backend must apply them in order, as one transaction.
   */
  commit(ops: readonly WriteOp[]): Promise<void>;

  /**
   * Atomically leases up to `count` visible entries: the first queue's in
   * FIFO order, then the next queue's, and so on. Returned in that order.
   * setState (only with withJob) is applied to each leased job in a `from` state, atomically with its lease.
   */
  tryFetch(queues: readonly string[], invisibilityMs: number, count: number, withJob: boolean, setState: FetchStateChange | null): Promise<FetchAttempt>;
  /** Calls wake (possibly spuriously) when work may have arrived in one of the queues; returns an unsubscribe. */
  subscribeWork(queues: readonly string[], wake: () => void): () => void;
  /** Fallback wait between fetch attempts when no wake-up arrives (ms). */
  readonly pollIntervalMs: number;
  /**
   * How many batches of each kind of call (create, read, commit, fetch, ack) may be in
   * flight at once; 0 = no batching, every call goes out alone (see Batcher). Concurrent
   * calls then share round trips: on Postgres that saves commits, on Redis the client's
   * per-command cost and, when many idle workers wake at once, one fetch serves them all.
   */
  readonly batchInFlight: number;
  /** How many calls one batch may carry (default 64). */
  readonly batchMax?: number;
  /** How creates are batched, where it differs from the other calls (batchInFlight, up to batchMax calls a batch). */
  readonly createBatches?: { readonly inFlight: number; readonly max: number };
  /** Outcome writes a JobServer worker may have in flight here (default 3: see outcome-depth.ts). */
  readonly outcomeDepth?: number;
  /** Removes each entry still leased under its token; result[i] false = entries[i]'s lease was lost. */
  ack(entries: readonly LeasedEntry[]): Promise<boolean[]>;
  /** false = the entry is no longer leased under this token. */
  requeue(entry: LeasedEntry): Promise<boolean>;
  /** Pushes a leased entry's deadline to now + ms; false = the entry is no longer leased under this token. */
  extend(entry: LeasedEntry, ms: number): Promise<boolean>;

  /** A new fencing token, or null if another holder's lease is live. */
  tryLock(resource: string, ttlMs: number): Promise<number | null>;
  /** Renews a lock held under `token` for ttlMs; false = it lapsed or was taken since. */
  extendLock(resource: string, token: number, ttlMs: number): Promise<boolean>;
  /** Releases a lock held under `token` (nothing when a later holder has it). */
  releaseLock(resource: string, token: number): Promise<void>;

  readonly data: DataStore;

  /** Writes (or rewrites) a server record, with its start and heartbeat at now. */
  announceServer(id: string, info: ServerInfo): Promise<void>;
  /** false when the server record does not exist. */
  heartbeat(id: string): Promise<boolean>;
  /** Deletes a server record. */
  removeServer(id: string): Promise<void>;
  /** Deletes the records whose heartbeat is older than timeoutMs; returns how many. */
  removeTimedOutServers(timeoutMs: number): Promise<number>;
  /** Every server record. */
  listServers(): Promise<ServerRecord[]>;

  /** Each queue holding entries, with its waiting and in-flight counts. */
  queueInfo(): Promise<QueueInfo[]>;
  /** A queue's waiting jobs in fetch order, paged. */
  queueJobs(queue: string, offset: number, limit: number): Promise<JobRecord[]>;
  /** Job counts per current state. */
  stateCounts(): Promise<Record<string, number>>;
  /** Jobs in a state, newest state change first, paged. */
  jobsInState(state: string, offset: number, limit: number): Promise<JobRecord[]>;
}

/** A job to create, checked and serialized by createStorage before a driver sees it. */
export interface NewJobRow {
  type: string;
  argsJson: string;
  queue: string;
  parameters: Record<string, string>;
  expireInMs: number | null;
  /** Applied with the creation, atomically: the current state and first history entry. */
  state: NewState | null;
  /** Enqueued with the creation, atomically (at the queue's tail; waiting fetches are woken). */
  enqueue: boolean;
}

/** A queue entry leased to one consumer: its delivery token fences every later call about it. */
export interface LeasedEntry {
  jobId: string;
  queue: string;
  /** Opaque delivery token that fences ack/requeue/extend. */
  token: string;
  deliveries: number;
}

/** A leased entry as a fetch hands it out: with the job read in the same round trip when asked. */
export interface FetchedEntry extends LeasedEntry {
  /** With withJob: the job, or null when it no longer exists (unknown or expired). Without: undefined. */
  job: JobRecord | null | undefined;
}

/** What one fetch round trip found: the entries leased, and when to try again. */
export interface FetchAttempt {
  entries: FetchedEntry[];
  /** When fewer entries than asked were visible: ms until the earliest lease among the queues lapses (null if none). */
  nextVisibleInMs: number | null;
}
