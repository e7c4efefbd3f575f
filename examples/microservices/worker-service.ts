// A service that runs jobs: one JobServer per tenant over the given queues.
import { JobServer, type Router } from '../../src/index.js';
import { TENANTS } from './shards.js';

export interface WorkerStats {
  processed: Map<string, number>;
  errors: number;
}

export async function startWorkers(router: Router, queues: string[], handlerTypes: string[], stats: WorkerStats): Promise<() => Promise<void>> {
  const servers = TENANTS.map((tenant) => new JobServer(router.tenant(tenant), {
    queues,
    workerCount: 2,
    shutdownTimeoutMs: 5_000,
    onError: () => void stats.errors++,
    handlers: Object.fromEntries(handlerTypes.map((type) => [type, async () => {
      await new Promise((r) => setTimeout(r, 1 + Math.random() * 4)); // pretend to work
      stats.processed.set(tenant, (stats.processed.get(tenant) ?? 0) + 1);
    }])),
  }));
  await Promise.all(servers.map((s) => s.start()));
  return async () => {
    await Promise.all(servers.map((s) => s.stop()));
  };
}
