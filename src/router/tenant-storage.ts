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
  const data = ctx.split ? new RoutedData(ctx) : null;
  return {
    jobs: new RoutedJobs(ctx),
    queues: new RoutedQueues(ctx),
    get locks() {
      return home().locks;
    },
    get data() {
      return data ?? home().data;
    },
    get servers() {
      return home().servers;
    },
    monitoring: new RoutedMonitoring(ctx, data ?? new RoutedData(ctx)),
    transaction<T>(fn: (tx: WriteTransaction) => T | Promise<T>): Promise<T> {
      return routedTransaction(ctx, fn);
    },
    locate(queue: string) {
      const shard = ctx.shardOf(ctx.unitOfQueue(queue));
      return { shard: shard.id, backend: shard.kind };
    },
  };
}
