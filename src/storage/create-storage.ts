import type { DataStore, StructureKind } from './data.js';
import type { FetchedEntry, LeasedEntry, NamespaceDriver, NewJobRow } from './driver.js';
import { InvalidArgumentError, JobNotFoundError, LeaseLostError, LockTimeoutError, ServerGoneError } from './errors.js';
import { DriverFetchedJob, leaseOf } from './fetched-job.js';
import type { CreateJobInput, JobRecord, JobStore, StateRecord } from './job.js';
import type { AcquireOptions, Lock, LockManager } from './lock.js';
import type { MonitoringApi, Page, QueueInfo, Statistics } from './monitoring.js';
import type { FetchedJob, FetchOptions, FetchStateChange, QueueStore } from './queue.js';
import { ADOPT_LOCK, RenewingLock } from './renewing-lock.js';
import { readStatistics } from './read-statistics.js';
import type { ServerInfo, ServerRecord, ServerRegistry } from './servers.js';
import type { Storage } from './storage.js';
import { COMMIT_RECORDED, type CommitsRecorded } from './commit-recorded.js';
import { DEFAULT_OUTCOME_DEPTH, OUTCOME_DEPTH, type OutcomeDepth } from './outcome-depth.js';
import { DEFAULT_INVISIBILITY_MS, DEFAULT_LOCK_TTL_MS, DEFAULT_MAX_PAYLOAD_BYTES, type StorageOptions } from './storage-options.js';
import { checkKind, checkState, recordTransaction } from './transaction-builder.js';
import type { RecordedOp, WriteOp, WriteTransaction } from './transaction.js';
import { checkFlag, checkInt, checkMs, checkName, checkPage, checkQueues, checkScore, checkString, checkStringRecord, serializeArgs } from './validate.js';
import { sleep } from './sleep.js';
import { Batcher } from './batcher.js';
import { WaitList, type Waiter } from './wait-list.js';
import { mergeCounterIncrements } from './merge-counters.js';
import { setMaxListeners } from 'node:events';
import { refusal } from './ownership.js';

const MAX_BATCH = 64;

/** A Batcher as the driver asks: up to batchInFlight batches at once, or every call alone. */
function batcher<I, O>(
  driver: NamespaceDriver,
  run: (inputs: I[]) => Promise<O[]>,
  inFlight = driver.batchInFlight,
  max = driver.batchMax ?? MAX_BATCH,
): Batcher<I, O> {
  return driver.batchInFlight > 0 ? new Batcher(run, max, inFlight) : new Batcher(run, 1, Infinity);
}

/**
 * The one implementation of the public Storage surface. Every backend hands
 * in a NamespaceDriver; validation, typed errors, the fetch wait loop and
 * lock renewal live here once, so backends cannot drift apart on them.
 */
export function createStorage(driver: NamespaceDriver, options: StorageOptions = {}): Storage {
  const maxPayloadBytes = options.maxPayloadBytes ?? DEFAULT_MAX_PAYLOAD_BYTES;
  const fence = new ReadFence(driver);
  const data = new CheckedDataStore(driver.data, fence);
  const jobs = new CheckedJobStore(driver, maxPayloadBytes, fence);
  const servers = new CheckedServers(driver, fence);
  const commits = driver.batchInFlight > 0 ? batcher(driver, (batches: Array<readonly WriteOp[]>) => groupCommit(driver, batches)) : null;
  const commit = async (recorded: readonly RecordedOp[]): Promise<void> => {
    if (recorded.length === 0) return;
    const ops = resolveLeases(driver, recorded);
    if (!commits) return driver.commit(ops);
    const failed = await commits.push(ops);
    if (failed) throw failed;
  };
  const storage: Storage & CommitsRecorded & OutcomeDepth = {
    jobs,
    queues: new CheckedQueues(driver),
    locks: new CheckedLocks(driver),
    data,
    servers,
    monitoring: new CheckedMonitoring(driver, jobs, servers, data, fence),
    async transaction<T>(fn: (tx: WriteTransaction) => T | Promise<T>): Promise<T> {
      const { result, ops } = await recordTransaction(fn);
      await commit(ops);
      return result;
    },
    [COMMIT_RECORDED]: commit,
    [OUTCOME_DEPTH]: driver.outcomeDepth ?? DEFAULT_OUTCOME_DEPTH,
  };
  return storage;
}

/**
 * Writes and fetches check the unit's ownership atomically inside the driver.
 * Reads check it after they return: if the unit was still owned here then,
 * it was owned when the read ran (a flip only ever follows a freeze, which
 * reads pass), so the read is as good as one made on the owner. A moved unit
 * fails the read with UnitMovedError. Reads that finish in one turn share one
 * check, which starts only after all of them have finished.
 */
class ReadFence {
  #next: Promise<void> | null = null;
  constructor(readonly driver: NamespaceDriver) {}

  async after<T>(read: Promise<T>): Promise<T> {
    const value = await read;
    await this.#check();
    return value;
  }

  #check(): Promise<void> {
    this.#next ??= Promise.resolve().then(async () => {
      this.#next = null;
      const refused = refusal(this.driver.namespace, await this.driver.ownership(), false);
      if (refused) throw refused;
    });
    return this.#next;
  }
}

/** A removeFromQueue names its delivery by the driver's own entry; a FetchedJob of another storage is refused. */
function resolveLeases(driver: NamespaceDriver, recorded: readonly RecordedOp[]): WriteOp[] {
  return recorded.map((op) => {
    if (op.op !== 'removeFromQueue') return op;
    const lease = leaseOf(op.fetched);
    if (lease && lease.owner !== driver && lease.owner.namespace === driver.namespace) {
      throw new LeaseLostError(
        `job '${op.fetched.jobId}' was fetched from this unit on the shard it lived on before a move; that lease stayed there (the job comes back here when it lapses)`,
      );
    }
    if (!lease || lease.owner !== driver) {
      throw new InvalidArgumentError(
        `job '${op.fetched.jobId}' was fetched from another storage; remove it from its queue in a transaction of the storage that fetched it`,
      );
    }
    return { op: 'removeFromQueue', queue: lease.entry.queue, token: lease.entry.token };
  });
}

/**
 * Concurrent transactions share one commit: on Postgres, commits that notify
 * listeners serialise on the notification queue, so one commit for many is
 * what lets throughput grow with concurrency. A missing job (or a lost lease)
 * fails the whole group before anything is written; then each transaction is
 * committed on its own, so only the one that named it fails. Any other error
 * is not known to have written nothing (a lost connection may follow a
 * commit), so it is not retried: every caller of the group gets it.
 */
async function groupCommit(driver: NamespaceDriver, batches: Array<readonly WriteOp[]>): Promise<Array<Error | null>> {
  if (batches.length === 1) {
    await driver.commit(batches[0]!);
    return [null];
  }
  try {
    await driver.commit(mergeCounterIncrements(batches.flat()));
    return batches.map(() => null);
  } catch (err) {
    if (!(err instanceof JobNotFoundError) && !(err instanceof LeaseLostError)) throw err;
  }
  const results: Array<Error | null> = [];
  for (const ops of batches)
    results.push(
      await driver.commit(ops).then(
        () => null,
        (e: Error) => e,
      ),
    );
  return results;
}

class CheckedJobStore implements JobStore {
  readonly #creates: Batcher<NewJobRow, string> | null;
  readonly #reads: Batcher<string, JobRecord | null> | null;

  constructor(
    readonly driver: NamespaceDriver,
    readonly maxPayloadBytes: number,
    readonly fence: ReadFence,
  ) {
    const { createJobs, getJobs } = driver;
    this.#creates =
      driver.batchInFlight > 0 && createJobs
        ? batcher(driver, (rows: NewJobRow[]) => createJobs.call(driver, rows), driver.createBatches?.inFlight, driver.createBatches?.max)
        : null;
    this.#reads = driver.batchInFlight > 0 && getJobs ? batcher(driver, (ids: string[]) => getJobs.call(driver, ids)) : null;
  }

  async create(input: CreateJobInput): Promise<string> {
    if (input === null || typeof input !== 'object') throw new InvalidArgumentError('create needs { type, args, queue }');
    const type = checkName('jobType', input.type);
    const queue = checkName('queue', input.queue);
    const { json } = serializeArgs(input.args, this.maxPayloadBytes);
    const parameters = input.parameters === undefined ? {} : checkStringRecord('parameters', input.parameters, 'parameter');
    const expireInMs = input.expireInMs === undefined ? null : checkMs('expireInMs', input.expireInMs, 1);
    const state = input.state === undefined ? null : checkState(input.state);
    const row: NewJobRow = { type, argsJson: json, queue, parameters, expireInMs, state, enqueue: checkFlag('enqueue', input.enqueue) };
    return this.#creates ? this.#creates.push(row) : this.driver.createJob(row);
  }

  async get(id: string): Promise<JobRecord> {
    const checked = checkName('jobId', id);
    const job = await this.fence.after(this.#reads ? this.#reads.push(checked) : this.driver.getJob(checked));
    if (!job) throw new JobNotFoundError(id);
    return job;
  }

  async history(id: string): Promise<StateRecord[]> {
    const h = await this.fence.after(this.driver.getHistory(checkName('jobId', id)));
    if (!h) throw new JobNotFoundError(id);
    return h;
  }

  async getParameter(id: string, name: string): Promise<string | null> {
    const v = await this.fence.after(this.driver.getParameter(checkName('jobId', id), checkName('parameter', name)));
    if (v === undefined) throw new JobNotFoundError(id);
    return v;
  }

  async setParameter(id: string, name: string, value: string): Promise<void> {
    const ok = await this.driver.setParameter(checkName('jobId', id), checkName('parameter', name), checkString('parameter value', value));
    if (!ok) throw new JobNotFoundError(id);
  }
}

/** A fetch's options, checked once; calls with the same key share a Batcher and a WaitList. */
interface FetchSpec {
  names: string[];
  invisibilityMs: number;
  withJob: boolean;
  setState: FetchStateChange | null;
  key: string;
}

const MAX_FROM_STATES = 16;

function fetchSpec(queues: readonly string[], options: Omit<FetchOptions, 'signal'>): FetchSpec {
  if (options === null || typeof options !== 'object') throw new InvalidArgumentError('fetch options must be an object');
  const known = frozenSpecs.get(options)?.get(queues);
  if (known) return known;
  const spec = checkedSpec(queues, options);
  // Only deeply frozen inputs can be kept: anything else may change before the next call (a
  // fetch's signal, never frozen, keeps its options out).
  if (Object.isFrozen(queues) && deepFrozen(options)) {
    let byQueues = frozenSpecs.get(options);
    if (!byQueues) frozenSpecs.set(options, (byQueues = new WeakMap()));
    byQueues.set(queues, spec);
  }
  return spec;
}

function checkedSpec(queues: readonly string[], options: Omit<FetchOptions, 'signal'>): FetchSpec {
  const names = frozenQueues.get(queues) ?? remember(frozenQueues, queues, checkQueues(queues));
  const invisibilityMs =
    options.invisibilityTimeoutMs === undefined ? DEFAULT_INVISIBILITY_MS : checkMs('invisibilityTimeoutMs', options.invisibilityTimeoutMs, 1);
  const withJob = checkFlag('withJob', options.withJob);
  const change =
    options.setState === undefined ? null : (frozenChanges.get(options.setState) ?? remember(frozenChanges, options.setState, checkedChange(options.setState)));
  if (change && !withJob) throw new InvalidArgumentError('setState needs withJob: true (the job as changed is how you see whether it took the state)');
  const key = `${JSON.stringify(names)}\u0000${invisibilityMs}\u0000${withJob}\u0000${change?.key ?? ''}`;
  return { names, invisibilityMs, withJob, setState: change?.change ?? null, key };
}

/**
 * Checked queue lists and state changes of deeply frozen objects: they cannot change, so they are
 * checked once. A JobServer passes the same frozen ones to every fetch; checking (and encoding
 * the key of) its state change on each fetch was ~1 KiB of garbage per job.
 */
const frozenQueues = new WeakMap<object, string[]>();
/** The spec of a frozen options object with a frozen queue list: a JobServer's fetches check and key it once, not per fetch. */
const frozenSpecs = new WeakMap<object, WeakMap<object, FetchSpec>>();
const frozenChanges = new WeakMap<object, CheckedChange>();

interface CheckedChange {
  change: FetchStateChange;
  key: string;
}

function remember<T>(cache: WeakMap<object, T>, input: unknown, checked: T): T {
  if (deepFrozen(input)) cache.set(input as object, checked);
  return checked;
}

function deepFrozen(value: unknown): boolean {
  if (value === null || typeof value !== 'object') return true;
  return Object.isFrozen(value) && Object.values(value).every(deepFrozen);
}

function checkedChange(setState: unknown): CheckedChange {
  const change = checkStateChange(setState);
  return { change, key: JSON.stringify(change) };
}

function checkStateChange(change: unknown): FetchStateChange {
  if (change === null || typeof change !== 'object') throw new InvalidArgumentError('setState must be { state, from }');
  const { state, from } = change as FetchStateChange;
  if (!Array.isArray(from) || from.length === 0 || from.length > MAX_FROM_STATES) {
    throw new InvalidArgumentError(`setState.from must list 1 to ${MAX_FROM_STATES} state names`);
  }
  return { state: checkState(state), from: [...new Set(from.map((name) => checkName('state', name)))] };
}

class CheckedQueues implements QueueStore {
  readonly #fetchers = new Map<string, Batcher<void, { entry: FetchedEntry | null; nextVisibleInMs: number | null }>>();
  readonly #acks: Batcher<LeasedEntry, boolean>;
  readonly #waitLists = new Map<string, WaitList>();

  constructor(readonly driver: NamespaceDriver) {
    this.#acks = batcher(driver, (entries: LeasedEntry[]) => driver.ack(entries));
  }

  /** Concurrent fetches of the same queues share round trips (see Batcher). */
  #fetcher(spec: FetchSpec) {
    let b = this.#fetchers.get(spec.key);
    if (!b) {
      const { names, invisibilityMs, withJob, setState } = spec;
      b = batcher(this.driver, async (inputs: void[]) => {
        const { entries, nextVisibleInMs } = await this.driver.tryFetch(names, invisibilityMs, inputs.length, withJob, setState);
        return inputs.map((_, i) => ({ entry: entries[i] ?? null, nextVisibleInMs }));
      });
      this.#fetchers.set(spec.key, b);
    }
    return b;
  }

  #fetched(spec: FetchSpec, entry: FetchedEntry): FetchedJob {
    return new DriverFetchedJob(this.driver, entry, spec.invisibilityMs, (e) => this.#acks.push(e));
  }

  async tryFetch(queues: readonly string[], options: Omit<FetchOptions, 'signal'> = {}): Promise<FetchedJob | null> {
    const spec = fetchSpec(queues, options);
    const { entry } = await this.#fetcher(spec).push();
    return entry ? this.#fetched(spec, entry) : null;
  }

  async fetch(queues: readonly string[], options: FetchOptions = {}): Promise<FetchedJob> {
    const spec = fetchSpec(queues, options);
    const signal = options.signal;
    if (signal !== undefined && !(signal instanceof AbortSignal)) throw new InvalidArgumentError('signal must be an AbortSignal');
    signal?.throwIfAborted();

    const fetcher = this.#fetcher(spec);
    // The hot path (a job is there) touches neither the signal nor the wake-ups: both are set up
    // only once an attempt comes back empty and the fetch is about to wait.
    const first = await fetcher.push();
    if (first.entry) return this.#fetched(spec, first.entry);
    signal?.throwIfAborted();

    let waiter: Waiter | undefined;
    const onAbort = () => waiter?.ring();
    if (signal) {
      // Workers usually share one stop signal, each with a waiting fetch: that is not a leak.
      setMaxListeners(0, signal);
      signal.addEventListener('abort', onAbort);
    }
    const list = this.#waitList(spec);
    // Joined (and so subscribed) before the next attempt, so a job that arrives between it and the wait is not missed.
    waiter = list.join();
    let gotJob = false;
    try {
      for (;;) {
        const attempt = await fetcher.push();
        if (attempt.entry) {
          gotJob = true;
          return this.#fetched(spec, attempt.entry);
        }
        signal?.throwIfAborted();
        if (waiter.again) {
          waiter.again = false;
          continue;
        }
        await waiter.sleep(Math.max(1, Math.min(this.driver.pollIntervalMs, attempt.nextVisibleInMs ?? Infinity)));
        signal?.throwIfAborted();
      }
    } finally {
      list.leave(waiter);
      // More jobs may be waiting behind the one we got; an aborted waiter may have been rung for one.
      list.wake(gotJob ? 2 : 1);
      signal?.removeEventListener('abort', onAbort);
    }
  }

  #waitList(spec: FetchSpec): WaitList {
    let list = this.#waitLists.get(spec.key);
    if (!list) {
      list = new WaitList((wake) => this.driver.subscribeWork(spec.names, wake));
      this.#waitLists.set(spec.key, list);
    }
    return list;
  }
}

class CheckedLocks implements LockManager {
  constructor(readonly driver: NamespaceDriver) {}

  /** See ADOPT_LOCK: a grant made on another shard, carried here by a move. */
  async [ADOPT_LOCK](resource: string, token: number, ttlMs: number, autoRenew: boolean): Promise<RenewingLock> {
    const sentAt = Date.now();
    if (!(await this.driver.extendLock(resource, token, ttlMs)))
      throw new LeaseLostError(`lock '${resource}' (token ${token}) was not carried to the unit's new shard, or lapsed`);
    return new RenewingLock(this.driver, resource, token, ttlMs, autoRenew, sentAt);
  }

  async acquire(resource: string, options: AcquireOptions): Promise<Lock> {
    checkName('resource', resource);
    if (options === null || typeof options !== 'object') throw new InvalidArgumentError('acquire needs options { timeoutMs, ttlMs? }');
    const timeoutMs = checkMs('timeoutMs', options.timeoutMs);
    const ttlMs = options.ttlMs === undefined ? DEFAULT_LOCK_TTL_MS : checkMs('ttlMs', options.ttlMs, 10);
    const deadline = Date.now() + timeoutMs;
    // Back off exponentially with jitter: contenders that retry in step would collide on every try.
    let backoff = 2;
    for (;;) {
      const sentAt = Date.now();
      const token = await this.driver.tryLock(resource, ttlMs);
      if (token !== null) return new RenewingLock(this.driver, resource, token, ttlMs, options.autoRenew ?? true, sentAt);
      const left = deadline - Date.now();
      if (left <= 0) throw new LockTimeoutError(resource, timeoutMs);
      await sleep(Math.min(left, backoff + Math.random() * backoff));
      backoff = Math.min(backoff * 2, 50);
    }
  }
}

class CheckedDataStore implements DataStore {
  constructor(
    readonly raw: DataStore,
    readonly fence: ReadFence,
  ) {}
  async hashGetAll(key: string) {
    return this.fence.after(this.raw.hashGetAll(checkName('key', key)));
  }
  async hashGet(key: string, field: string) {
    return this.fence.after(this.raw.hashGet(checkName('key', key), checkName('field', field)));
  }
  async hashCount(key: string) {
    return this.fence.after(this.raw.hashCount(checkName('key', key)));
  }
  async setAll(key: string) {
    return this.fence.after(this.raw.setAll(checkName('key', key)));
  }
  async setRange(key: string, start: number, end: number) {
    return this.fence.after(this.raw.setRange(checkName('key', key), checkInt('start', start, 0), checkInt('end', end, -1)));
  }
  async setFirstByScore(key: string, fromScore: number, toScore: number, count = 1) {
    const from = checkScore('fromScore', fromScore);
    const to = checkScore('toScore', toScore);
    if (to < from) throw new InvalidArgumentError(`toScore (${to}) must be >= fromScore (${from})`);
    return this.fence.after(this.raw.setFirstByScore(checkName('key', key), from, to, checkInt('count', count, 1, 10_000)));
  }
  async setCount(key: string) {
    return this.fence.after(this.raw.setCount(checkName('key', key)));
  }
  async setContains(key: string, member: string) {
    return this.fence.after(this.raw.setContains(checkName('key', key), checkName('member', member)));
  }
  async setScore(key: string, member: string) {
    return this.fence.after(this.raw.setScore(checkName('key', key), checkName('member', member)));
  }
  async listAll(key: string) {
    return this.fence.after(this.raw.listAll(checkName('key', key)));
  }
  async listRange(key: string, start: number, end: number) {
    return this.fence.after(this.raw.listRange(checkName('key', key), checkInt('start', start, 0), checkInt('end', end, -1)));
  }
  async listCount(key: string) {
    return this.fence.after(this.raw.listCount(checkName('key', key)));
  }
  async counterGet(key: string) {
    return this.fence.after(this.raw.counterGet(checkName('key', key)));
  }
  async ttl(kind: StructureKind, key: string) {
    return this.fence.after(this.raw.ttl(checkKind(kind), checkName('key', key)));
  }
}

class CheckedServers implements ServerRegistry {
  constructor(
    readonly driver: NamespaceDriver,
    readonly fence: ReadFence,
  ) {}
  async announce(id: string, info: ServerInfo): Promise<void> {
    checkName('serverId', id);
    if (info === null || typeof info !== 'object') throw new InvalidArgumentError('announce needs { queues, workerCount }');
    const queues = checkQueues(info.queues);
    const workerCount = checkInt('workerCount', info.workerCount, 1, 100_000);
    await this.driver.announceServer(id, { queues, workerCount });
  }
  async heartbeat(id: string): Promise<void> {
    if (!(await this.driver.heartbeat(checkName('serverId', id)))) throw new ServerGoneError(id);
  }
  async remove(id: string): Promise<void> {
    await this.driver.removeServer(checkName('serverId', id));
  }
  async removeTimedOut(timeoutMs: number): Promise<number> {
    return this.driver.removeTimedOutServers(checkMs('timeoutMs', timeoutMs, 1));
  }
  async list(): Promise<ServerRecord[]> {
    return this.fence.after(this.driver.listServers());
  }
}

class CheckedMonitoring implements MonitoringApi {
  constructor(
    readonly driver: NamespaceDriver,
    readonly jobs: JobStore,
    readonly serverRegistry: ServerRegistry,
    readonly data: DataStore,
    readonly fence: ReadFence,
  ) {}
  async queues(): Promise<QueueInfo[]> {
    return this.fence.after(this.driver.queueInfo());
  }
  async queueJobs(queue: string, page?: Page): Promise<JobRecord[]> {
    const { offset, limit } = checkPage(page);
    return this.fence.after(this.driver.queueJobs(checkName('queue', queue), offset, limit));
  }
  async stateCounts(): Promise<Record<string, number>> {
    return this.fence.after(this.driver.stateCounts());
  }
  async jobsInState(state: string, page?: Page): Promise<JobRecord[]> {
    const { offset, limit } = checkPage(page);
    return this.fence.after(this.driver.jobsInState(checkName('state', state), offset, limit));
  }
  async jobDetails(id: string) {
    const [job, history] = await Promise.all([this.jobs.get(id), this.jobs.history(id)]);
    return { job, history };
  }
  async servers(): Promise<ServerRecord[]> {
    return this.serverRegistry.list();
  }
  async statistics(options: { days?: number; hours?: number } = {}): Promise<Statistics> {
    const days = checkInt('days', options.days ?? 7, 0, 366);
    const hours = checkInt('hours', options.hours ?? 24, 0, 24 * 31);
    return readStatistics(this.data, days, hours, new Date());
  }
}
