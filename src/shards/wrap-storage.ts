import type { FetchedJob } from '../storage/queue.js';
import type { Lock } from '../storage/lock.js';
import type { Storage } from '../storage/storage.js';
import type { WriteTransaction } from '../storage/transaction.js';

/** Where a call goes, for interceptors (health, telemetry). */
export interface CallSite {
  /** 'jobs', 'queues', 'locks', 'data', 'servers', 'monitoring', 'transaction', 'fetched' (a FetchedJob) or 'lock' (a Lock). */
  component: string;
  method: string;
  /** The backend namespace the call is for. */
  namespace: string;
  /** The object the method is called on (e.g. the FetchedJob for 'fetched'). */
  subject?: unknown;
  /**
   * The queue of each enqueue the call makes: for 'transaction', those it recorded (filled as it
   * records); for 'jobs' 'create' with `enqueue: true`, the job's queue.
   */
  enqueues?: string[];
  /** For 'transaction': the queue of each fetched job it acknowledges (removeFromQueue), filled as it records. */
  acks?: string[];
}

/** Runs every call of a storage (and of the fetched jobs and locks it hands out) through `intercept`. */
export type Interceptor = <T>(site: CallSite, call: () => Promise<T>) => Promise<T>;

const COMPONENTS = ['jobs', 'queues', 'locks', 'data', 'servers', 'monitoring'] as const;

/**
 * Wraps a Storage so that every asynchronous call passes through an
 * interceptor: the circuit breaker and telemetry both use it, so neither has
 * to be sprinkled through backends.
 */
export function wrapStorage(storage: Storage, namespace: string, intercept: Interceptor): Storage {
  const wrapped: Record<string, unknown> = {
    transaction: <T>(fn: (tx: WriteTransaction) => T | Promise<T>) => {
      const site: CallSite = { component: 'transaction', method: 'commit', namespace, enqueues: [], acks: [] };
      return intercept(site, () => storage.transaction((tx) => fn(noteQueues(tx, site))));
    },
  };
  for (const component of COMPONENTS)
    wrapped[component] = wrapObject(storage[component] as unknown as Record<string, unknown>, component, namespace, intercept);
  return wrapped as unknown as Storage;
}

function noteQueues(tx: WriteTransaction, site: CallSite): WriteTransaction {
  return new Proxy(tx, {
    get(obj, prop) {
      const value = Reflect.get(obj, prop, obj);
      if (typeof value !== 'function') return value;
      if (prop === 'enqueue') {
        return (queue: string, jobId: string) => {
          value.call(obj, queue, jobId);
          site.enqueues!.push(queue);
        };
      }
      if (prop === 'removeFromQueue') {
        return (fetched: FetchedJob) => {
          value.call(obj, fetched);
          site.acks!.push(fetched.queue);
        };
      }
      return value.bind(obj);
    },
  });
}

/** A create that enqueues counts as an enqueue into the job's queue (it is one). */
function createdInto(component: string, method: string, args: unknown[]): Pick<CallSite, 'enqueues'> {
  if (component !== 'jobs' || method !== 'create') return {};
  const input = args[0] as { enqueue?: unknown; queue?: unknown } | null | undefined;
  return input?.enqueue === true && typeof input.queue === 'string' ? { enqueues: [input.queue] } : {};
}

function wrapObject(target: Record<string, unknown>, component: string, namespace: string, intercept: Interceptor): unknown {
  return new Proxy(target, {
    get(obj, prop) {
      // The target as receiver: class getters read #private fields, which a proxy `this` does not have.
      const value = Reflect.get(obj, prop, obj);
      if (typeof value !== 'function' || typeof prop !== 'string') return value;
      return (...args: unknown[]) =>
        intercept({ component, method: prop, namespace, subject: obj, ...createdInto(component, prop, args) }, async () => {
          const result = await (value as (...a: unknown[]) => Promise<unknown>).apply(obj, args);
          if (component === 'queues' && result) return wrapObject(result as unknown as Record<string, unknown>, 'fetched', namespace, intercept) as FetchedJob;
          if (component === 'locks') return wrapObject(result as unknown as Record<string, unknown>, 'lock', namespace, intercept) as Lock;
          return result;
        });
    },
  });
}
