// A service that runs jobs: one JobServer over the router serves every tenant, fairly, on the given queues.
import { trace } from '@opentelemetry/api';
import { JobServer, type Router } from '../../src/index.js';
import { TENANTS } from './shards.js';

export interface WorkerStats {
  processed: Map<string, number>;
  errors: number;
}

export async function startWorkers(router: Router, queues: string[], handlerTypes: string[], stats: WorkerStats): Promise<() => Promise<void>> {
  const server = new JobServer(router, {
    tenants: TENANTS,
    queues,
    workerCount: 2 * TENANTS.length,
    shutdownTimeoutMs: 5_000,
    onError: () => void stats.errors++,
    handlers: Object.fromEntries(
      handlerTypes.map((type) => [
        type,
        async (_args: unknown, ctx: { tenant?: string }) => {
          // The handler's own span is a child of the job's `process <queue>` span.
          await trace.getTracer('worker').startActiveSpan(`${type} work`, async (span) => {
            await new Promise((r) => setTimeout(r, 1 + Math.random() * 4)); // pretend to work
            span.end();
          });
          stats.processed.set(ctx.tenant!, (stats.processed.get(ctx.tenant!) ?? 0) + 1);
        },
      ]),
    ),
  });
  await server.start();
  return () => server.stop();
}
