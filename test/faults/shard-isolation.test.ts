// One server over a router with three shards, a backlog on each, and a fault proxy in front of one
// Redis shard that stalls every request, slows the link or cuts it. The other shards' tenants
// keep their throughput and never wait long for a run; the hit shard's tenants run again once the
// link is back, and every job runs. Before shards were limited to a share of the workers (and
// the fair queue kept a refused tenant's turn), a stalled link stopped every shard's tenants for
// the whole fault (4 s gaps, under 10 jobs/s from 300).
import test from 'ava';
import { PostgresBackend } from '../../src/backends/postgres/postgres-backend.js';
import { RedisBackend } from '../../src/backends/redis/redis-backend.js';
import { JobClient } from '../../src/processing/job-client.js';
import { JobServer } from '../../src/processing/job-server.js';
import { POOL_SERVERS_NAMESPACE } from '../../src/processing/tenant-pool.js';
import { Router } from '../../src/router/router.js';
import { FaultProxy } from '../helpers/fault-proxy.js';
import { deleteRedisPrefix, dropSchema, freshPrefix, freshSchema, PG_URL, REDIS_URL } from '../helpers/servers.js';
import { until } from '../helpers/until.js';

type Fault = 'stall' | 'slow' | 'cut';

const FAULT_MS = 3_000;
const BEFORE_MS = 1_000;
/** Jobs per tenant: enough that the answering shards still have a backlog when the fault ends. */
const BACKLOG = 900;

/** The longest time between runs (and from the window's edges) in [from, to]. */
function longestGap(times: number[], from: number, to: number): number {
  const ts = [from, ...times.filter((x) => x >= from && x <= to).sort((a, b) => a - b), to];
  let gap = 0;
  for (let i = 1; i < ts.length; i++) gap = Math.max(gap, ts[i]! - ts[i - 1]!);
  return gap;
}

for (const fault of ['stall', 'slow', 'cut'] as Fault[]) {
  test.serial(
    `a ${fault === 'stall' ? 'stalled' : fault === 'slow' ? 'slow (200 ms)' : 'cut'} link to one shard: the other shards' tenants keep their throughput, with no gap`,
    async (t) => {
      t.timeout(90_000);
      const proxy = new FaultProxy(Number(new URL(REDIS_URL).port || 6379));
      await proxy.start();
      const schema = freshSchema();
      const [near, far] = [freshPrefix(), freshPrefix()];
      const shards = ['pg', 'near', 'far'];
      const tenantsOf = (shard: string) => [`${shard}0`, `${shard}1`];
      const router = new Router({
        shards: [
          { id: 'pg', backend: new PostgresBackend({ connectionString: PG_URL, schema, poolSize: 4 }) },
          { id: 'near', backend: new RedisBackend({ url: REDIS_URL, prefix: near }) },
          { id: 'far', backend: new RedisBackend({ url: `redis://127.0.0.1:${proxy.port}`, prefix: far }) },
        ],
        tenants: Object.fromEntries(shards.flatMap((shard) => tenantsOf(shard).map((tenant) => [tenant, { shard }]))),
      });
      const runs = new Map<string, number[]>(shards.map((s) => [s, []]));
      const server = new JobServer(router, {
        queues: ['q'],
        workerCount: 8,
        discoveryIntervalMs: 500,
        invisibilityTimeoutMs: 30_000,
        retentionMs: 0,
        handlers: {
          work: async (_args, ctx) => {
            await new Promise((r) => setTimeout(r, 10));
            runs.get(ctx.tenant!.replace(/\d+$/, ''))!.push(Date.now());
          },
        },
      });
      try {
        await router.open();
        for (const shard of shards)
          for (const tenant of tenantsOf(shard)) {
            const client = new JobClient(router.tenant(tenant));
            for (let i = 0; i < BACKLOG; i += 300) await Promise.all(Array.from({ length: 300 }, () => client.enqueue('work', [], { queue: 'q' })));
          }
        await server.start();
        await new Promise((r) => setTimeout(r, BEFORE_MS + 500));
        const faultAt = Date.now();
        if (fault === 'stall') {
          proxy.stallMs = FAULT_MS;
          proxy.cutOn(() => 'stall');
        } else if (fault === 'slow') proxy.delay(200);
        else proxy.cut();
        await new Promise((r) => setTimeout(r, FAULT_MS));
        proxy.cutOn(null);
        proxy.restore();
        const endAt = Date.now();
        const rate = (shard: string, from: number, to: number) => (runs.get(shard)!.filter((x) => x >= from && x < to).length * 1_000) / (to - from);
        for (const shard of ['pg', 'near']) {
          const before = rate(shard, faultAt - BEFORE_MS, faultAt);
          const during = rate(shard, faultAt, endAt);
          const gap = longestGap(runs.get(shard)!, faultAt, endAt);
          t.log(`${shard}: ${before.toFixed(0)} jobs/s before, ${during.toFixed(0)} during; longest gap ${gap} ms`);
          t.true(during >= 0.5 * before, `${shard}: ${during.toFixed(0)} jobs/s during the fault, ${before.toFixed(0)} before`);
          t.true(gap < 1_000, `${shard}: ${gap} ms without a run`);
        }
        t.true(rate('far', faultAt + 500, endAt) < 0.2 * rate('far', faultAt - BEFORE_MS, faultAt), 'the fault did hold the far shard up');
        // Every job runs: the far shard's tenants once the link is back.
        const total = () => shards.reduce((n, s) => n + runs.get(s)!.length, 0);
        await until(
          () => total() >= shards.length * 2 * BACKLOG,
          40_000,
          () => shards.map((s) => `${s} ${runs.get(s)!.length}`).join(', '),
        );
        t.is(total(), shards.length * 2 * BACKLOG);
      } finally {
        await server.stop();
        await router.close().catch(() => {});
        await proxy.close();
        await dropSchema(schema);
        await deleteRedisPrefix(near);
        await deleteRedisPrefix(far);
      }
    },
  );
}

test.serial('a server over a router starts while one shard is cut off: it serves the other shards at once, and the cut one once it answers', async (t) => {
  t.timeout(60_000);
  const proxy = new FaultProxy(Number(new URL(REDIS_URL).port || 6379));
  await proxy.start();
  const schema = freshSchema();
  const far = freshPrefix();
  const router = new Router({
    shards: [
      { id: 'pg', backend: new PostgresBackend({ connectionString: PG_URL, schema, poolSize: 4 }) },
      { id: 'far', backend: new RedisBackend({ url: `redis://127.0.0.1:${proxy.port}`, prefix: far, connectTimeoutMs: 500 }) },
    ],
    tenants: { near: { shard: 'pg' }, away: { shard: 'far' } },
    circuitBreaker: { failureThreshold: 3, openMs: 300 },
  });
  const ran: string[] = [];
  const errors: string[] = [];
  const server = new JobServer(router, {
    queues: ['q'],
    heartbeatIntervalMs: 200,
    discoveryIntervalMs: 200,
    handlers: { work: async (_args, ctx) => void ran.push(ctx.tenant!) },
    onError: (err) => errors.push(String(err)),
  });
  try {
    await router.open();
    await new JobClient(router.tenant('away')).enqueue('work', [], { queue: 'q' });
    await new JobClient(router.tenant('near')).enqueue('work', [], { queue: 'q' });
    proxy.cut();
    const started = Date.now();
    await server.start();
    const startMs = Date.now() - started;
    await until(
      () => ran.includes('near'),
      5_000,
      () => `ran ${ran.join(', ')}`,
    );
    t.false(ran.includes('away'));
    t.true(errors.length > 0, "the cut shard's failures reach onError");
    proxy.restore();
    await until(
      () => ran.includes('away'),
      15_000,
      () => `ran ${ran.join(', ')}; errors ${errors.slice(-3).join(' | ')}`,
    );
    // Its record on the shard that was cut, written by a heartbeat once it answered.
    const farServers = router.shards.get('far')!.backend.storage(POOL_SERVERS_NAMESPACE).servers;
    let ids: string[] = [];
    const deadline = Date.now() + 5_000;
    while (!ids.includes(server.id) && Date.now() < deadline) {
      ids = (await farServers.list()).map((s) => s.id);
      await new Promise((r) => setTimeout(r, 100));
    }
    t.true(ids.includes(server.id), `servers on the cut shard: ${ids.join(', ')}`);
    t.log(`start() took ${startMs} ms with a shard cut off`);
    t.true(startMs < 5_000, `start() took ${startMs} ms`);
  } finally {
    await server.stop();
    await router.close().catch(() => {});
    await proxy.close();
    await dropSchema(schema);
    await deleteRedisPrefix(far);
  }
});
