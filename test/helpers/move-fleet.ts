// One process of a fleet that moves units under load. Usage: tsx move-fleet.ts '<json MoveFleetArgs>'
//   producer: enqueues `count` jobs round-robin over the tenants; prints "enq <tenant> <jobId>", then "produced".
//   worker:   serves every tenant (JobServer each); every job takes the tenant's lock 'res' once in a while;
//             prints "run <tenant> <jobId> <start ms> <end ms>" and "lock <tenant> <token> <acquired ms> <released ms>".
//   mover:    moves each [unit, toShard] in turn; prints "phase <phase> <unit> <items copied> <epoch ms>" and "moved <json result>";
//             with `parkAt`, stops dead (blocking its event loop) at that phase of the first move, for the parent to SIGKILL;
//             with `parkMs` too, goes on after that long (a mover that stalled), printing "move failed …" if its move was undone.
import { JobClient } from '../../src/processing/job-client.js';
import { JobServer } from '../../src/processing/job-server.js';
import { createRouter } from '../../src/router/router.js';
import { isJobshardError } from '../../src/storage/errors.js';
import { fleetRouterConfig, type FleetConfig } from './fleet-router.js';

export interface MoveFleetArgs {
  role: 'producer' | 'worker' | 'mover';
  fleet: FleetConfig;
  tenants: string[];
  count?: number;
  moves?: Array<[string, string]>;
  parkAt?: 'copy' | 'frozen' | 'flip' | 'cleanup';
  freezeMs?: number;
  parkMs?: number;
}

const args = JSON.parse(process.argv[2]!) as MoveFleetArgs;
const router = await createRouter(fleetRouterConfig(args.fleet));
const say = (line: string) => process.stdout.write(`${line}\n`);
const now = () => performance.timeOrigin + performance.now();

function park(): void {
  say(`parked ${args.parkAt}`);
  // Blocks the whole process: nothing of the move runs on until the parent kills it (or parkMs passes).
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, args.parkMs ?? 120_000);
  if (args.parkMs === undefined) process.exit(3);
  say('resumed');
}

if (args.role === 'producer') {
  say('ready');
  const clients = args.tenants.map((t) => new JobClient(router.tenant(t)));
  for (let i = 0; i < args.count!; i++) {
    const n = i % args.tenants.length;
    for (;;) {
      try {
        say(`enq ${args.tenants[n]} ${await clients[n]!.enqueue('work', [i], { queue: 'q' })}`);
        break;
      } catch (err) {
        // A unit frozen longer than the router waits, or a shard briefly away: nothing was written; try again.
        if (!isJobshardError(err, 'SHARD_UNAVAILABLE')) throw err;
        say(`retry ${args.tenants[n]} ${(err as Error).message.slice(0, 80)}`);
      }
    }
  }
  say('produced');
} else if (args.role === 'worker') {
  let n = 0;
  for (const tenant of args.tenants) {
    const storage = router.tenant(tenant);
    const server = new JobServer(storage, {
      queues: ['q'],
      workerCount: 2,
      // Long enough that a loaded machine (a full suite beside it) does not lapse a running job's lease: at 3 s, such runs overlapped 1-2 times in a full run.
      invisibilityTimeoutMs: 10_000,
      heartbeatIntervalMs: 2_000,
      schedulerIntervalMs: 60_000,
      retentionMs: 3_600_000,
      handlers: {
        work: async (_a, ctx) => {
          const start = now();
          if (n++ % 10 === 0) {
            const lock = await storage.locks.acquire('res', { timeoutMs: 10_000, ttlMs: 2_000 });
            const acquired = now();
            await new Promise((r) => setTimeout(r, 2));
            const released = now();
            await lock.release();
            say(`lock ${tenant} ${lock.token} ${acquired} ${released}`);
          }
          say(`run ${tenant} ${ctx.jobId} ${start} ${now()}`);
        },
      },
      onError: (err) => say(`error ${tenant} ${(err as Error).message.slice(0, 120)}`),
    });
    await server.start();
  }
  say('ready');
} else {
  say('ready');
  let parked = false;
  for (const [unit, to] of args.moves!) {
    const move = router.admin.moveUnit(unit, to, {
      freezeMs: args.freezeMs,
      // Unpaced: this fleet tests what a move keeps, not how it shares the shards (bench:moves does).
      copyShare: 1,
      onProgress: (p) => {
        say(`phase ${p.phase} ${unit} ${p.itemsCopied} ${Math.round(now())}`);
        if (parked || !args.parkAt) return;
        if (args.parkAt === 'copy' ? p.phase === 'copy' && p.itemsCopied > 0 : p.phase === args.parkAt) {
          parked = true;
          park();
        }
      },
    });
    try {
      say(`moved ${JSON.stringify(await move.done)}`);
    } catch (err) {
      say(`move failed ${unit} ${(err as Error).message}`);
      throw err;
    }
  }
  say('moves done');
  await router.close();
}
