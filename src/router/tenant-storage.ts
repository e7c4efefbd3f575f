import type { Storage } from '../storage/storage.js';
import type { WriteTransaction } from '../storage/transaction.js';
import { RoutedData } from './routed-data.js';
import { RoutedJobs } from './routed-jobs.js';
import { RoutedMonitoring } from './routed-monitoring.js';
import { RoutedQueues } from './routed-queues.js';
import { routedTransaction } from './routed-transaction.js';
import type { TenantContext } from './tenant-context.js';

/**
 * One tenant's storage over the router: the same contract as a backend's.
 * Locks and servers are tenant-wide and live on the home unit; everything
 * else routes by queue (create, fetch) or by the unit in the job id.
 */
export function tenantStorage(ctx: TenantContext): Storage {
  const home = () => ctx.storageOf(ctx.home);
  const data = afterLoad(ctx, new RoutedData(ctx));
  return {
    tenant: ctx.tenant,
    // The hot path: these wait for the directory inside each call rather than through a proxy.
    jobs: new RoutedJobs(ctx),
    queues: new RoutedQueues(ctx),
    get locks() {
      return home().locks;
    },
    get data() {
      // RoutedData also serves a tenant without groups; the home unit's own is the direct path.
      return ctx.ready() === null && !ctx.split ? home().data : data;
    },
    get servers() {
      return home().servers;
    },
    monitoring: afterLoad(ctx, new RoutedMonitoring(ctx, new RoutedData(ctx))),
    transaction<T>(fn: (tx: WriteTransaction) => T | Promise<T>): Promise<T> {
      const waiting = ctx.ready();
      return waiting === null ? routedTransaction(ctx, fn) : waiting.then(() => routedTransaction(ctx, fn));
    },
    locate(queue: string) {
      // Before the placement directory has loaded nobody knows yet: telemetry goes without.
      if (ctx.ready() !== null) return undefined;
      const shard = ctx.shardOf(ctx.unitOfQueue(queue));
      return { shard: shard.id, backend: shard.kind };
    },
  };
}

/**
 * The routed components read the placement synchronously (which unit a
 * queue belongs to) before their first await; until the directory has
 * loaded, their calls wait for it. Loaded, calls go straight through.
 */
function afterLoad<T extends object>(ctx: TenantContext, target: T): T {
  // One wrapper per method, made once: the hot path pays a property read and a null check.
  const wrappers = new Map<PropertyKey, unknown>();
  return new Proxy(target, {
    get(obj, prop) {
      const value = Reflect.get(obj, prop, obj);
      if (typeof value !== 'function') return value;
      let w = wrappers.get(prop);
      if (!w) {
        w = (...args: unknown[]) => {
          const waiting = ctx.ready();
          return waiting === null ? value.apply(obj, args) : waiting.then(() => value.apply(obj, args));
        };
        wrappers.set(prop, w);
      }
      return w;
    },
  });
}
