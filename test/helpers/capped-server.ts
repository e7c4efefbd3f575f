// One service process whose server over a router runs every tenant's 100 ms jobs of queues 'slow' and 'fast', under the caps
// of the fleet's tenant map if it has any (tenant-caps and tenant-pause-fleet tests).
// Usage: tsx capped-server.ts '<json FleetConfig>' <capLeaseMs> <invisibilityTimeoutMs>
// Prints "ready", then "start <tenant> <queue> <jobId> <ms>" and "end <tenant> <queue> <jobId> <ms>" around each run (100 ms).
import { JobServer } from '../../src/processing/job-server.js';
import { createRouter } from '../../src/router/router.js';
import { fleetRouterConfig, type FleetConfig } from './fleet-router.js';

const cfg = JSON.parse(process.argv[2]!) as FleetConfig;
const router = await createRouter(fleetRouterConfig(cfg));
const server = new JobServer(router, {
  queues: ['slow', 'fast'],
  workerCount: 8,
  capLeaseMs: Number(process.argv[3]),
  invisibilityTimeoutMs: Number(process.argv[4]),
  handlers: {
    work: async (_args, ctx) => {
      process.stdout.write(`start ${ctx.tenant} ${ctx.queue} ${ctx.jobId} ${Date.now()}\n`);
      await new Promise((r) => setTimeout(r, 100));
      process.stdout.write(`end ${ctx.tenant} ${ctx.queue} ${ctx.jobId} ${Date.now()}\n`);
    },
  },
  onError: (err) => process.stderr.write(`capped server error: ${(err as Error).message}\n`),
});
await server.start();
process.stdout.write('ready\n');
