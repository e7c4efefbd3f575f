import type { DataStore } from './data.js';
import type { JobStore } from './job.js';
import type { LockManager } from './lock.js';
import type { MonitoringApi } from './monitoring.js';
import type { QueueStore } from './queue.js';
import type { ServerRegistry } from './servers.js';
import type { WriteTransaction } from './transaction.js';
import type { UnitOwnership } from './ownership.js';
import type { ImportFence, ItemRef, UnitImport, UnitItem } from './unit-stream.js';

/**
 * One storage: the whole contract for one namespace (a tenant or a tenant's
 * queue group). A backend's storage and a router's tenant storage behave the
 * same; `test/conformance` is the definition.
 */
export interface Storage {
  readonly jobs: JobStore;
  readonly queues: QueueStore;
  readonly locks: LockManager;
  readonly data: DataStore;
  readonly servers: ServerRegistry;
  readonly monitoring: MonitoringApi;
  /**
   * Runs fn, which records writes on tx, then commits them atomically. If fn
   * throws, nothing is written. Resolves with fn's result after commit.
   */
  transaction<T>(fn: (tx: WriteTransaction) => T | Promise<T>): Promise<T>;
  /**
   * Where a queue's jobs live, when the storage knows (a router's tenant
   * storage does once its placement has loaded; a bare backend's has no shard id). Used for
   * metric labels and span attributes.
   */
  locate?(queue: string): { shard: string; backend: string } | undefined;
  /** The tenant a router's tenant storage belongs to (a bare backend's storage has none). For telemetry. */
  readonly tenant?: string;
}

/** A backend serves any number of isolated namespaces on one server. */
export interface Backend {
  /** 'memory', 'postgres', 'redis'. */
  readonly kind: string;
  /** Connects and prepares the schema; idempotent. Other calls open lazily too. */
  open(): Promise<void>;
  /**
   * The storage of one namespace: 1–200 characters of letters, digits and
   * `_ - . :`. Namespaces never see each other's jobs, queues, locks or data.
   */
  storage(namespace: string): Storage;
  /**
   * Queue lengths of every namespace on this backend, in one round trip (for
   * operators and telemetry: the cost does not grow with a query per tenant).
   */
  queueDepths(): Promise<QueueDepth[]>;
  /** A namespace's ownership record on this server (see UnitOwnership; no record reads as active). */
  ownership(namespace: string): Promise<UnitOwnership>;
  /**
   * Sets it; resolves once every write or fetch begun under the old record
   * has finished. Placement changes use it: a router never calls it per job.
   */
  setOwnership(namespace: string, own: UnitOwnership): Promise<void>;
  /** True when the namespace holds any job, queue entry, structure, lock or server here. */
  hasData(namespace: string): Promise<boolean>;
  /** Every namespace that holds anything here (for moving whole slots: admin use, it reads every key or row). */
  units(): Promise<string[]>;
  /** A namespace's whole content as a backend-neutral stream (moves copy units with it; see NamespaceDriver.exportUnit). */
  exportUnit(namespace: string): AsyncIterable<UnitItem[]>;
  /** Writes an export into an empty namespace, bypassing its ownership record (see NamespaceDriver.beginImport). */
  importUnit(namespace: string, batches: AsyncIterable<readonly UnitItem[]>): Promise<void>;
  /** An import session: a whole export, then deltas (a move's catch-up); fenced by the move's mark when given. */
  beginImport(namespace: string, fence?: ImportFence): UnitImport;
  /** Change tracking for a move's catch-up (see NamespaceDriver.trackChanges). */
  trackChanges(namespace: string, on: boolean): Promise<void>;
  /** The refs of what changed in a namespace since the last call, while tracking is on (a move's catch-up reads them). */
  takeChanges(namespace: string): Promise<ItemRef[]>;
  /** The current content of the items named by `refs`, as a unit stream (a move copies each change with it). */
  exportRefs(namespace: string, refs: readonly ItemRef[]): Promise<UnitItem[]>;
  /** Deletes a namespace's content, keeping its ownership record (a moved source's copy, a rolled-back target). */
  clearUnit(namespace: string): Promise<void>;
  /**
   * Calls fn (possibly spuriously) when signal(namespace) is called by any
   * process on this server; returns an unsubscribe. Best effort: a lost
   * signal must only delay, never break, what listens.
   */
  watch(namespace: string, fn: () => void): () => void;
  /** Wakes what watches the namespace (watch()), in every process on this server. */
  signal(namespace: string): Promise<void>;
  /**
   * The namespaces with visible work in any of `queues`: a waiting queue entry, or a leased one
   * whose lease has lapsed. One call per backend, whatever the number of namespaces: its cost
   * follows the namespaces that hold queue entries, not the idle ones (on a Redis Cluster, which
   * cannot keep the index inside its scripts, it reads every registered namespace). A hint for a
   * server that serves many units: every namespace with visible work is listed, and one listed may
   * have had its work taken by the time it is fetched from.
   */
  unitsWithWork(queues: readonly string[]): Promise<string[]>;
  /**
   * The namespaces with a due member: one of the DUE_SETS sorted sets (scheduled jobs, recurring
   * jobs) holds a member whose score (ms since 1970) is now or past. One call per backend; its
   * cost follows the namespaces with members in those sets, not the idle ones.
   */
  unitsWithDue(): Promise<string[]>;
  /**
   * Calls fn with a namespace whenever work may have become visible in it (an enqueue or requeue,
   * by any process on this server), and with null when wake-ups may have been lost (the channel
   * reconnected): then any namespace may have work. One channel for the whole backend; best
   * effort, like watch: a lost wake-up only delays, so poll unitsWithWork too.
   */
  watchWork(fn: (namespace: string | null) => void): () => void;
  /**
   * The namespaces that hold jobs (or a scheduled or recurring entry) here, for operator views:
   * one call per backend. May list a namespace whose jobs have since expired or moved away.
   */
  namespaces(): Promise<string[]>;
  /** Job counts per current state of each of `namespaces` (as monitoring.stateCounts), one call per backend. */
  stateCountsOf(namespaces: readonly string[]): Promise<Map<string, Record<string, number>>>;
  /** Each counter of `keys` summed over every namespace here (the statistics of a whole shard), one call per backend. */
  counterSums(keys: readonly string[]): Promise<Record<string, number>>;
  /** Closes connections and timers. Storages of a closed backend must not be used any more. */
  close(): Promise<void>;
}

export interface QueueDepth {
  namespace: string;
  queue: string;
  waiting: number;
  inFlight: number;
}
