import type { FetchedJob, QueueStore } from '../storage/queue.js';
import { InterceptedFetchedJob } from './intercepted-fetched-job.js';
import { UNOBSERVED, type CallSite, type Interceptor } from './call-site.js';
import type { Lock, LockManager } from '../storage/lock.js';
import type { DataStore } from '../storage/data.js';
import type { JobStore } from '../storage/job.js';
import type { MonitoringApi } from '../storage/monitoring.js';
import type { ServerRegistry } from '../storage/servers.js';
import type { Storage } from '../storage/storage.js';
import { COMMIT_RECORDED, commitRecorded } from '../storage/commit-recorded.js';
import { recordTransaction } from '../storage/transaction-builder.js';
import { methodCache } from '../storage/method-cache.js';
import type { RecordedOp, WriteTransaction } from '../storage/transaction.js';

type Component = 'jobs' | 'queues' | 'locks' | 'data' | 'servers' | 'monitoring';

/**
 * Wraps a Storage so that every asynchronous call passes through an
 * interceptor: the circuit breaker and telemetry both use it, so neither has
 * to be sprinkled through backends.
 */
export function wrapStorage(storage: Storage, namespace: string, intercept: Interceptor, observed: () => boolean = () => true): Storage {
  return new WrappedStorage(storage, namespace, intercept, observed);
}

/**
 * Each component's wrapper is made on first use: a shard keeps one wrapped storage per unit it has
 * served, and most units use two or three of the six (all six made up front: 2.8 KB a unit).
 */
class WrappedStorage implements Storage {
  #jobs?: JobStore;
  #queues?: QueueStore;
  #locks?: LockManager;
  #data?: DataStore;
  #servers?: ServerRegistry;
  #monitoring?: MonitoringApi;

  constructor(
    readonly inner: Storage,
    readonly namespace: string,
    readonly intercept: Interceptor,
    readonly observed: () => boolean,
  ) {}

  get jobs(): JobStore {
    return (this.#jobs ??= this.#wrap('jobs'));
  }
  get queues(): QueueStore {
    return (this.#queues ??= this.#wrap('queues'));
  }
  get locks(): LockManager {
    return (this.#locks ??= this.#wrap('locks'));
  }
  get data(): DataStore {
    return (this.#data ??= this.#wrap('data'));
  }
  get servers(): ServerRegistry {
    return (this.#servers ??= this.#wrap('servers'));
  }
  get monitoring(): MonitoringApi {
    return (this.#monitoring ??= this.#wrap('monitoring'));
  }

  #wrap<T>(component: Component): T {
    const target = this.inner[component] as unknown as Record<string, unknown>;
    return wrapObject(target, component, this.namespace, this.intercept, this.observed) as T;
  }

  /** Recorded here, committed below without recording again (see COMMIT_RECORDED). */
  async transaction<T>(fn: (tx: WriteTransaction) => T | Promise<T>): Promise<T> {
    const { result, ops } = await recordTransaction(fn);
    await this[COMMIT_RECORDED](ops);
    return result;
  }

  [COMMIT_RECORDED](ops: readonly RecordedOp[]): Promise<void> {
    return this.intercept(this.observed() ? commitSite(this.namespace, ops) : UNOBSERVED, () => commitRecorded(this.inner, ops));
  }
}

/** A commit's call site, with the queues it enqueues into and acknowledges from (for telemetry). */
function commitSite(namespace: string, ops: readonly RecordedOp[]): CallSite {
  const site: CallSite = { component: 'transaction', method: 'commit', namespace, enqueues: [], acks: [] };
  for (const op of ops) {
    if (op.op === 'enqueue') site.enqueues!.push(op.queue);
    else if (op.op === 'removeFromQueue') site.acks!.push(op.fetched.queue);
  }
  return site;
}

/** A create that enqueues counts as an enqueue into the job's queue (it is one). */
function siteOf(component: string, method: string, namespace: string, subject: unknown, args: unknown[]): CallSite {
  if (component === 'jobs' && method === 'create') {
    const input = args[0] as { enqueue?: unknown; queue?: unknown } | null | undefined;
    if (input?.enqueue === true && typeof input.queue === 'string') return { component, method, namespace, subject, enqueues: [input.queue] };
  }
  return { component, method, namespace, subject };
}

/** A component's or a handed-out object's methods, each wrapped on first read and kept (see methodCache). */
function wrapObject(target: Record<string, unknown>, component: string, namespace: string, intercept: Interceptor, observed: () => boolean): unknown {
  return methodCache(target, (obj, prop) => {
    // The target as receiver: class getters read #private fields, which a wrapper `this` does not have.
    const value = Reflect.get(obj, prop, obj);
    if (typeof value !== 'function' || typeof prop !== 'string') return value;
    const method = value as (...a: unknown[]) => Promise<unknown>;
    // Only what a call hands out (a fetched job, a lock) needs wrapping on the way back.
    const handedOut =
      component === 'queues'
        ? (result: unknown) => result && new InterceptedFetchedJob(result as FetchedJob, namespace, intercept, observed)
        : component === 'locks'
          ? (result: unknown) => wrapObject(result as Record<string, unknown>, 'lock', namespace, intercept, observed) as Lock
          : null;
    return (...args: unknown[]) =>
      intercept(observed() ? siteOf(component, prop, namespace, obj, args) : UNOBSERVED, () =>
        handedOut ? method.apply(obj, args).then(handedOut) : method.apply(obj, args),
      );
  });
}
