// One service process: a single JobServer over a router serving every tenant of a fleet's shards.
// Usage: tsx pool-server.ts '<json FleetConfig>'
// Prints "ready", then "done <ctx.tenant> <the tenant in the job's args> <jobId>" per job run.
import { JobServer } from '../../src/processing/job-server.js';
import { createRouter } from '../../src/router/router.js';
import { fleetRouterConfig, type FleetConfig } from './fleet-router.js';

const cfg = JSON.parse(process.argv[2]!) as FleetConfig;
const router = await createRouter(fleetRouterConfig(cfg));
const server = new JobServer(router, {
  queues: ['q'],
  workerCount: 16,
  handlers: { work: async (args, ctx) => void process.stdout.write(`done ${ctx.tenant} ${String(args[0])} ${ctx.jobId}\n`) },
  onError: (err) => process.stderr.write(`pool error: ${(err as Error).message}\n`),
});
await server.start();
process.stdout.write('ready\n');
process.on(
  'SIGTERM',
  () =>
    void server
      .stop()
      .then(() => router.close())
      .then(() => process.exit(0)),
);
