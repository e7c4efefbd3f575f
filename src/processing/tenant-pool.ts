import type { FetchedJob, FetchOptions } from '../storage/queue.js';
import type { ServerInfo } from '../storage/servers.js';
import type { Backend, Storage } from '../storage/storage.js';
import type { Router } from '../router/router.js';
import { FairQueue } from './fair-queue.js';
import { trackOutcome, type JobRunner, type OutcomeWrite } from './job-runner.js';
import { DEFAULT_OUTCOME_DEPTH } from '../storage/outcome-depth.js';
import { LazyAbort } from './lazy-abort.js';
import { PAUSE_COUNTS_INTERVAL_MS, PauseCache, type PauseCount } from './pause-cache.js';
import { PAUSE_CHANGES_COUNTER, PAUSES_NAMESPACE } from '../storage/pauses.js';
import { ConcurrencySlots, type SlotGrant } from './concurrency-slots.js';
import { ShardShares } from './shard-shares.js';
import { backendsOf } from '../shards/shard.js';
import { sweepDue } from './scheduler.js';
import { heartbeat } from './heartbeat.js';
import { within } from './within.js';
import { extendDue, KeepAlive } from './keep-alive.js';
import { Periodic } from './periodic.js';

/** Which tenants a server over a router serves. */
export type TenantFilter = 'all' | readonly string[] | ((tenant: string) => boolean);

/** The namespace on each shard where servers over a router register: one record per process per shard. */
export const POOL_SERVERS_NAMESPACE = 'jobshard.servers';

/** A namespace is a unit key, `tenant` or `tenant:group`; reserved ones (`jobshard.…`) are no tenant's. */
const TENANT = /^[A-Za-z0-9_-]{1,64}$/;

/** How long start() waits for the shards to record this server before its workers start. */
const ANNOUNCE_WAIT_MS = 3_000;

/** Tenants swept for due scheduled and recurring jobs at once. */
const SWEEP_CONCURRENCY = 8;

export interface PoolSettings {
  serverId: string;
  queues: string[];
  workerCount: number;
  invisibilityTimeoutMs: number;
  heartbeatIntervalMs: number;
  serverTimeoutMs: number;
  schedulerIntervalMs: number;
  shutdownTimeoutMs: number;
  discoveryIntervalMs: number;
  /** Lease of a concurrency slot (renewed while its job runs): how long a crashed process's slots stay taken. */
  capLeaseMs: number;
  tenants: TenantFilter;
  fetchOptions: Omit<FetchOptions, 'signal'>;
  runner: JobRunner;
  /** Aborted when the server stops: no more fetching. */
  signal: () => AbortSignal;
  onError: (err: unknown) => void;
}

interface Running {
  storage: Storage;
  fetched: FetchedJob;
  abort: LazyAbort;
  done: Promise<unknown>;
  since: number;
}

/**
 * One worker pool over every tenant of a router: workers take tenants in
 * deficit round-robin order (FairQueue) and fetch from that tenant's storage;
 * which tenants have work comes from each shard's work index (one call per
 * shard per discovery interval) and its one wake-up channel, never from
 * polling tenants. Server records and heartbeats are one per shard; due
 * scheduled and recurring jobs are found by each shard's due index.
 */
export class TenantPool {
  readonly #router: Router;
  readonly #s: PoolSettings;
  readonly #fair: FairQueue;
  readonly #shares: ShardShares;
  readonly #mayTake: (tenant: string) => boolean;
  readonly #pauses: PauseCache;
  readonly #slots: ConcurrencySlots;
  readonly #accepts: (tenant: string) => boolean;
  /** What this server's record on each shard says of it (announce and heartbeat). */
  readonly #info: ServerInfo;
  readonly #running = new Set<Running>();
  readonly #outcomes = new Set<Promise<void>>();
  readonly #watched = new Map<Backend, () => void>();
  #periodic: Periodic | undefined;
  #keepAlive: KeepAlive | undefined;
  #loops: Promise<void>[] = [];

  constructor(router: Router, settings: PoolSettings) {
    this.#router = router;
    this.#s = settings;
    this.#shares = new ShardShares(
      settings.workerCount,
      (tenant) => router.shardFor(tenant).shard,
      () => router.placement,
    );
    this.#mayTake = (tenant) => this.#shares.mayTake(tenant);
    // A turn of as many fetches as workers: a tenant's fetches of one turn go out together, and its storage batches them.
    this.#fair = new FairQueue((tenant) => router.tenantWeight(tenant), settings.workerCount, {
      joined: (tenant) => this.#shares.joined(tenant),
      left: (tenant) => this.#shares.left(tenant),
    });
    this.#pauses = new PauseCache(
      (tenant) => router.tenant(tenant),
      PAUSE_COUNTS_INTERVAL_MS,
      () => this.#pauseCounts(),
    );
    this.#slots = new ConcurrencySlots((tenant) => router.tenantCaps(tenant), settings.capLeaseMs);
    this.#info = { queues: settings.queues, workerCount: settings.workerCount };
    const t = settings.tenants;
    if (t === 'all') this.#accepts = () => true;
    else if (typeof t === 'function') this.#accepts = (id) => t(id) === true;
    else {
      const listed = new Set(t);
      this.#accepts = (id) => listed.has(id);
    }
  }

  /** Tenants with work waiting for a turn (for tests and metrics). */
  get readyTenants(): number {
    return this.#fair.size;
  }

  async start(): Promise<void> {
    // The directory must load. A shard down at start is served once it answers: the first
    // heartbeat that reaches it writes this server's record there. One that does not answer at
    // all (a stalled link) holds start() up for ANNOUNCE_WAIT_MS at most.
    await this.#router.directory.ready();
    const announced = Promise.all(
      this.#backends().map((b) =>
        b
          .open()
          .then(() => this.#serversOf(b).announce(this.#s.serverId, this.#info))
          .catch((err) => this.#s.onError(err)),
      ),
    );
    await within(announced, ANNOUNCE_WAIT_MS);
    this.#discover();
    this.#periodic = new Periodic(this.#s.onError);
    this.#periodic.every(this.#s.discoveryIntervalMs, () => this.#discover());
    this.#periodic.every(this.#s.heartbeatIntervalMs, () => this.#heartbeat());
    this.#periodic.every(this.#s.schedulerIntervalMs, () => this.#sweep());
    this.#keepAlive = new KeepAlive(this.#s.invisibilityTimeoutMs, (startedBy) => extendDue(this.#running, startedBy, (r, err) => r.abort.abort(err)));
    this.#loops = Array.from({ length: this.#s.workerCount }, () => this.#worker());
  }

  async stop(): Promise<void> {
    this.#fair.close();
    this.#periodic?.cancel();
    for (const unwatch of this.#watched.values()) unwatch();
    this.#watched.clear();
    const finished = Promise.all([...this.#running].map((r) => r.done));
    const timedOut = await within(finished, this.#s.shutdownTimeoutMs);
    if (timedOut) {
      await Promise.all(
        [...this.#running].map(async (r) => {
          r.abort.abort(new Error('server stopping'));
          await this.#s.runner.requeue(r.storage, r.fetched).catch((err) => this.#s.onError(err));
        }),
      );
    }
    await within(Promise.all(this.#loops), 1_000);
    await within(Promise.all(this.#outcomes), 5_000);
    // Kept until here: jobs still running while stop() waited needed their invisibility extended.
    this.#keepAlive?.stop();
    await Promise.all(
      this.#backends().map((b) =>
        this.#serversOf(b)
          .remove(this.#s.serverId)
          .catch((err) => this.#s.onError(err)),
      ),
    );
  }

  #backends(): Backend[] {
    return backendsOf(this.#router.shards.values());
  }

  /** Every shard's count of pause changes, each read on its own (see PauseCache). */
  #pauseCounts(): PauseCount[] {
    return this.#backends().map((b) => [b, () => b.storage(PAUSES_NAMESPACE).data.counterGet(PAUSE_CHANGES_COUNTER)] as const);
  }

  #serversOf(backend: Backend) {
    return backend.storage(POOL_SERVERS_NAMESPACE).servers;
  }

  /** A namespace that may have work: its tenant joins the ring, if this pool serves it. */
  #consider(namespace: string): void {
    const tenant = namespace.split(':', 1)[0]!;
    if (!TENANT.test(tenant) || !this.#accepts(tenant)) return;
    this.#fair.add(tenant);
  }

  /** Asks every shard which units have work, and subscribes to the wake-ups of shards not yet watched. */
  #discover(): void {
    for (const backend of this.#backends()) {
      if (!this.#watched.has(backend)) {
        this.#watched.set(
          backend,
          backend.watchWork((ns) => {
            if (ns === null) void this.#ask(backend);
            else this.#consider(ns);
          }),
        );
      }
      void this.#ask(backend);
    }
  }

  async #ask(backend: Backend): Promise<void> {
    try {
      for (const ns of await backend.unitsWithWork(this.#s.queues)) this.#consider(ns);
    } catch (err) {
      this.#s.onError(err);
    }
  }

  /** Each shard's heartbeat at once: one that does not answer delays no other's. */
  async #heartbeat(): Promise<void> {
    await Promise.all(
      this.#backends().map((backend) =>
        heartbeat(this.#serversOf(backend), this.#s.serverId, this.#info, this.#s.serverTimeoutMs).catch((err) => this.#s.onError(err)),
      ),
    );
  }

  /**
   * Moves due scheduled and retrying jobs and recurring occurrences, per shard: the shard's due
   * index names the units with something due (one call), and each of their tenants is swept under
   * its own scheduler lock (shared with single-tenant servers), a few at a time.
   */
  async #sweep(): Promise<void> {
    // Shards at once: a shard that does not answer delays no other's due jobs.
    await Promise.all(this.#backends().map((backend) => this.#sweepShard(backend)));
  }

  async #sweepShard(backend: Backend): Promise<void> {
    if (this.#s.signal().aborted) return;
    let due: string[];
    try {
      due = await backend.unitsWithDue();
    } catch (err) {
      this.#s.onError(err);
      return;
    }
    const tenants = [...new Set(due.map((ns) => ns.split(':', 1)[0]!))].filter((t) => TENANT.test(t) && this.#accepts(t));
    for (let i = 0; i < tenants.length; i += SWEEP_CONCURRENCY) {
      if (this.#s.signal().aborted) return;
      await Promise.all(tenants.slice(i, i + SWEEP_CONCURRENCY).map((t) => sweepDue(this.#router.tenant(t)).catch((err) => this.#s.onError(err))));
    }
  }

  async #worker(): Promise<void> {
    const signal = this.#s.signal();
    // Outcome writes in flight, by shard: at most DEFAULT_OUTCOME_DEPTH of each (a shard that stops
    // answering holds this worker only while it is one of that shard's, see ShardShares).
    const writing = new Map<string, Promise<void>[]>();
    while (!signal.aborted) {
      const tenant = this.#fair.next(this.#mayTake);
      if (tenant === null) {
        await this.#fair.changed();
        continue;
      }
      const shard = this.#shares.shardOf(tenant);
      this.#shares.take(shard);
      try {
        await this.#serve(tenant, shard, writing, signal);
      } finally {
        if (this.#shares.release(shard)) this.#fair.wake();
      }
    }
    await Promise.all([...writing.values()].flat());
  }

  /** Fetches one job of the tenant (charged by the fair queue) and runs it; its outcome write joins `writing`. */
  async #serve(tenant: string, shard: string, writing: Map<string, Promise<void>[]>, signal: AbortSignal): Promise<void> {
    const mark = this.#fair.mark(tenant);
    const storage = this.#router.tenant(tenant);
    let fetched: FetchedJob | null = null;
    let grant: SlotGrant | null = null;
    try {
      let queues = await this.#pauses.queuesFor(tenant, this.#s.queues);
      if (queues.length > 0 && this.#slots.capped(tenant)) {
        grant = await this.#slots.take(tenant, storage, queues);
        queues = grant?.queues ?? [];
      }
      // Paused or at its cap: as good as empty, so it leaves the ring until discovery (or the end
      // of one of its jobs here) brings it back.
      if (queues.length > 0) fetched = await storage.queues.tryFetch(queues, this.#s.fetchOptions);
      await grant?.keep(fetched?.queue ?? null);
    } catch (err) {
      await grant?.keep(null).catch(() => {});
      // Its shard is down or the unit is moving: left to the next discovery; the others keep being served.
      this.#fair.done(tenant, false, this.#fair.mark(tenant));
      this.#s.onError(err);
      return;
    }
    this.#fair.done(tenant, fetched !== null, mark);
    if (!fetched) return;
    if (signal.aborted) {
      await this.#s.runner.requeue(storage, fetched).catch((err) => this.#s.onError(err));
      return;
    }
    const abort = new LazyAbort();
    const ran: Promise<OutcomeWrite> = this.#s.runner.run(storage, fetched, abort, tenant).catch((err) => {
      this.#s.onError(err);
      return null;
    });
    const running: Running = { storage, fetched, abort, done: ran, since: performance.now() };
    this.#running.add(running);
    const write = await ran;
    this.#running.delete(running);
    if (grant) {
      // The cap counts running handlers: the slot is free once this one returned.
      await grant.release();
      this.#fair.add(tenant);
    }
    if (!write) return;
    let mine = writing.get(shard);
    if (!mine) writing.set(shard, (mine = []));
    if (mine.length >= DEFAULT_OUTCOME_DEPTH) await mine.shift();
    const p = trackOutcome(this.#outcomes, write, this.#s.onError);
    mine.push(p);
    // A settled write leaves at once: the next job of this shard waits only on writes still in flight.
    void p.then(() => {
      const at = mine.indexOf(p);
      if (at >= 0) mine.splice(at, 1);
    });
  }
}
