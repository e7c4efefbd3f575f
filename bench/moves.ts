// Online move benchmark. Run: npm run bench:moves   (MOVES_JOBS=20000 for a quicker run)
// For each direction (Redis→Redis, Postgres→Postgres, Postgres→Redis): a unit of MOVES_JOBS enqueued
// jobs is moved with admin.moveUnit while other tenants on the same two shards enqueue, fetch and
// ack in a loop. Reports the copy rate (jobs/s over the whole move), the unit's write pause (freeze to
// flip), and the other tenants' throughput during the move as a ratio to the windows before and after.
import { PostgresBackend } from '../src/backends/postgres/postgres-backend.js';
import { RedisBackend } from '../src/backends/redis/redis-backend.js';
import { MemoryBackend } from '../src/backends/memory/memory-backend.js';
import { createRouter, type Router } from '../src/router/router.js';
import type { Backend } from '../src/storage/storage.js';
import { deleteRedisPrefix, dropSchema, freshPrefix, freshSchema, PG_URL, REDIS_URL } from '../test/helpers/servers.js';

const JOBS = Number(process.env['MOVES_JOBS'] ?? 100_000);
const WINDOW_MS = 3_000;
const OTHERS = 4;

function tenantOn(router: Router, shard: string, prefix: string): string {
  for (let i = 0; ; i++) if (router.shardFor(`${prefix}${i}`).shard === shard) return `${prefix}${i}`;
}

async function fill(router: Router, tenant: string, n: number): Promise<void> {
  const s = router.tenant(tenant);
  let next = 0;
  // 64 concurrent creators: the backends batch them into a few statements or scripts.
  await Promise.all(Array.from({ length: 64 }, async () => {
    while (next < n) {
      next++;
      await s.jobs.create({ type: 'bench.job', args: [next, 'payload'], queue: 'q', parameters: { origin: 'bench' }, state: { name: 'Enqueued' }, enqueue: true });
    }
  }));
}

/** Other tenants' enqueue+fetch+ack loop; returns a function that reads (and resets) the count of round trips done. */
function background(router: Router, tenants: string[]): { take: () => number; stop: () => Promise<void> } {
  let done = 0;
  let stopped = false;
  const loops = tenants.map(async (tn) => {
    const s = router.tenant(tn);
    while (!stopped) {
      await s.jobs.create({ type: 'other', args: [], queue: 'o', state: { name: 'Enqueued' }, enqueue: true });
      const f = await s.queues.tryFetch(['o']);
      await f?.ack();
      done++;
    }
  });
  return {
    take: () => {
      const d = done;
      done = 0;
      return d;
    },
    stop: async () => {
      stopped = true;
      await Promise.all(loops);
    },
  };
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

const cleanups: Array<() => Promise<unknown>> = [];
function pg(): Backend {
  const schema = freshSchema();
  cleanups.push(() => dropSchema(schema));
  return new PostgresBackend({ connectionString: PG_URL, schema, poolSize: 8 });
}
function redis(): Backend {
  const prefix = freshPrefix();
  cleanups.push(() => deleteRedisPrefix(prefix));
  return new RedisBackend({ url: REDIS_URL, prefix });
}

console.log(`\nMoving a unit of ${JOBS.toLocaleString('en')} enqueued jobs while ${OTHERS} other tenants enqueue+fetch+ack on the same shards`);
console.log('direction            move s   jobs/s   pause ms   others during / before+after (ops/s)');
try {
  for (const [name, make] of [['redis → redis', [redis, redis]], ['postgres → postgres', [pg, pg]], ['postgres → redis', [pg, redis]]] as const) {
    const [from, to] = [make[0](), make[1]()];
    const router = await createRouter({ shards: [{ id: 'from', backend: from }, { id: 'to', backend: to }], directory: { backend: new MemoryBackend() } });
    const unit = tenantOn(router, 'from', 'big');
    await fill(router, unit, JOBS);
    const others = [...Array.from({ length: OTHERS / 2 }, (_, i) => tenantOn(router, 'from', `o${i}-`)), ...Array.from({ length: OTHERS / 2 }, (_, i) => tenantOn(router, 'to', `p${i}-`))];
    const bg = background(router, others);
    await sleep(500);
    bg.take();
    await sleep(WINDOW_MS);
    const before = bg.take() / (WINDOW_MS / 1000);
    const t0 = performance.now();
    const result = await router.admin.moveUnit(unit, 'to', { freezeMs: 30_000 }).done;
    const moveMs = performance.now() - t0;
    const during = bg.take() / (moveMs / 1000);
    await sleep(WINDOW_MS);
    const after = bg.take() / (WINDOW_MS / 1000);
    await bg.stop();
    const check = (await router.tenant(unit).monitoring.stateCounts())['Enqueued'];
    if (check !== JOBS) throw new Error(`after the move the unit holds ${check} enqueued jobs, not ${JOBS}`);
    console.log(`${name.padEnd(20)} ${(moveMs / 1000).toFixed(1).padStart(6)} ${Math.round(JOBS / (moveMs / 1000)).toLocaleString('en').padStart(8)} ${String(result.pauseMs).padStart(10)}   ${(during / ((before + after) / 2)).toFixed(2)} (${Math.round(during)} / ${Math.round(before)}, ${Math.round(after)})`);
    await router.close();
  }
} finally {
  for (const c of cleanups) await c().catch(() => {});
}
