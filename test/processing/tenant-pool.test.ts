// One JobServer over a router: every tenant served by one pool, fairly, from each shard's work index.
import test from 'ava';
import { MemoryBackend } from '../../src/backends/memory/memory-backend.js';
import { PostgresBackend } from '../../src/backends/postgres/postgres-backend.js';
import { RedisBackend } from '../../src/backends/redis/redis-backend.js';
import { JobClient } from '../../src/processing/job-client.js';
import { JobServer } from '../../src/processing/job-server.js';
import { createRouter, type Router, type RouterConfig } from '../../src/router/router.js';
import type { JsonValue } from '../../src/storage/json.js';
import type { Storage } from '../../src/storage/storage.js';
import { PAUSE_CHANGES_COUNTER, PAUSES_NAMESPACE } from '../../src/storage/pauses.js';
import { rejectsWithCode } from '../conformance/helpers.js';
import { freshTenant } from '../helpers/mixed-router.js';
import { deleteRedisPrefix, dropSchema, freshPrefix, freshSchema, PG_URL, REDIS_URL } from '../helpers/servers.js';
import { until } from '../helpers/until.js';
import { FaultProxy } from '../helpers/fault-proxy.js';

/** A router over a Redis and a Postgres shard (fresh prefix and schema), and its cleanup. */
async function realRouter(tenants: RouterConfig['tenants'] = {}): Promise<{ router: Router; cleanup: () => Promise<void> }> {
  const schema = freshSchema();
  const prefix = freshPrefix();
  const router = await createRouter({
    shards: [
      { id: 'redis', backend: new RedisBackend({ url: REDIS_URL, prefix }) },
      { id: 'pg', backend: new PostgresBackend({ connectionString: PG_URL, schema, poolSize: 6 }) },
    ],
    tenants,
  });
  return {
    router,
    cleanup: async () => {
      await router.close();
      await dropSchema(schema);
      await deleteRedisPrefix(prefix);
    },
  };
}

test('one server serves 300 tenants on two shards: every job runs once, under its own tenant', async (t) => {
  const { router, cleanup } = await realRouter();
  const tenants = Array.from({ length: 300 }, () => freshTenant());
  const ran = new Map<string, number>();
  let foreign = 0;
  const server = new JobServer(router, {
    queues: ['q'],
    workerCount: 8,
    handlers: {
      work: async (args, ctx) => {
        if (args[0] !== ctx.tenant) foreign++;
        // Writes go through the job's own tenant: its storage sees the job, as Processing.
        const job = await router.tenant(ctx.tenant!).jobs.get(ctx.jobId);
        if (job.state !== 'Processing') foreign++;
        ran.set(ctx.jobId, (ran.get(ctx.jobId) ?? 0) + 1);
      },
    },
  });
  try {
    const ids: string[] = [];
    for (const tn of tenants) for (let i = 0; i < 3; i++) ids.push(await new JobClient(router.tenant(tn)).enqueue('work', [tn], { queue: 'q' }));
    await server.start();
    await until(
      () => ran.size >= ids.length,
      60_000,
      () => `${ran.size} of ${ids.length}`,
    );
    t.is(ran.size, 900);
    t.deepEqual(
      [...ran.values()].filter((n) => n !== 1),
      [],
      'each once',
    );
    t.is(foreign, 0, 'none ran under another tenant');
    const some = tenants[17]!;
    const mine = ids.filter((_, i) => Math.floor(i / 3) === 17);
    for (const id of mine) t.is((await router.tenant(some).jobs.get(id)).state, 'Succeeded');
  } finally {
    await server.stop();
    await cleanup();
  }
});

test('a server over a router with markProcessingAfterMs: short runs write Processing with their outcome, long ones are marked while they run', async (t) => {
  const { router, cleanup } = await realRouter();
  const tenants = [freshTenant(), freshTenant(), freshTenant(), freshTenant()];
  const seen: Array<string | null> = [];
  let release!: () => void;
  const gate = new Promise<void>((r) => (release = r));
  const server = new JobServer(router, {
    queues: ['q'],
    workerCount: 4,
    markProcessingAfterMs: 100,
    handlers: {
      quick: async (_, ctx) => {
        seen.push((await router.tenant(ctx.tenant!).jobs.get(ctx.jobId)).state);
      },
      long: () => gate,
    },
  });
  try {
    const quick = await Promise.all(tenants.map((tn) => new JobClient(router.tenant(tn)).enqueue('quick', [], { queue: 'q' })));
    const long = await new JobClient(router.tenant(tenants[0]!)).enqueue('long', [], { queue: 'q' });
    await server.start();
    await until(
      () => seen.length === 4,
      10_000,
      () => `${seen.length} quick runs`,
    );
    t.deepEqual(seen, ['Enqueued', 'Enqueued', 'Enqueued', 'Enqueued'], 'not marked by the fetch');
    const first = router.tenant(tenants[0]!);
    // The job's state once it is `state`, or after 10 s.
    const reach = async (s: Storage, id: string, state: string) => {
      for (let waited = 0; (await s.jobs.get(id)).state !== state && waited < 10_000; waited += 20) await new Promise((r) => setTimeout(r, 20));
      return (await s.jobs.get(id)).state;
    };
    t.is(await reach(first, long, 'Processing'), 'Processing', 'marked while it runs');
    release();
    t.is(await reach(first, long, 'Succeeded'), 'Succeeded');
    t.deepEqual(
      (await first.jobs.history(long)).map((h) => h.name),
      ['Enqueued', 'Processing', 'Succeeded'],
    );
    for (const [i, id] of quick.entries()) {
      const tenant = router.tenant(tenants[i]!);
      t.is(await reach(tenant, id, 'Succeeded'), 'Succeeded');
      t.deepEqual(
        (await tenant.jobs.history(id)).map((h) => h.name),
        ['Enqueued', 'Processing', 'Succeeded'],
      );
    }
  } finally {
    await server.stop();
    await cleanup();
  }
});

test('a tenant that first enqueues after the server started is served within a second (wake-ups), on Redis and Postgres', async (t) => {
  const { router, cleanup } = await realRouter();
  const started = new Map<string, number>();
  const server = new JobServer(router, {
    queues: ['q'],
    workerCount: 4,
    discoveryIntervalMs: 60_000, // discovery by polling would take a minute: only the wake-ups can be in time
    handlers: { work: async (_args, ctx) => void started.set(ctx.jobId, Date.now()) },
  });
  try {
    await server.start();
    await new Promise((r) => setTimeout(r, 300));
    const delays: number[] = [];
    const shards = new Set<string>();
    for (let i = 0; i < 10; i++) {
      const tn = freshTenant();
      shards.add(router.shardFor(tn).shard);
      const at = Date.now();
      const id = await new JobClient(router.tenant(tn)).enqueue('work', [], { queue: 'q' });
      await until(
        () => started.has(id),
        5_000,
        () => `job of new tenant ${tn}`,
      );
      delays.push(started.get(id)! - at);
    }
    t.log(`first-job start delay of new tenants: max ${Math.max(...delays)} ms, shards ${[...shards].join(', ')}`);
    t.true(Math.max(...delays) < 1_000);
  } finally {
    await server.stop();
    await cleanup();
  }
});

test("fairness: 50 tenants with 10 jobs each finish long before one tenant's 20,000-job backlog", async (t) => {
  const { router, cleanup } = await realRouter();
  const big = freshTenant('big');
  const small = Array.from({ length: 50 }, () => freshTenant('small'));
  let bigDone = 0;
  const smallDone = new Map<string, number>();
  let bigAtLastSmall = -1;
  const server = new JobServer(router, {
    queues: ['q'],
    workerCount: 8,
    retentionMs: 0,
    handlers: {
      work: async (args) => {
        if (args[0] === big) bigDone++;
        else {
          smallDone.set(args[0] as string, (smallDone.get(args[0] as string) ?? 0) + 1);
          if ([...smallDone.values()].reduce((a, b) => a + b, 0) === 500) bigAtLastSmall = bigDone;
        }
      },
    },
  });
  try {
    const bigClient = new JobClient(router.tenant(big));
    await Promise.all(Array.from({ length: 20_000 }, () => bigClient.enqueue('work', [big], { queue: 'q' })));
    await server.start();
    await until(
      () => bigDone >= 200,
      30_000,
      () => `${bigDone} big jobs`,
    );
    // The small tenants arrive while the backlog is being worked off.
    await Promise.all(
      small.flatMap((tn) => Array.from({ length: 10 }, () => new JobClient(router.tenant(tn)).enqueue('work', [tn as JsonValue], { queue: 'q' }))),
    );
    const enqueuedAt = bigDone;
    await until(
      () => bigAtLastSmall >= 0,
      60_000,
      () => `${[...smallDone.values()].reduce((a, b) => a + b, 0)} of 500 small jobs`,
    );
    const during = bigAtLastSmall - enqueuedAt;
    t.log(`big-tenant jobs run while the 500 small jobs ran: ${during} (of 20,000; ${enqueuedAt} before they came)`);
    // Fair share: ~1 big job per 50 small ones, plus the jobs in flight when they came. A loose bound.
    t.true(during < 1_000, `${during} big jobs ran meanwhile`);
    t.true(bigAtLastSmall < 2_000, 'the small tenants were not left for after the backlog');
  } finally {
    await server.stop();
    await cleanup();
  }
});

test('weights from the tenant map: 1:3 shares between two backlogged tenants, within ±15%', async (t) => {
  const light = freshTenant('light');
  const heavy = freshTenant('heavy');
  // On one shard: weights divide fetches among the tenants that the shards' worker limits let
  // through (docs/many-tenants.md), and across shards those limits come first.
  const { router, cleanup } = await realRouter({ [light]: { weight: 1, shard: 'redis' }, [heavy]: { weight: 3, shard: 'redis' } });
  const order: string[] = [];
  const server = new JobServer(router, {
    queues: ['q'],
    workerCount: 4,
    retentionMs: 0,
    handlers: { work: async (args) => void order.push(args[0] as string) },
  });
  try {
    for (const tn of [light, heavy]) {
      const c = new JobClient(router.tenant(tn));
      await Promise.all(Array.from({ length: 1_000 }, () => c.enqueue('work', [tn], { queue: 'q' })));
    }
    await server.start();
    await until(
      () => order.length >= 800,
      60_000,
      () => `${order.length} jobs`,
    );
    const first = order.slice(0, 800);
    const share = first.filter((x) => x === heavy).length / first.length;
    t.log(`heavy (weight 3) share of the first 800 jobs: ${(share * 100).toFixed(1)}%`);
    t.true(Math.abs(share - 0.75) <= 0.15 * 0.75, `share ${share}`);
  } finally {
    await server.stop();
    await cleanup();
  }
});

test("inside each tenant the queues' priority holds, while the pool takes turns between tenants on both shards", async (t) => {
  const { router, cleanup } = await realRouter();
  // A tenant on each shard, each with a backlog in both queues, low-priority jobs enqueued first.
  const pick = (shard: string) => {
    for (;;) {
      const tn = freshTenant();
      if (router.shardFor(tn).shard === shard) return tn;
    }
  };
  const tenants = [pick('redis'), pick('pg')];
  const runs = new Map<string, string[]>(tenants.map((tn) => [tn, []]));
  const server = new JobServer(router, {
    queues: ['high', 'low'],
    workerCount: 2,
    handlers: { work: async (_args, ctx) => void runs.get(ctx.tenant!)!.push(ctx.queue) },
  });
  try {
    for (const tn of tenants) {
      const c = new JobClient(router.tenant(tn));
      for (const q of ['low', 'high']) for (let i = 0; i < 15; i++) await c.enqueue('work', [], { queue: q });
    }
    await server.start();
    await until(
      () => [...runs.values()].every((r) => r.length === 30),
      20_000,
      () => JSON.stringify(Object.fromEntries(runs)),
    );
    for (const [tn, order] of runs) {
      // A fetch of two takes the last 'high' and the first 'low' together; nothing 'low' before that.
      const firstLow = order.indexOf('low');
      t.true(firstLow >= 14, `${tn}: ${order.join(',')}`);
      t.deepEqual(
        order.slice(firstLow + 1).filter((q) => q === 'high'),
        firstLow === 14 ? ['high'] : [],
        `${tn}: every 'high' job ran before the 'low' ones`,
      );
    }
  } finally {
    await server.stop();
    await cleanup();
  }
});

test('tenants lists whom it serves; retries and scheduled jobs of its tenants run', async (t) => {
  const mem = new MemoryBackend();
  const router = await createRouter({ shards: [{ id: 'm', backend: mem }] });
  const [mine, other] = [freshTenant(), freshTenant()];
  const runs: string[] = [];
  let failedOnce = false;
  const server = new JobServer(router, {
    tenants: [mine],
    queues: ['q'],
    workerCount: 2,
    schedulerIntervalMs: 50,
    retry: { attempts: 2, baseDelayMs: 50, jitter: 0 },
    handlers: {
      work: async (args, ctx) => {
        runs.push(`${ctx.tenant}:${String(args[0])}`);
        if (args[0] === 'flaky' && !failedOnce) {
          failedOnce = true;
          throw new Error('once');
        }
      },
    },
  });
  try {
    await server.start();
    const a = new JobClient(router.tenant(mine));
    const b = new JobClient(router.tenant(other));
    const otherId = await b.enqueue('work', ['not-served'], { queue: 'q' });
    await a.enqueue('work', ['flaky'], { queue: 'q' });
    await a.schedule('work', ['later'], { delayMs: 200 }, { queue: 'q' });
    await until(
      () => runs.length >= 3,
      10_000,
      () => runs.join(' '),
    );
    await new Promise((r) => setTimeout(r, 200));
    t.deepEqual([...runs].sort(), [`${mine}:flaky`, `${mine}:flaky`, `${mine}:later`].sort());
    t.is((await router.tenant(other).jobs.get(otherId)).state, 'Enqueued', 'a tenant not listed is left alone');
  } finally {
    await server.stop();
    await router.close();
  }
});

test('bad input: tenants, prefetch over a router, tenants without one, weights', async (t) => {
  const router = await createRouter({ shards: [{ id: 'm', backend: new MemoryBackend() }] });
  const handlers = { x: async () => {} };
  t.throws(() => new JobServer(router, { handlers, tenants: ['ok', 'bad id'] }), { code: 'INVALID_ARGUMENT' } as never);
  t.throws(() => new JobServer(router, { handlers, tenants: ['a', 'a'] }), { code: 'INVALID_ARGUMENT' } as never);
  t.throws(() => new JobServer(router, { handlers, tenants: 'some' as never }), { code: 'INVALID_ARGUMENT' } as never);
  t.throws(() => new JobServer(router, { handlers, prefetch: 8 }), { code: 'INVALID_ARGUMENT' } as never);
  t.throws(() => new JobServer(router, { handlers, discoveryIntervalMs: 0 }), { code: 'INVALID_ARGUMENT' } as never);
  t.throws(() => new JobServer(router.tenant('x'), { handlers, tenants: 'all' }), { code: 'INVALID_ARGUMENT' } as never);
  await rejectsWithCode(t, createRouter({ shards: [{ id: 'm', backend: new MemoryBackend() }], tenants: { a: { weight: 0 } } }), 'CONFIG_INVALID');
  await rejectsWithCode(t, createRouter({ shards: [{ id: 'm', backend: new MemoryBackend() }], tenants: { a: { weight: -2 } } }), 'CONFIG_INVALID');
  await router.close();
});

test('a tenant moved to another shard while the server serves it keeps being served, from its new shard', async (t) => {
  const { router, cleanup } = await realRouter();
  let tn = freshTenant();
  while (router.shardFor(tn).shard !== 'redis') tn = freshTenant();
  const ran = new Set<string>();
  const server = new JobServer(router, {
    queues: ['q'],
    workerCount: 4,
    handlers: {
      work: async (_args, ctx) => {
        await new Promise((r) => setTimeout(r, 2));
        ran.add(ctx.jobId);
      },
    },
  });
  try {
    const c = new JobClient(router.tenant(tn));
    const ids = await Promise.all(Array.from({ length: 600 }, () => c.enqueue('work', [], { queue: 'q' })));
    await server.start();
    await until(
      () => ran.size >= 50,
      20_000,
      () => `${ran.size} before the move`,
    );
    const move = router.admin.moveUnit(tn, 'pg');
    const more = await Promise.all(Array.from({ length: 100 }, () => c.enqueue('work', [], { queue: 'q' })));
    await move.done;
    t.is(router.shardFor(tn).shard, 'pg');
    await until(
      () => ran.size >= 700,
      30_000,
      () => `${ran.size} of 700`,
    );
    // Ids handed out before the move may have been renamed by the Postgres target: compare by state.
    for (const id of [...ids, ...more]) t.is((await router.tenant(tn).jobs.get(id)).state, 'Succeeded');
    t.is(ran.size, 700);
  } finally {
    await server.stop();
    await cleanup();
  }
});

test("in 'all' mode, tenants whose only jobs are scheduled or recurring are found by the shards' due index and run", async (t) => {
  const { router, cleanup } = await realRouter();
  const tenants = Array.from({ length: 6 }, () => freshTenant());
  const runs: string[] = [];
  const server = new JobServer(router, {
    queues: ['q'],
    workerCount: 2,
    schedulerIntervalMs: 100,
    handlers: { work: async (args, ctx) => void runs.push(`${ctx.tenant}:${String(args[0])}`) },
  });
  try {
    await server.start();
    // Never enqueued anything: nothing in any work index, only in the due sets.
    for (const tn of tenants.slice(0, 3)) await new JobClient(router.tenant(tn)).schedule('work', ['later'], { delayMs: 300 }, { queue: 'q' });
    for (const tn of tenants.slice(3)) await new JobClient(router.tenant(tn)).addRecurring('every-second', '* * * * * *', 'work', ['tick'], { queue: 'q' });
    await until(
      () => tenants.every((tn, i) => runs.includes(`${tn}:${i < 3 ? 'later' : 'tick'}`)),
      10_000,
      () => runs.join(' '),
    );
    t.pass();
    t.log(`runs: ${runs.length}, shards ${[...new Set(tenants.map((tn) => router.shardFor(tn).shard))].join(', ')}`);
  } finally {
    await server.stop();
    await cleanup();
  }
});

// Pause and resume across processes: tenant-pause-fleet.test.ts.

test('pause bad input: a typed error, and nothing written', async (t) => {
  const router = await createRouter({ shards: [{ id: 'm', backend: new MemoryBackend() }] });
  const tn = freshTenant();
  await rejectsWithCode(t, router.admin.pause(null as never), 'INVALID_ARGUMENT');
  await rejectsWithCode(t, router.admin.pause({ tenant: 'bad id' }), 'INVALID_ARGUMENT');
  await rejectsWithCode(t, router.admin.pause({ tenant: tn, queue: 'bad\nqueue' }), 'INVALID_ARGUMENT');
  await rejectsWithCode(t, router.admin.resume({ tenant: tn, queue: '' }), 'INVALID_ARGUMENT');
  await rejectsWithCode(t, router.admin.pauses('x/y'), 'INVALID_ARGUMENT');
  t.deepEqual(await router.admin.pauses(tn), { tenant: false, queues: [] });
  t.deepEqual(await router.tenant(tn).monitoring.queues(), []);
  const changes = () => router.shards.get('m')!.backend.storage(PAUSES_NAMESPACE).data.counterGet(PAUSE_CHANGES_COUNTER);
  t.is(await changes(), 0, 'no count of pause changes moved');
  // Tenants cannot write it themselves.
  await rejectsWithCode(
    t,
    router.tenant(tn).transaction((tx) => tx.hashSet('jobshard.paused', { '*': '0' })),
    'INVALID_ARGUMENT',
  );
  await router.close();
});

test("each pause and resume moves every shard's count of pause changes once it is written (servers re-read pauses when it moves)", async (t) => {
  const { router, cleanup } = await realRouter();
  try {
    const tn = freshTenant();
    const changes = () => Promise.all([...router.shards.values()].map((s) => s.backend.storage(PAUSES_NAMESPACE).data.counterGet(PAUSE_CHANGES_COUNTER)));
    /** The call returns once one count has moved; the others follow. */
    const settled = async (want: number[]) => {
      let got = await changes();
      for (const until = Date.now() + 5_000; JSON.stringify(got) !== JSON.stringify(want) && Date.now() < until; got = await changes()) {
        await new Promise((r) => setTimeout(r, 20));
      }
      return got;
    };
    t.deepEqual(await changes(), [0, 0]);
    await router.admin.pause({ tenant: tn, queue: 'a' });
    t.true(
      (await changes()).some((n) => n === 1),
      'one count moved when the call returned',
    );
    t.deepEqual(await settled([1, 1]), [1, 1], 'both shards, whichever holds the tenant');
    await router.admin.resume({ tenant: tn, queue: 'a' });
    await router.admin.pause({ tenant: tn });
    t.deepEqual(await settled([3, 3]), [3, 3]);
  } finally {
    await cleanup();
  }
});

test('a pause returns while another shard stalls: it waits for one count to move, not for every shard', async (t) => {
  const proxy = new FaultProxy(Number(new URL(REDIS_URL).port || 6379));
  await proxy.start();
  const prefix = freshPrefix();
  const router = await createRouter({
    shards: [
      { id: 'mem', backend: new MemoryBackend() },
      { id: 'stalled', backend: new RedisBackend({ url: `redis://127.0.0.1:${proxy.port}`, prefix }) },
    ],
    tenants: { calm: { shard: 'mem' } },
  });
  try {
    // Connected first; then every request to the Redis shard is held for 5 s.
    await router.shards.get('stalled')!.backend.storage(PAUSES_NAMESPACE).data.counterGet(PAUSE_CHANGES_COUNTER);
    proxy.stallMs = 5_000;
    proxy.cutOn(() => 'stall');
    const t0 = performance.now();
    t.deepEqual(await router.admin.pause({ tenant: 'calm', queue: 'a' }), { tenant: false, queues: ['a'] });
    const ms = performance.now() - t0;
    t.log(`pause took ${ms.toFixed(0)} ms with the other shard stalled`);
    t.true(ms < 1_000, `${ms} ms`);
    t.is(await router.shards.get('mem')!.backend.storage(PAUSES_NAMESPACE).data.counterGet(PAUSE_CHANGES_COUNTER), 1);
  } finally {
    proxy.cutOn(null);
    proxy.restore();
    await proxy.close();
    await router.close().catch(() => {});
    await deleteRedisPrefix(prefix);
  }
});

test("a server over one tenant's storage honours the tenant's pauses too, within a second", async (t) => {
  const { router, cleanup } = await realRouter();
  const tn = freshTenant();
  const starts: Array<{ queue: string; at: number }> = [];
  await router.admin.pause({ tenant: tn, queue: 'b' }); // before the server starts
  const server = new JobServer(router.tenant(tn), {
    queues: ['a', 'b'],
    workerCount: 3,
    handlers: { work: async (_args, ctx) => void starts.push({ queue: ctx.queue, at: Date.now() }) },
  });
  let producing = true;
  const client = new JobClient(router.tenant(tn));
  const producer = (async () => {
    while (producing) {
      await client.enqueue('work', [], { queue: 'a' });
      await client.enqueue('work', [], { queue: 'b' });
      await new Promise((r) => setTimeout(r, 15));
    }
  })();
  const count = (queue: string, from: number, to = Infinity) => starts.filter((s) => s.queue === queue && s.at > from && s.at <= to).length;
  try {
    const t0 = Date.now();
    await server.start();
    // The other queue's starts are awaited (a loaded machine may lag), then a full second passes
    // with both queues fed, so a paused queue that leaked would have started.
    await until(
      () => count('a', t0) >= 3,
      10_000,
      () => `${count('a', t0)} starts of a since the start`,
    );
    await new Promise((r) => setTimeout(r, 1_000));
    t.is(count('b', 0), 0, 'paused before start: none');
    // Resumes are awaited, not timed: on a loaded machine the producer itself may lag.
    await router.admin.resume({ tenant: tn, queue: 'b' });
    const resumed = Date.now();
    await until(
      () => count('b', resumed) >= 3,
      10_000,
      () => `${count('b', resumed)} starts of b since the resume`,
    );
    await router.admin.pause({ tenant: tn });
    const pausedAt = Date.now();
    await new Promise((r) => setTimeout(r, 2_000));
    t.is(count('a', pausedAt + 1_000) + count('b', pausedAt + 1_000), 0, 'the whole tenant paused: no start after 1 s');
    await router.admin.resume({ tenant: tn });
    const again = Date.now();
    await until(
      () => count('a', again) >= 3,
      10_000,
      () => `${count('a', again)} starts of a since the resume`,
    );
    t.log(`resumed: 3 starts of a within ${Date.now() - again} ms`);
  } finally {
    producing = false;
    await producer;
    await server.stop();
    await cleanup();
  }
});

test('stop() over a router: waits for running jobs, then requeues those past shutdownTimeoutMs, and removes its server record from each shard', async (t) => {
  const [a, b] = [new MemoryBackend(), new MemoryBackend()];
  const router = await createRouter({
    shards: [
      { id: 'a', backend: a },
      { id: 'b', backend: b },
    ],
  });
  const tn = freshTenant();
  let started = 0;
  const server = new JobServer(router, {
    queues: ['q'],
    workerCount: 2,
    shutdownTimeoutMs: 300,
    serverId: 'pool-1',
    handlers: {
      slow: async (_args, ctx) => {
        started++;
        await new Promise((r) => ctx.signal.addEventListener('abort', r, { once: true }));
        throw new Error('aborted');
      },
    },
  });
  await server.start();
  t.deepEqual(
    (await a.storage('jobshard.servers').servers.list()).map((s) => s.id),
    ['pool-1'],
  );
  t.deepEqual(
    (await b.storage('jobshard.servers').servers.list()).map((s) => s.id),
    ['pool-1'],
  );
  const id = await new JobClient(router.tenant(tn)).enqueue('slow', [], { queue: 'q' });
  await until(
    () => started === 1,
    5_000,
    () => 'the job to start',
  );
  t.is((await router.tenant(tn).jobs.get(id)).state, 'Processing');
  const t0 = Date.now();
  await server.stop();
  t.true(Date.now() - t0 >= 250, 'it waited for the running job');
  t.is((await router.tenant(tn).jobs.get(id)).state, 'Enqueued', 'requeued, not failed');
  const again = await router.tenant(tn).queues.tryFetch(['q']);
  t.is(again?.jobId, id, 'fetchable again at once');
  t.deepEqual(await a.storage('jobshard.servers').servers.list(), []);
  t.deepEqual(await b.storage('jobshard.servers').servers.list(), []);
  await router.close();
});
