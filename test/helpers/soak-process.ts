// One process of the soak (bench/soak.ts). Usage: tsx soak-process.ts '<json SoakArgs>'
//   producer: enqueues jobs `from`..`to` (exclusive) round-robin over the tenants, retrying typed errors;
//             prints "enq <n> <tenant> <jobId>", "retry <code>", "untyped <message>" and "produced".
//   worker:   one JobServer over the router for every tenant; every 10th run takes the tenant's lock 'res';
//             prints "run <tenant> <jobId> <start ms> <end ms>", "lock <tenant> <token> <acquired> <released> <asked>"
//             (lock times on the monotonic clock), "error <message>".
import { JobClient } from '../../src/processing/job-client.js';
import { JobServer } from '../../src/processing/job-server.js';
import { createRouter } from '../../src/router/router.js';
import { isJobshardError } from '../../src/storage/errors.js';
import { fleetRouterConfig, type FleetConfig } from './fleet-router.js';

export interface SoakArgs {
  role: 'producer' | 'worker';
  fleet: FleetConfig;
  tenants: string[];
  from?: number;
  to?: number;
}

const args = JSON.parse(process.argv[2]!) as SoakArgs;
process.env['JOBSHARD_ALLOW_REDIS_WITHOUT_AOF'] = '1';
const router = await createRouter(fleetRouterConfig(args.fleet));
const say = (line: string) => process.stdout.write(`${line}\n`);
const now = () => performance.timeOrigin + performance.now();
// Lock times: the system's monotonic clock, the same in every process. A process's timeOrigin is
// fixed at its start and can be off from another's by a millisecond or more on a loaded machine,
// which is as long as a hold here: grants in order looked out of order.
const monotonic = () => Number(process.hrtime.bigint()) / 1e6;

if (args.role === 'producer') {
  say('ready');
  const clients = args.tenants.map((t) => new JobClient(router.tenant(t)));
  for (let n = args.from!; n < args.to!; n++) {
    const i = n % args.tenants.length;
    for (let attempt = 0; ; attempt++) {
      try {
        say(`enq ${n} ${args.tenants[i]} ${await clients[i]!.enqueue('work', [n], { queue: 'q' })}`);
        break;
      } catch (err) {
        if (!isJobshardError(err)) say(`untyped ${String((err as Error)?.message ?? err).slice(0, 160)}`);
        else say(`retry ${err.code}`);
        if (attempt > 200) throw err;
        await new Promise((r) => setTimeout(r, 50));
      }
    }
  }
  say('produced');
  await router.close();
} else {
  let n = 0;
  const server = new JobServer(router, {
    queues: ['q'],
    workerCount: 8,
    invisibilityTimeoutMs: 10_000,
    heartbeatIntervalMs: 2_000,
    discoveryIntervalMs: 500,
    retentionMs: 3_600_000,
    handlers: {
      work: async (_a, ctx) => {
        const start = now();
        if (n++ % 10 === 0) {
          const asked = monotonic();
          const lock = await router.tenant(ctx.tenant!).locks.acquire('res', { timeoutMs: 10_000, ttlMs: 5_000 });
          const acquired = monotonic();
          await new Promise((r) => setTimeout(r, 1));
          const released = monotonic();
          await lock.release();
          say(`lock ${ctx.tenant} ${lock.token} ${acquired} ${released} ${asked}`);
        }
        say(`run ${ctx.tenant} ${ctx.jobId} ${start} ${now()}`);
      },
    },
    onError: (err) => say(`error ${String((err as Error)?.message ?? err).slice(0, 160)}`),
  });
  await server.start();
  say('ready');
}
