import { Cluster, Redis } from 'ioredis';
import { createStorage } from '../../storage/create-storage.js';
import { ClosedError, ShardUnavailableError } from '../../storage/errors.js';
import { parseOptions } from '../../storage/parse-options.js';
import type { Backend, QueueDepth, Storage } from '../../storage/storage.js';
import { checkName, checkNames, checkQueues } from '../../storage/validate.js';
import type { RunCommand } from './redis-data.js';
import { mapRedisError } from './redis-errors.js';
import { isDataKey, RedisKeys } from './redis-keys.js';
import { RedisNamespace } from './redis-namespace.js';
import { redisOptionsSchema, type RedisBackendOptions, type ResolvedRedisOptions } from './redis-options.js';
import { registerScripts, type RunScript } from './redis-scripts.js';
import { RedisWaker } from './redis-waker.js';
import type { UnitOwnership } from '../../storage/ownership.js';
import { importAll, type ImportFence, type ItemRef, type UnitImport, type UnitItem } from '../../storage/unit-stream.js';
import { globEscape, scanKeys } from './redis-unit-listing.js';
import { WeakCache } from '../../storage/weak-cache.js';

/**
 * A backend on one Redis server (or one Cluster) through ioredis. Every
 * namespace's keys share a hash tag, so each namespace lives in one slot.
 * Calls fail fast with ShardUnavailableError while the server is unreachable
 * (no offline queue), and the client keeps reconnecting in the background.
 */
/** Servers already warned about running without AOF, in this process. */
const warnedWithoutAof = new Set<string>();

/** Namespaces per sums.lua call (operator reads on a standalone Redis). */
const SUMS_SLICE = 500;
/** Namespaces the periodic sweep reads from the sweep index per call. */
const SWEEP_BATCH = 1_000;

export class RedisBackend implements Backend {
  readonly kind = 'redis';
  readonly options: ResolvedRedisOptions;
  /** host:port/db, for messages and telemetry. */
  readonly where: string;
  readonly #client: Redis | Cluster;
  readonly #ownsClient: boolean;
  readonly #run: RunCommand;
  readonly #script: RunScript;
  readonly #waker: RedisWaker;
  /** Anchored on the driver: a delivery's lease names its driver, which must stay the namespace's while the lease is held. */
  readonly #storages = new WeakCache<{ driver: RedisNamespace; storage: Storage }>((ns) => ns.driver);
  readonly #registered = new Set<string>();
  #opening: Promise<void> | undefined;
  #sweeper: NodeJS.Timeout | undefined;
  /** Whether the sweep index covers every namespace of this prefix (see #periodicSweep). */
  #indexed = false;
  #marking: Promise<boolean> | undefined;
  #closed = false;

  constructor(options: RedisBackendOptions) {
    this.options = parseOptions(redisOptionsSchema, options, 'RedisBackend options');
    const o = this.options;
    this.#ownsClient = !o.client;
    const failFast = {
      lazyConnect: true,
      enableOfflineQueue: false,
      maxRetriesPerRequest: 1,
      connectTimeout: o.connectTimeoutMs,
      commandTimeout: o.connectTimeoutMs * 5,
      retryStrategy: (times: number) => Math.min(50 * 2 ** times, 2_000),
    };
    this.#client =
      o.client ??
      (o.cluster
        ? new Cluster(
            o.cluster.map((node) => ({ host: node.slice(0, node.lastIndexOf(':')), port: Number(node.slice(node.lastIndexOf(':') + 1)) })),
            // The Cluster queues commands while it (re)discovers its slots: a node that moved or
            // restarted is waited for, not reported, within the timeouts below.
            {
              ...o.clusterOptions,
              lazyConnect: true,
              enableOfflineQueue: true,
              redisOptions: { connectTimeout: failFast.connectTimeout, commandTimeout: failFast.commandTimeout, ...o.redis },
            },
          )
        : o.url
          ? new Redis(o.url, { ...failFast, ...o.redis })
          : new Redis({ ...failFast, ...o.redis }));
    this.#client.on('error', () => {}); // reported per call as ShardUnavailableError
    // A Cluster client has options too, without host and port: it is named by its seed nodes.
    this.where =
      this.#client instanceof Redis
        ? `${this.#client.options.host}:${this.#client.options.port}/${this.#client.options.db ?? 0}`
        : `redis cluster ${clusterSeeds(this.#client)}`;
    this.#script = registerScripts(this.#client, !(this.#client instanceof Redis));
    // The subscriber queues its SUBSCRIBEs until connected and retries forever: it only speeds up wake-ups.
    // ioredis's own resubscribe after a reconnect leaves its promises unhandled: closing the backend
    // while one was in flight raised an unhandled rejection ("Connection is closed") in the process.
    // RedisWaker resubscribes itself on 'ready', with the rejections handled.
    const subscriberOptions = { lazyConnect: false, enableOfflineQueue: true, maxRetriesPerRequest: null, autoResubscribe: false };
    this.#waker = new RedisWaker(() =>
      this.#client instanceof Redis ? this.#client.duplicate(subscriberOptions) : this.#client.duplicate(undefined, { redisOptions: subscriberOptions }),
    );
    const where = this.where;
    const client = this.#client;
    this.#run = async (fn) => {
      await this.open();
      try {
        return await fn(client);
      } catch (err) {
        throw mapRedisError(err, where);
      }
    };
  }

  /** Connects; fails with ShardUnavailableError within connectTimeoutMs if the server does not answer. */
  open(): Promise<void> {
    if (this.#closed) return Promise.reject(new ClosedError(`RedisBackend ${this.where}`));
    if (this.options.sweepIntervalMs > 0 && !this.#sweeper) {
      this.#sweeper = setInterval(() => void this.#periodicSweep().catch(() => {}), this.options.sweepIntervalMs);
      this.#sweeper.unref();
    }
    if (this.#client.status === 'ready') return Promise.resolve();
    // Concurrent callers share one wait, so a burst of calls adds one pair of listeners, not one per call.
    this.#opening ??= this.#waitReady()
      .then(() => this.#warnWithoutAof())
      .then(() => this.#indexNewServer())
      .finally(() => {
        this.#opening = undefined;
      });
    return this.#opening;
  }

  /**
   * Jobs are only as durable as Redis: without AOF a crash loses every write since the last
   * snapshot (docs/backends.md, measured by `npm run bench:durability`). Said once per process and
   * server, at the first connection; skipped where CONFIG is not allowed (managed Redis), and when
   * JOBSHARD_ALLOW_REDIS_WITHOUT_AOF=1 (a cache, a test server).
   */
  #warnWithoutAof(): void {
    if (process.env['JOBSHARD_ALLOW_REDIS_WITHOUT_AOF'] === '1' || warnedWithoutAof.has(this.where)) return;
    warnedWithoutAof.add(this.where);
    const client = this.#client as Redis;
    void Promise.resolve()
      .then(() => client.config('GET', 'appendonly') as Promise<string[]>)
      .then((reply) => {
        if (reply?.[1] === 'no') {
          process.emitWarning(
            `Redis at ${this.where} runs without AOF (appendonly no): a crash or restart loses every job written since its last snapshot. ` +
              'Set appendonly yes (appendfsync everysec loses at most about a second); see docs/backends.md.',
            { code: 'JOBSHARD_REDIS_WITHOUT_AOF' },
          );
        }
      })
      .catch(() => {});
  }

  #waitReady(): Promise<void> {
    const c = this.#client;
    if (c.status === 'wait') c.connect().catch(() => {});
    return new Promise<void>((resolve, reject) => {
      const timer = setTimeout(
        () =>
          done(
            new ShardUnavailableError(
              this.where,
              `cannot reach Redis at ${this.where} within ${this.options.connectTimeoutMs} ms; is the server running and the address right?`,
            ),
          ),
        this.options.connectTimeoutMs,
      );
      const onReady = () => done();
      const onEnd = () => done(new ShardUnavailableError(this.where, `connection to Redis at ${this.where} ended`));
      const done = (err?: Error) => {
        clearTimeout(timer);
        c.off('ready', onReady);
        c.off('end', onEnd);
        if (err) reject(err);
        else resolve();
      };
      if (c.status === 'ready') return done();
      c.on('ready', onReady);
      c.on('end', onEnd);
    });
  }

  storage(namespace: string): Storage {
    return this.#namespace(namespace).storage;
  }

  #namespace(namespace: string): { driver: RedisNamespace; storage: Storage } {
    if (this.#closed) throw new ClosedError(`RedisBackend ${this.where}`);
    checkName('namespace', namespace);
    return this.#storages.getOrMake(namespace, () => {
      const run = this.#run;
      const script: RunScript = (name, keys, args) => run(() => this.#script(name, keys, args));
      const keys = new RedisKeys(this.options.prefix, namespace);
      const driver = new RedisNamespace(run, script, keys, this.#waker, this.options.pollIntervalMs, () => this.#register(namespace));
      return { driver, storage: createStorage(driver, this.options) };
    });
  }

  ownership(namespace: string): Promise<UnitOwnership> {
    return this.#namespace(namespace).driver.ownership();
  }

  setOwnership(namespace: string, own: UnitOwnership): Promise<void> {
    return this.#namespace(namespace).driver.setOwnership(own);
  }

  async hasData(namespace: string): Promise<boolean> {
    const driver = this.#namespace(namespace).driver;
    return driver.hasData(await this.#unitsMarked());
  }

  /** Whether every unit of this prefix that holds data carries the `used` mark (RedisNamespace.hasData); once per process. */
  #unitsMarked(): Promise<boolean> {
    this.#marking ??= this.#markUnits().catch((err: unknown) => {
      this.#marking = undefined;
      throw err;
    });
    return this.#marking;
  }

  /**
   * Units written before the mark existed lack it. So the first hasData of a process on a prefix
   * not yet marked `units-marked` SCANs the prefix once (what every hasData cost before) and marks
   * each unit holding data, then the prefix. Writers mark their units themselves meanwhile, so
   * none is missed. Processes of an older version write without marking: upgrade them all first.
   */
  async #markUnits(): Promise<boolean> {
    const prefix = this.options.prefix;
    const flag = `${prefix}units-marked`;
    if ((await this.#run((c) => c.exists(flag))) === 1) return true;
    const holding = new Set<string>();
    await this.#scanUnitKeys((ns, name) => {
      if (isDataKey(name)) holding.add(ns);
    });
    const units = [...holding];
    for (let i = 0; i < units.length; i += 100) {
      await Promise.all(units.slice(i, i + 100).map((ns) => this.#run((c) => c.hset(new RedisKeys(prefix, ns).ownership, 'used', '1'))));
    }
    await this.#run((c) => c.set(flag, '1'));
    return true;
  }

  async units(): Promise<string[]> {
    // The namespaces of every key but the ownership records.
    const out = new Set<string>();
    await this.#scanUnitKeys((ns, name) => {
      if (name !== 'own') out.add(ns);
    });
    return [...out];
  }

  /**
   * Every key of the prefix, "<prefix>{<namespace>}:<name>", handed over split as the SCAN finds it:
   * the prefix's whole listing, every key of every unit, is never held.
   */
  async #scanUnitKeys(onKey: (namespace: string, name: string) => void): Promise<void> {
    const start = this.options.prefix.length + 1;
    await scanKeys(this.#run, `${globEscape(this.options.prefix)}{*`, (found) => {
      for (const k of found) {
        const close = k.indexOf('}:', start);
        if (close > 0) onKey(k.slice(start, close), k.slice(close + 2));
      }
      return false;
    });
  }

  exportUnit(namespace: string): AsyncIterable<UnitItem[]> {
    return this.#namespace(namespace).driver.exportUnit();
  }

  importUnit(namespace: string, batches: AsyncIterable<readonly UnitItem[]>): Promise<void> {
    return importAll(this.#namespace(namespace).driver.beginImport(), batches);
  }

  beginImport(namespace: string, fence?: ImportFence): UnitImport {
    return this.#namespace(namespace).driver.beginImport(fence);
  }

  trackChanges(namespace: string, on: boolean): Promise<void> {
    return this.#namespace(namespace).driver.trackChanges(on);
  }

  takeChanges(namespace: string): Promise<ItemRef[]> {
    return this.#namespace(namespace).driver.takeChanges();
  }

  exportRefs(namespace: string, refs: readonly ItemRef[]): Promise<UnitItem[]> {
    return this.#namespace(namespace).driver.exportRefs(refs);
  }

  clearUnit(namespace: string): Promise<void> {
    return this.#namespace(namespace).driver.clearUnit();
  }

  watch(namespace: string, fn: () => void): () => void {
    return this.#waker.subscribe(this.#namespace(namespace).driver.keys.wakeChannel, fn);
  }

  async signal(namespace: string): Promise<void> {
    const channel = this.#namespace(namespace).driver.keys.wakeChannel;
    await this.#run((c) => c.publish(channel, this.#waker.origin));
    this.#waker.wakeLocal(channel);
  }

  async unitsWithWork(queues: readonly string[]): Promise<string[]> {
    const names = checkQueues(queues);
    if (this.#client instanceof Redis)
      return this.#run(() => this.#script('work', [`${this.options.prefix}work`], [this.options.prefix, ...names])) as Promise<string[]>;
    // A Cluster script cannot reach other slots: each registered namespace is asked on its own node.
    const namespaces = await this.namespaces();
    const replies = await Promise.all(namespaces.map((ns) => this.#monitor(ns, ['visible-work', ...names])));
    return namespaces.filter((_, i) => replies[i] === 1);
  }

  async unitsWithDue(): Promise<string[]> {
    if (this.#client instanceof Redis) return this.#run(() => this.#script('due', [`${this.options.prefix}due`], [this.options.prefix])) as Promise<string[]>;
    const namespaces = await this.namespaces();
    const now = Date.now();
    const firsts = await Promise.all(namespaces.map((ns) => this.#monitor(ns, ['first-due']) as Promise<number>));
    return namespaces.filter((_, i) => firsts[i]! >= 0 && firsts[i]! <= now);
  }

  watchWork(fn: (namespace: string | null) => void): () => void {
    return this.#waker.subscribeAll(`${this.options.prefix}wake:`, fn);
  }

  /**
   * Records a namespace in the backend's registry (outside every namespace's
   * slot, so not inside a script), once per namespace per process.
   */
  async #register(namespace: string): Promise<void> {
    if (this.#registered.has(namespace)) return;
    await this.#run((c) => c.sadd(`${this.options.prefix}namespaces`, namespace));
    this.#registered.add(namespace);
  }

  async namespaces(): Promise<string[]> {
    return this.#run((c) => c.smembers(`${this.options.prefix}namespaces`));
  }

  async stateCountsOf(namespaces: readonly string[]): Promise<Map<string, Record<string, number>>> {
    const names = checkNames('namespace', namespaces);
    // One script per namespace, sent together: ioredis pipelines concurrent calls, so one round trip.
    const replies = await Promise.all(names.map((ns) => this.#monitor(ns, ['state-counts']) as Promise<Array<[string, number]>>));
    return new Map(names.map((ns, i) => [ns, Object.fromEntries(replies[i]!)]));
  }

  async counterSums(keys: readonly string[]): Promise<Record<string, number>> {
    const out: Record<string, number> = Object.fromEntries(checkNames('key', keys).map((k) => [k, 0]));
    if (keys.length === 0) return out;
    if (this.#client instanceof Redis) {
      // Standalone: sums.lua over a slice of namespaces per call, not one call per namespace.
      const slices = (await this.#sliced('counters', keys)) as string[][];
      for (const sums of slices) keys.forEach((k, i) => (out[k]! += Number(sums[i])));
      return out;
    }
    const namespaces = await this.namespaces();
    const replies = await Promise.all(namespaces.map((ns) => this.#monitor(ns, ['counters', ...keys]) as Promise<number[]>));
    for (const values of replies) keys.forEach((k, i) => (out[k]! += values[i]!));
    return out;
  }

  /**
   * Runs a sums.lua action over every registered namespace, SUMS_SLICE at a time: each call holds
   * Redis a few milliseconds, where one call over 25,000 namespaces held it for over a second.
   */
  async #sliced(action: 'counters' | 'depths', rest: readonly string[]): Promise<unknown[]> {
    const namespaces = await this.namespaces();
    const calls: Array<Promise<unknown>> = [];
    for (let i = 0; i < namespaces.length; i += SUMS_SLICE) {
      const slice = namespaces.slice(i, i + SUMS_SLICE);
      calls.push(this.#run(() => this.#script('sums', [`${this.options.prefix}namespaces`], [this.options.prefix, action, slice.length, ...slice, ...rest])));
    }
    return Promise.all(calls);
  }

  #monitor(namespace: string, args: Array<string | number>): Promise<unknown> {
    const keys = new RedisKeys(this.options.prefix, namespace);
    return this.#run(() => this.#script('monitor', [keys.route], [keys.base, ...args]));
  }

  async queueDepths(): Promise<QueueDepth[]> {
    if (this.#client instanceof Redis) {
      const slices = (await this.#sliced('depths', [])) as Array<Array<[string, string, number, number]>>;
      return slices.flat().map(([namespace, queue, waiting, inFlight]) => ({ namespace, queue, waiting, inFlight }));
    }
    const namespaces = await this.namespaces();
    // ioredis pipelines these concurrent calls on one connection: one round trip for the lot.
    const replies = await Promise.all(namespaces.map((ns) => this.#monitor(ns, ['queues']) as Promise<Array<[string, number, number]>>));
    return replies.flatMap((rows, i) => rows.map(([queue, waiting, inFlight]) => ({ namespace: namespaces[i]!, queue, waiting, inFlight })));
  }

  /**
   * Removes lapsed jobs from the state indexes of every namespace in the registry (what
   * monitoring reads do for their own namespace first). Returns how many jobs it removed.
   * Runs every sweepIntervalMs by itself.
   */
  async sweep(): Promise<number> {
    return this.#sweepEach(await this.namespaces());
  }

  async #sweepEach(namespaces: readonly string[]): Promise<number> {
    const removed = await Promise.all(namespaces.map((ns) => this.#monitor(ns, ['sweep']) as Promise<number>));
    return removed.reduce((a, b) => a + b, 0);
  }

  /**
   * The sweep that runs every sweepIntervalMs. On a standalone server, only the namespaces whose
   * lapsed jobs the sweep index says are due (common.lua sweep_index), so idle namespaces cost
   * nothing: with 10,000 idle tenants the full sweep was 20,000 commands every interval. Until the
   * prefix is marked `sweep-indexed` (at once for a prefix with no namespace yet), one full sweep
   * indexes the namespaces written before the index existed, then marks it. On a Cluster (no
   * index: it would span slots), every namespace each time. The index is read by this process's
   * clock: a skew with the server's only moves a sweep earlier or later.
   */
  async #periodicSweep(): Promise<number> {
    const client = this.#client;
    if (!(client instanceof Redis)) return this.sweep();
    const indexed = this.#sweepIndexedKey;
    if (!this.#indexed) this.#indexed = (await this.#run(() => client.exists(indexed))) === 1;
    if (!this.#indexed) {
      const n = await this.sweep();
      await this.#run(() => client.set(indexed, '1'));
      this.#indexed = true;
      return n;
    }
    let removed = 0;
    for (;;) {
      const due = await this.#run(() => client.zrangebyscore(`${this.options.prefix}sweep`, '-inf', Date.now(), 'LIMIT', 0, SWEEP_BATCH));
      removed += await this.#sweepEach(due);
      if (due.length < SWEEP_BATCH) return removed;
    }
  }

  /** Set once the sweep index covers every namespace of the prefix. */
  get #sweepIndexedKey(): string {
    return `${this.options.prefix}sweep-indexed`;
  }

  /**
   * A prefix with no namespace yet needs no first full sweep: every namespace it will hold is
   * written by scripts that keep the sweep index. Marked at the first connection; best effort.
   */
  #indexNewServer(): void {
    const client = this.#client;
    if (!(client instanceof Redis) || this.options.sweepIntervalMs === 0) return;
    void Promise.resolve()
      .then(async () => {
        if ((await client.scard(`${this.options.prefix}namespaces`)) === 0) await client.set(this.#sweepIndexedKey, '1', 'NX');
      })
      .catch(() => {});
  }

  /** Connection state for telemetry: ioredis status ('ready', 'connecting', 'reconnecting', 'end'…). */
  status(): string {
    return this.#client.status;
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    clearInterval(this.#sweeper);
    await this.#waker.stop();
    if (this.#ownsClient) this.#client.disconnect();
  }
}

function clusterSeeds(client: Cluster): string {
  const seeds = (client as unknown as { startupNodes?: Array<string | number | { host?: string; port?: number }> }).startupNodes ?? [];
  return seeds.map((n) => (typeof n === 'object' ? `${n.host ?? '127.0.0.1'}:${n.port ?? 6379}` : String(n))).join(',') || '(no seed nodes)';
}
