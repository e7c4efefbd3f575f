import type { TracerProvider } from '@opentelemetry/api';
import { tracerFrom } from '../telemetry/tracing.js';
import { randomUUID } from 'node:crypto';
import type { MeterProvider } from '@opentelemetry/api';
import { processingRecorder } from '../telemetry/processing-telemetry.js';
import { InvalidArgumentError } from '../storage/errors.js';
import type { FetchedJob, FetchOptions, FetchStateChange } from '../storage/queue.js';
import type { Storage } from '../storage/storage.js';
import { sleep } from '../storage/sleep.js';
import { checkInt } from '../storage/validate.js';
import { LazyAbort } from './lazy-abort.js';
import { JobRunner, trackOutcome, type JobDoneEvent } from './job-runner.js';
import { outcomeDepth } from '../storage/outcome-depth.js';
import type { HandlerEntry, RetryPolicy } from './handler.js';
import { sweepDue } from './scheduler.js';
import { heartbeat } from './heartbeat.js';
import { RUNNABLE_STATES, STATE } from './states.js';
import { within } from './within.js';
import { PAUSE_TTL_MS } from './pause-cache.js';
import { PAUSED_HASH, pausesOf, unpausedQueues } from '../storage/pauses.js';
import { Router } from '../router/router.js';
import { checkTenantId } from '../tenancy/tenant-id.js';
import { TenantPool, type TenantFilter } from './tenant-pool.js';
import { extendDue, KeepAlive } from './keep-alive.js';
import { Periodic } from './periodic.js';

export type { JobDoneEvent } from './job-runner.js';

/** Options of `new JobServer(source, options)` (docs/processing.md). */
export interface JobServerOptions {
  /**
   * For a server over a router: which tenants it serves, 'all' (the default), a list of tenant
   * ids, or a predicate. Tenants are found by each shard's work index, not by polling them.
   */
  tenants?: TenantFilter;
  /** For a server over a router: how often each shard is asked which units have work (wake-ups come sooner). Default 1000 ms. */
  discoveryIntervalMs?: number;
  /**
   * For a server over a router, with `maxConcurrent` caps in the tenant map: the lease of a
   * concurrency slot, renewed while its job runs; a crashed process's slots come back after it. Default 30 s.
   */
  capLeaseMs?: number;
  /** Queues in priority order. Default ['default']. */
  queues?: string[];
  /** Jobs run at once. Default 4. */
  workerCount?: number;
  /**
   * Jobs a server may hold fetched (leased, and marked Processing unless markProcessingAfterMs
   * is set) beyond those its workers run, so that one round trip fetches for many workers: for
   * many short jobs. Held jobs' invisibility is extended like running jobs' (one whose lease was
   * lost meanwhile is dropped, not run), and stop() requeues them. Default 0 (a worker fetches
   * its own).
   */
  prefetch?: number;
  handlers: Record<string, HandlerEntry>;
  /** Default retry policy; a handler entry may override it. */
  retry?: RetryPolicy;
  /** A fetched job stays invisible this long; while it runs it is extended every third of it (the first time within two thirds). Default 5 min. */
  invisibilityTimeoutMs?: number;
  /** Default 15 s. Servers silent for serverTimeoutMs (default 60 s) are removed by the others. */
  heartbeatIntervalMs?: number;
  serverTimeoutMs?: number;
  /** How often due scheduled/retrying jobs and recurring occurrences are moved. Default 1 s. */
  schedulerIntervalMs?: number;
  /** stop() waits this long for running jobs, then aborts and requeues them. Default 10 s. */
  shutdownTimeoutMs?: number;
  /** Succeeded jobs expire after this. Default 1 day. 0 deletes each job as it succeeds (its counters still count it). */
  retentionMs?: number;
  /**
   * 0 (the default): each fetch marks its job Processing, in the lease's round trip. Otherwise a
   * job is fetched as it is and marked Processing only once it has run this many ms; a shorter
   * run writes its Processing state (with `startedAt`) into its outcome's commit, so its history
   * is the same but its job is written once a run instead of twice. For many short jobs: on
   * Postgres the mark is about a quarter of a deleted job's database cost (docs/processing.md).
   * Prefetched jobs then stay Enqueued until a worker takes them.
   */
  markProcessingAfterMs?: number;
  serverId?: string;
  /** Errors the server survived (storage outages, handler bugs are job failures, not these). */
  onError?: (err: unknown) => void;
  /** Called after each job run. */
  onJobDone?: (event: JobDoneEvent) => void;
  /** Job duration, outcome and attempt metrics go here; default the global provider (a no-op without an SDK). */
  meterProvider?: MeterProvider;
  /** Consumer spans (`process <queue>`) go here; default the global provider (a no-op without an SDK). */
  tracerProvider?: TracerProvider;
}

/** The reason a waiting worker's fetch is aborted to take a held job: made once (an abort() without one makes a DOMException, with its stack, each time). */
const WOKEN = Object.freeze({ woken: true });

/** A prefetched job, waiting for a free worker. */
interface Held {
  fetched: FetchedJob;
  /** performance.now() when it was fetched: its invisibility runs from then. */
  since: number;
}

interface Running {
  fetched: FetchedJob;
  abort: LazyAbort;
  done: Promise<unknown>;
  /** performance.now() when its lease last started or was extended before it ran: the keep-alive counts from here. */
  since: number;
}

/**
 * Runs jobs from a Storage: workers fetch in queue priority order and call
 * the handler registered for the job's type. At least once: a job is
 * acknowledged only after its outcome is written, a crashed worker's job
 * comes back after the invisibility timeout, and a running job's invisibility
 * is extended while its worker lives.
 */
export class JobServer {
  readonly id: string;
  readonly #storage: Storage;
  readonly #o: Required<
    Omit<
      JobServerOptions,
      'onError' | 'onJobDone' | 'serverId' | 'retry' | 'meterProvider' | 'tracerProvider' | 'tenants' | 'discoveryIntervalMs' | 'capLeaseMs'
    >
  > & { retry: Required<RetryPolicy> };
  /** Over a router: the pool that serves its tenants (start and stop go to it). */
  readonly #pool: TenantPool | null = null;
  readonly #onError: (err: unknown) => void;
  readonly #runner: JobRunner;
  /** Outcome writes one worker may have in flight: as many as the storage's backend prefers. */
  readonly #outcomeDepth: number;
  readonly #running = new Set<Running>();
  /** Outcome writes still in flight (at most #outcomeDepth per worker). */
  readonly #outcomes = new Set<Promise<void>>();
  /** Prefetched jobs, oldest first; workers take from here before they fetch. */
  readonly #held: Held[] = [];
  /** Prefetch attempts in flight, each until it has settled (its job held or, after stop(), requeued). */
  readonly #prefetches = new Set<Promise<void>>();
  /** Workers waiting in a fetch of their own, by the controller that wakes one to take a held job. */
  readonly #waiting = new Set<AbortController>();
  /** The queues fetched from: the configured ones less those paused (#readPauses). */
  #activeQueues: readonly string[] = [];
  #stopFetching = new AbortController();
  /** Aborted when stop() stops waiting for outcome writes; a new one per start(). */
  #halted = new AbortController();
  #loops: Promise<void>[] = [];
  #periodic: Periodic | undefined;
  #started = false;
  #keepAlive: KeepAlive | undefined;
  /**
   * Each fetch marks its job Processing in the lease's own round trip: Enqueued, or Processing
   * left by a worker that died. A job in any other state (deleted, already done) is handed out
   * unchanged, and dropped. With markProcessingAfterMs the fetch marks nothing and the runner
   * checks the same states (JobRunner, ProcessingMark).
   */
  readonly #processing: FetchStateChange;
  /** What every fetch of this server asks for: its jobs, marked Processing unless the mark is deferred (a worker adds its signal). */
  readonly #fetchOptions: Omit<FetchOptions, 'signal'>;

  /**
   * Over one storage (a backend's, or a router's tenant's), or over a router: then one worker
   * pool serves every tenant it lists (`tenants`), fairly by their weights in the tenant map,
   * each job with its own tenant's storage and `ctx.tenant` set.
   */
  constructor(source: Storage | Router, options: JobServerOptions) {
    const overRouter = source instanceof Router;
    if (!overRouter && options.tenants !== undefined)
      throw new InvalidArgumentError('tenants applies to a server over a router: new JobServer(router, { tenants, … })');
    if (overRouter && (options.prefetch ?? 0) > 0) throw new InvalidArgumentError('prefetch is not supported yet by a server over a router; leave it 0');
    const tenants = overRouter ? checkTenantFilter(options.tenants ?? 'all') : 'all';
    const discoveryIntervalMs = checkInt('discoveryIntervalMs', options.discoveryIntervalMs ?? 1_000, 10, 600_000);
    const capLeaseMs = checkInt('capLeaseMs', options.capLeaseMs ?? 30_000, 100, 3_600_000);
    // Over a router no single storage exists: every call of the single-storage path goes through #pool instead.
    this.#storage = overRouter ? (null as unknown as Storage) : source;
    this.#outcomeDepth = overRouter ? 0 : outcomeDepth(source);
    this.id = options.serverId ?? `server-${randomUUID()}`;
    this.#o = {
      // Frozen, like #processing: storage checks a frozen queue list and state change once, not per fetch.
      queues: Object.freeze([...(options.queues ?? ['default'])]) as string[],
      workerCount: options.workerCount ?? 4,
      prefetch: checkInt('prefetch', options.prefetch ?? 0, 0, 10_000),
      handlers: options.handlers,
      invisibilityTimeoutMs: options.invisibilityTimeoutMs ?? 5 * 60_000,
      heartbeatIntervalMs: options.heartbeatIntervalMs ?? 15_000,
      serverTimeoutMs: options.serverTimeoutMs ?? 60_000,
      schedulerIntervalMs: options.schedulerIntervalMs ?? 1_000,
      shutdownTimeoutMs: options.shutdownTimeoutMs ?? 10_000,
      retentionMs: options.retentionMs ?? 86_400_000,
      markProcessingAfterMs: checkInt('markProcessingAfterMs', options.markProcessingAfterMs ?? 0, 0, 3_600_000),
      retry: { attempts: 3, baseDelayMs: 1_000, maxDelayMs: 10 * 60_000, jitter: 0.2, ...options.retry },
    };
    this.#processing = Object.freeze({
      state: Object.freeze({ name: STATE.processing, data: Object.freeze({ serverId: this.id }) }),
      from: RUNNABLE_STATES,
    });
    // Frozen, so that storage checks these options once, not on every fetch.
    this.#fetchOptions = Object.freeze(
      this.#o.markProcessingAfterMs === 0
        ? { invisibilityTimeoutMs: this.#o.invisibilityTimeoutMs, withJob: true, setState: this.#processing }
        : { invisibilityTimeoutMs: this.#o.invisibilityTimeoutMs, withJob: true },
    );
    this.#activeQueues = this.#o.queues;
    this.#onError = options.onError ?? (() => {});
    const record = processingRecorder(this.id, options.meterProvider, overRouter ? undefined : source.locate?.bind(source));
    this.#runner = new JobRunner({
      serverId: this.id,
      handlers: this.#o.handlers,
      retry: this.#o.retry,
      retentionMs: this.#o.retentionMs,
      markAfterMs: this.#o.markProcessingAfterMs,
      onJobDone: (event) => {
        record(event);
        options.onJobDone?.(event);
      },
      stopping: () => this.#stopFetching.signal.aborted,
      tracer: tracerFrom(options.tracerProvider),
      outcomeRetryMs: this.#o.invisibilityTimeoutMs,
      halted: () => this.#halted.signal,
    });
    if (overRouter) {
      this.#pool = new TenantPool(source, {
        serverId: this.id,
        queues: this.#o.queues,
        workerCount: this.#o.workerCount,
        invisibilityTimeoutMs: this.#o.invisibilityTimeoutMs,
        heartbeatIntervalMs: this.#o.heartbeatIntervalMs,
        serverTimeoutMs: this.#o.serverTimeoutMs,
        schedulerIntervalMs: this.#o.schedulerIntervalMs,
        shutdownTimeoutMs: this.#o.shutdownTimeoutMs,
        discoveryIntervalMs,
        capLeaseMs,
        tenants,
        fetchOptions: this.#fetchOptions,
        runner: this.#runner,
        signal: () => this.#stopFetching.signal,
        onError: this.#onError,
      });
    }
  }

  /** Tenants with work waiting for a worker's turn (a server over a router; 0 otherwise). */
  get readyTenants(): number {
    return this.#pool?.readyTenants ?? 0;
  }

  /** Announces the server, then starts its workers, heartbeat and scheduler; resolves once they run. */
  async start(): Promise<void> {
    if (this.#started) return;
    this.#started = true;
    this.#halted = new AbortController();
    if (this.#pool) {
      this.#stopFetching = new AbortController();
      return this.#pool.start();
    }
    // Paused before this server started: not one job of those queues (read beside the announce, in the same wait).
    await Promise.all([
      this.#storage.servers.announce(this.id, { queues: this.#o.queues, workerCount: this.#o.workerCount }),
      this.#readPauses().catch((err) => this.#onError(err)),
    ]);
    this.#stopFetching = new AbortController();
    this.#loops = Array.from({ length: this.#o.workerCount }, () => this.#worker());
    this.#periodic = new Periodic((err) => this.#onError(err));
    this.#periodic.every(this.#o.heartbeatIntervalMs, () => this.#heartbeat());
    this.#periodic.every(this.#o.schedulerIntervalMs, () => this.#schedule());
    this.#periodic.every(PAUSE_TTL_MS, () => this.#readPauses());
    this.#keepAlive?.stop();
    this.#keepAlive = new KeepAlive(this.#o.invisibilityTimeoutMs, (startedBy) => {
      extendDue(this.#held, startedBy, (h) => {
        // Another consumer has it now (this process froze past its invisibility): not ours to run.
        const at = this.#held.indexOf(h);
        if (at >= 0) this.#held.splice(at, 1);
      });
      extendDue(this.#running, startedBy, (r, err) => r.abort.abort(err), { restamp: false });
    });
  }

  /** Stops fetching, waits for running jobs up to shutdownTimeoutMs, then aborts and requeues what is left. */
  async stop(): Promise<void> {
    if (!this.#started) return;
    this.#started = false;
    if (this.#pool) {
      this.#stopFetching.abort();
      await this.#pool.stop();
      this.#halted.abort();
      return;
    }
    this.#periodic?.cancel();
    this.#stopFetching.abort();
    for (const w of this.#waiting) w.abort();
    // A prefetch that lands from here on requeues its job itself (#prefetch); wait for those, so
    // that no job is left leased to this server once stop() returns.
    await within(Promise.all(this.#prefetches), 5_000);
    // Never started: back to the queue at once, for this or another server.
    await Promise.all(this.#held.splice(0).map((h) => this.#requeue(h.fetched).catch((err) => this.#onError(err))));
    const finished = Promise.all([...this.#running].map((r) => r.done));
    const timedOut = await within(finished, this.#o.shutdownTimeoutMs);
    if (timedOut) {
      await Promise.all(
        [...this.#running].map(async (r) => {
          r.abort.abort(new Error('server stopping'));
          await this.#requeue(r.fetched).catch((err) => this.#onError(err));
        }),
      );
    }
    // A handler that ignores its abort signal must not hang stop(): its job is already requeued.
    await within(Promise.all(this.#loops), 1_000);
    await within(Promise.all(this.#outcomes), 5_000);
    this.#halted.abort();
    // Kept until here: jobs still running while stop() waited needed their invisibility extended.
    this.#keepAlive?.stop();
    await this.#storage.servers.remove(this.id).catch((err) => this.#onError(err));
  }

  /**
   * Reads the storage's pauses (router.admin.pause writes them into a tenant's home unit): the
   * queues fetched from are the configured ones less the paused; when that changes, waiting
   * workers are woken to fetch with the new list, so a pause stops new starts within a second.
   */
  async #readPauses(): Promise<void> {
    const active = unpausedQueues(this.#o.queues, pausesOf(await this.#storage.data.hashGetAll(PAUSED_HASH)));
    if (active.length === this.#activeQueues.length && active.every((q, i) => q === this.#activeQueues[i])) return;
    this.#activeQueues = active === this.#o.queues ? active : Object.freeze([...active]);
    for (const w of this.#waiting) w.abort(WOKEN);
  }

  #heartbeat(): Promise<void> {
    return heartbeat(this.#storage.servers, this.id, { queues: this.#o.queues, workerCount: this.#o.workerCount }, this.#o.serverTimeoutMs);
  }

  #schedule(): Promise<void> {
    return sweepDue(this.#storage);
  }

  async #worker(): Promise<void> {
    const signal = this.#stopFetching.signal;
    // Outcome writes in flight, at most #outcomeDepth (see outcome-depth.ts why).
    const writing: Promise<void>[] = [];
    const options: FetchOptions = { ...this.#fetchOptions, signal };
    while (!signal.aborted) {
      const held = this.#held.shift();
      let fetched = held?.fetched;
      if (!fetched) {
        // Gone out in the same turn, the prefetch shares this fetch's round trip.
        this.#prefetch();
        if (this.#activeQueues.length === 0) {
          // Every queue paused: wait for the next look at the pauses, woken by it if they changed
          // (or by stop(), which wakes every waiting worker).
          const wake = new AbortController();
          this.#waiting.add(wake);
          await sleep(PAUSE_TTL_MS, wake.signal).catch(() => {});
          this.#waiting.delete(wake);
          continue;
        }
        // Tried first without a wake-up: with a backlog the try finds a job, and a waiting worker
        // woken by every prefetch that lands cost an abort each (6 µs; one per three jobs of a drain).
        try {
          fetched = (await this.#storage.queues.tryFetch(this.#activeQueues, this.#fetchOptions)) ?? undefined;
        } catch (err) {
          if (signal.aborted) break;
          this.#onError(err);
          await sleep(1_000, signal).catch(() => {});
          continue;
        }
      }
      if (!fetched) {
        if (signal.aborted) break;
        // Prefetched while this worker tried, and so woke no one: take it. From here to joining
        // #waiting is one synchronous stretch, so a later landing finds this worker there.
        if (this.#held.length > 0) continue;
        // A waiting worker is woken to take a held job, or when the pauses change (a fresh queue list).
        const wake = new AbortController();
        this.#waiting.add(wake);
        try {
          fetched = await this.#storage.queues.fetch(this.#activeQueues, { ...options, signal: wake.signal });
        } catch (err) {
          if (signal.aborted) break;
          if (wake.signal.aborted) continue; // woken
          this.#onError(err);
          await sleep(1_000, signal).catch(() => {});
          continue;
        } finally {
          this.#waiting.delete(wake);
        }
      }
      if (held && this.#held.length <= this.#o.prefetch / 2) this.#prefetch();
      if (!held && signal.aborted) {
        // Fetched while stop() began: not started, back to the queue, as a landing prefetch does.
        await this.#requeue(fetched).catch((err) => this.#onError(err));
        break;
      }
      const abort = new LazyAbort();
      // #run never rejects: what it does not survive becomes an onError and no outcome.
      const ran = this.#runner.run(this.#storage, fetched, abort).catch((err) => {
        this.#onError(err);
        return null;
      });
      // A held job's lease runs from its fetch (or last extension), so its keep-alive does too.
      const running: Running = { fetched, abort, done: ran, since: held?.since ?? performance.now() };
      this.#running.add(running);
      const writeOutcome = await ran;
      this.#running.delete(running);
      if (writing.length >= this.#outcomeDepth) await writing.shift();
      if (writeOutcome) writing.push(trackOutcome(this.#outcomes, writeOutcome, this.#onError));
    }
    await Promise.all(writing);
  }

  /**
   * Tops the held jobs up to `prefetch`, in one batch: only once they are down to half, so each
   * round trip fetches many. Attempts that come back empty leave the held list short until the
   * next fetch of a worker.
   */
  #prefetch(): void {
    const want = this.#o.prefetch - this.#held.length - this.#prefetches.size;
    if (want <= 0 || want < this.#o.prefetch / 2 || this.#stopFetching.signal.aborted || this.#activeQueues.length === 0) return;
    for (let i = 0; i < want; i++) {
      const p: Promise<void> = this.#storage.queues
        .tryFetch(this.#activeQueues, this.#fetchOptions)
        .then(
          async (fetched) => {
            if (!fetched) return;
            if (this.#stopFetching.signal.aborted) {
              await this.#requeue(fetched).catch((err) => this.#onError(err));
              return;
            }
            this.#held.push({ fetched, since: performance.now() });
            // A worker that went to wait while this was in flight takes it.
            for (const w of this.#waiting) {
              this.#waiting.delete(w);
              w.abort(WOKEN);
              break;
            }
          },
          (err: unknown) => {
            this.#onError(err);
          },
        )
        .finally(() => this.#prefetches.delete(p));
      this.#prefetches.add(p);
    }
  }

  #requeue(fetched: FetchedJob): Promise<void> {
    return this.#runner.requeue(this.#storage, fetched);
  }
}

/** 'all', a list of valid tenant ids (each once), or a predicate; anything else is InvalidArgumentError. */
function checkTenantFilter(tenants: unknown): TenantFilter {
  if (tenants === 'all' || typeof tenants === 'function') return tenants as TenantFilter;
  if (!Array.isArray(tenants))
    throw new InvalidArgumentError(
      `tenants must be 'all', a list of tenant ids or a function (id) => boolean, got ${tenants === null ? 'null' : typeof tenants}`,
    );
  const seen = new Set<string>();
  for (const id of tenants) {
    checkTenantId(id);
    if (seen.has(id)) throw new InvalidArgumentError(`tenant '${id}' is listed twice in tenants`);
    seen.add(id);
  }
  return Object.freeze([...seen]);
}
