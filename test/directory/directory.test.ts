// The placement directory in one process: how it is written, reconciled with configs, and changed by admin calls.
import test from 'ava';
import { MemoryBackend } from '../../src/backends/memory/memory-backend.js';
import { PostgresBackend } from '../../src/backends/postgres/postgres-backend.js';
import { RedisBackend } from '../../src/backends/redis/redis-backend.js';
import { DirectoryStore } from '../../src/directory/directory-store.js';
import { createRouter, Router, type RouterConfig } from '../../src/router/router.js';
import { SlotTable } from '../../src/shards/slot-table.js';
import type { Backend } from '../../src/storage/storage.js';
import { enqueueJob, rejectsWithCode } from '../conformance/helpers.js';
import { freshTenant } from '../helpers/mixed-router.js';
import { deleteRedisPrefix, dropSchema, freshPrefix, freshSchema, PG_URL, REDIS_URL } from '../helpers/servers.js';

const mem = () => new MemoryBackend();
const stored = (b: Backend) => new DirectoryStore(b).read();

/** Tenants whose home unit hashes to `shard` under the given table. */
function tenantsOn(router: Router, shard: string, n: number): string[] {
  const out: string[] = [];
  while (out.length < n) {
    const t = freshTenant();
    if (router.shardFor(t).shard === shard) out.push(t);
  }
  return out;
}

test('the first router writes the directory from its config (epoch 1, the wave-1 slot table); the next one reads it', async (t) => {
  const [a, b] = [mem(), mem()];
  const config: RouterConfig = {
    shards: [
      { id: 'a', backend: a },
      { id: 'b', backend: b, weight: 2 },
    ],
    tenants: { acme: { shard: 'b', queueGroups: { heavy: { queues: ['big'] } } } },
  };
  const r1 = await createRouter(config);
  const rec = (await stored(a))!;
  t.is(rec.epoch, 1);
  t.deepEqual(rec.shards, [
    { id: 'a', weight: 1, state: 'active' },
    { id: 'b', weight: 2, state: 'active' },
  ]);
  t.deepEqual(rec.pins, { acme: 'b' });
  t.deepEqual(rec.groups, { acme: { heavy: ['big'] } });
  const formula = SlotTable.build([
    { id: 'a', weight: 1 },
    { id: 'b', weight: 2 },
  ]);
  t.is(r1.placement.table.version, formula.version, 'the stored table is the one every wave-1 process computed');
  t.is(await stored(b), null, 'only the directory backend holds it');

  const r2 = await createRouter({
    shards: [
      { id: 'a', backend: a },
      { id: 'b', backend: b },
    ],
  }); // silent on weights and tenants
  t.is((await r2.admin.directory()).epoch, 1);
  t.is(r2.shardFor('acme').shard, 'b');
  t.deepEqual(
    r2.shardFor('acme').groups.map((g) => g.group),
    ['heavy'],
  );
  await r1.close();
  await r2.close();
});

test('a config that contradicts the directory is refused with every difference listed, and nothing is written', async (t) => {
  const [a, b, c] = [mem(), mem(), mem()];
  const r = await createRouter({
    shards: [
      { id: 'a', backend: a },
      { id: 'b', backend: b },
    ],
    tenants: { acme: { shard: 'a', queueGroups: { g: { queues: ['q1'] } } } },
  });
  const before = JSON.stringify(await stored(a));
  const cases: Array<[RouterConfig, RegExp[]]> = [
    [{ shards: [{ id: 'a', backend: a }] }, [/shard 'b' is in the directory \(epoch 1\) but not in this config/]],
    [
      {
        shards: [
          { id: 'a', backend: a },
          { id: 'b', backend: b, weight: 3 },
        ],
      },
      [/shard 'b' has weight 3 here but 1/],
    ],
    [
      {
        shards: [
          { id: 'a', backend: a },
          { id: 'b', backend: b },
        ],
        tenants: { acme: { shard: 'b' } },
      },
      [/unit 'acme' is pinned to 'b' here but to 'a'/],
    ],
    [
      {
        shards: [
          { id: 'a', backend: a },
          { id: 'b', backend: b },
        ],
        tenants: { acme: { queueGroups: { g: { queues: ['q1', 'q2'] } } } },
      },
      [/tenant 'acme' has queue groups .*q2.* here but/],
    ],
    [
      {
        shards: [
          { id: 'a', backend: a },
          { id: 'b', backend: b },
        ],
        tenants: { acme: { queueGroups: { g: { queues: ['q1'], shard: 'b' } } } },
      },
      [/unit 'acme:g' is pinned to 'b' here but not pinned/],
    ],
    // Several at once, and a new shard in the same config is not registered either.
    [
      {
        shards: [
          { id: 'a', backend: a, weight: 5 },
          { id: 'c', backend: c },
        ],
      },
      [/shard 'b' is in the directory/, /shard 'a' has weight 5/],
    ],
  ];
  for (const [config, messages] of cases) {
    const err = await t.throwsAsync(createRouter(config));
    t.is((err as { code?: string }).code, 'CONFIG_INVALID');
    for (const m of messages) t.regex(err!.message, m);
    t.is(JSON.stringify(await stored(a)), before, 'nothing written');
  }
  await r.close();
});

test('adding a shard moves nothing: 200 tenants keep every job, the new shard owns no slots, and routers without it still work', async (t) => {
  const prefixes = [freshPrefix(), freshPrefix(), freshPrefix()];
  const backends = () => prefixes.map((prefix) => new RedisBackend({ url: REDIS_URL, prefix }));
  const [a, b] = backends();
  // A router that fails to start leaves its backends to the caller: closed here, or this file's
  // process never exits (a loaded run once timed out connecting, then hung the whole suite).
  const old = await createRouter({
    shards: [
      { id: 'a', backend: a! },
      { id: 'b', backend: b! },
    ],
  }).catch(async (err: unknown) => {
    await Promise.all([a!.close(), b!.close()]);
    for (const p of prefixes) await deleteRedisPrefix(p);
    throw err;
  });
  try {
    const tenants = Array.from({ length: 200 }, (_, i) => `tenant${i}`);
    const ids = await Promise.all(tenants.map((tn) => enqueueJob(old.tenant(tn), 'q')));
    const [a2, b2, c2] = backends();
    const grown = await createRouter({
      shards: [
        { id: 'a', backend: a2! },
        { id: 'b', backend: b2! },
        { id: 'c', backend: c2! },
      ],
    }).catch(async (err: unknown) => {
      await Promise.all([a2!.close(), b2!.close(), c2!.close()]);
      throw err;
    });
    try {
      const view = await grown.admin.directory();
      t.is(view.epoch, 2);
      t.deepEqual(
        view.shards.map((s) => [s.id, s.slots]),
        [
          ['a', 8192],
          ['b', 8192],
          ['c', 0],
        ],
      );
      let notFound = 0;
      let fetched = 0;
      await Promise.all(
        tenants.map(async (tn, i) => {
          try {
            t.is((await grown.tenant(tn).jobs.get(ids[i]!)).id, ids[i]!);
          } catch (err) {
            if ((err as { code?: string }).code === 'JOB_NOT_FOUND') notFound++;
            else throw err;
          }
          const f = await grown.tenant(tn).queues.tryFetch(['q']);
          if (f && f.jobId === ids[i]) {
            fetched++;
            await f.ack();
          }
        }),
      );
      t.is(notFound, 0);
      t.is(fetched, 200);
      t.false(await c2!.hasData('tenant0'));
      // The old router (no 'c' in its config) keeps routing: nothing is placed on c.
      await enqueueJob(old.tenant('tenant1'), 'q');
      t.truthy(await grown.tenant('tenant1').queues.tryFetch(['q']));
    } finally {
      await grown.close();
    }
  } finally {
    await old.close();
    for (const p of prefixes) await deleteRedisPrefix(p);
  }
});

test('admin.pin places an empty unit on another shard (epoch + 1), fences the old shard, and refuses to strand data', async (t) => {
  const [a, b, c] = [mem(), mem(), mem()];
  const router = await createRouter({
    shards: [
      { id: 'a', backend: a },
      { id: 'b', backend: b },
    ],
    tenants: { big: { queueGroups: { heavy: { queues: ['h'] } } } },
  });
  await router.admin.addShard({ id: 'c', backend: c });
  const [empty] = tenantsOn(router, 'a', 1);
  const view = await router.admin.pin(empty!, 'c');
  t.is(view.epoch, 3);
  t.is(view.pins[empty!], 'c');
  t.deepEqual(await router.admin.placementOf(empty!), { tenant: empty!, shard: 'c', groups: [], epoch: 3 });
  t.deepEqual(await a.ownership(empty!), { state: 'moved', to: 'c', epoch: 3 });
  t.deepEqual(await c.ownership(empty!), { state: 'active' });
  await enqueueJob(router.tenant(empty!), 'q');
  t.true(await c.hasData(empty!));
  t.false(await a.hasData(empty!));

  // A group unit, too; and a unit with data is refused, left active and writable, with nothing written.
  await router.admin.pin('big:heavy', 'b');
  t.is(router.shardFor('big').groups[0]!.shard, 'b');
  const [busy] = tenantsOn(router, 'b', 1);
  await enqueueJob(router.tenant(busy!), 'q');
  const epoch = (await router.admin.directory()).epoch;
  await rejectsWithCode(t, router.admin.pin(busy!, 'a'), 'UNIT_NOT_EMPTY');
  // Pinning it back onto a shard that holds a copy is refused too.
  await rejectsWithCode(t, router.admin.pin(empty!, 'a'), 'UNIT_NOT_EMPTY');
  t.is((await router.admin.directory()).epoch, epoch);
  t.deepEqual(await b.ownership(busy!), { state: 'active' });
  await enqueueJob(router.tenant(busy!), 'q');
  await router.close();
});

test('admin bad input: each gets a typed error and leaves the directory as it was', async (t) => {
  const [a, b] = [mem(), mem()];
  const router = await createRouter({
    shards: [
      { id: 'a', backend: a },
      { id: 'b', backend: b },
    ],
    tenants: { acme: { queueGroups: { g: { queues: ['q'] } } } },
  });
  await router.admin.addShard({ id: 'gone', backend: mem() });
  await router.admin.removeShard('gone');
  await router.admin.addShard({ id: 'leaving', backend: mem() });
  await router.admin.setShardState('leaving', 'draining');
  const before = JSON.stringify(await stored(a));
  const cases: Array<[Promise<unknown>, string, RegExp]> = [
    [router.admin.pin('acme', 'nope'), 'INVALID_ARGUMENT', /unknown shard 'nope'/],
    [router.admin.pin('acme', 'leaving'), 'INVALID_ARGUMENT', /draining/],
    [router.admin.pin('acme:nogroup', 'b'), 'INVALID_ARGUMENT', /no queue group 'nogroup'/],
    [router.admin.pin('a:b:c', 'b'), 'INVALID_ARGUMENT', /'tenant' or 'tenant:group'/],
    [router.admin.pin('bad id', 'b'), 'INVALID_ARGUMENT', /tenant id/],
    [router.admin.pin(42 as never, 'b'), 'INVALID_ARGUMENT', /tenant:group/],
    [router.admin.addShard({ id: 'a', backend: mem() }), 'INVALID_ARGUMENT', /duplicate shard id 'a'/],
    [router.admin.addShard({ id: 'gone', backend: mem() }), 'INVALID_ARGUMENT', /removed shard/],
    [router.admin.addShard({ id: 'bad id', backend: mem() }), 'INVALID_ARGUMENT', /shard id/],
    [router.admin.addShard({ id: 'x', backend: 'nope' as never }), 'INVALID_ARGUMENT', /backend/],
    [router.admin.addShard({ id: 'x', backend: mem(), weight: -1 }), 'INVALID_ARGUMENT', /weight/],
    [router.admin.setWeight('a', 0), 'INVALID_ARGUMENT', /weight/],
    [router.admin.setWeight('nope', 2), 'INVALID_ARGUMENT', /unknown shard/],
    [router.admin.setShardState('a', 'gone' as never), 'INVALID_ARGUMENT', /'active' or 'draining'/],
    [router.admin.removeShard('a'), 'SHARD_NOT_EMPTY', /owns 8192 slots/],
    [router.admin.removeShard('nope'), 'INVALID_ARGUMENT', /unknown shard/],
    [router.admin.placementOf('bad/id'), 'INVALID_ARGUMENT', /tenant id/],
  ];
  for (const [call, code, message] of cases) {
    const err = await rejectsWithCode(t, call, code);
    t.regex(err.message, message);
  }
  t.is(JSON.stringify(await stored(a)), before);
  // A shard with a pin cannot be removed either; its directory view counts the pin.
  const [tn] = tenantsOn(router, 'a', 1);
  await router.admin.setShardState('leaving', 'active');
  await router.admin.pin(tn!, 'leaving');
  const err = await rejectsWithCode(t, router.admin.removeShard('leaving'), 'SHARD_NOT_EMPTY');
  t.regex(err.message, /0 slots and 1 pins/);
  t.like(
    (await router.admin.directory()).shards.find((s) => s.id === 'leaving'),
    { slots: 0, pins: 1, state: 'active' },
  );
  // setWeight changes the aim, not where anything is.
  const slots = router.admin.slots().perShard;
  await router.admin.setWeight('b', 3);
  t.deepEqual(router.admin.slots().perShard, slots);
  t.is((await router.admin.directory()).shards.find((s) => s.id === 'b')!.weight, 3);
  await router.close();
});

test('an unreachable directory store fails start-up with DirectoryUnavailableError; bad directory options are ConfigError', async (t) => {
  const down = new RedisBackend({ url: 'redis://127.0.0.1:1', prefix: freshPrefix(), connectTimeoutMs: 200 });
  const err = await t.throwsAsync(createRouter({ shards: [{ id: 'a', backend: mem() }], directory: { backend: down } }));
  t.is((err as { code?: string }).code, 'DIRECTORY_UNAVAILABLE');
  await down.close();
  const pgDown = { postgres: { connectionString: 'postgres://postgres@127.0.0.1:1/test', connectTimeoutMs: 200 } };
  const err2 = await t.throwsAsync(createRouter({ shards: [{ id: 'a', backend: mem() }], directory: { backend: pgDown } }));
  t.is((err2 as { code?: string }).code, 'DIRECTORY_UNAVAILABLE');
  for (const directory of [{ pollMs: -1 }, { push: 'yes' }, { bogus: 1 }, { frozenWaitMs: 1.5 }]) {
    const e = t.throws(() => new Router({ shards: [{ id: 'a', backend: mem() }], directory: directory as never }));
    t.is((e as { code?: string }).code, 'CONFIG_INVALID');
  }
  // A router built with `new Router` loads on its first call.
  const lazy = new Router({ shards: [{ id: 'a', backend: mem() }] });
  t.throws(() => lazy.shardFor('acme'), { message: /not loaded its placement directory/ });
  await enqueueJob(lazy.tenant('acme'), 'q');
  t.is(lazy.shardFor('acme').shard, 'a');
  await lazy.close();
});

test("a stale router (no push, no polling) never writes to a unit's old shard: every call lands on the new owner", async (t) => {
  const schema = freshSchema();
  const prefixes = [freshPrefix(), freshPrefix()];
  const make = () =>
    ({
      shards: [
        { id: 'a', backend: new RedisBackend({ url: REDIS_URL, prefix: prefixes[0]! }) },
        { id: 'b', backend: new RedisBackend({ url: REDIS_URL, prefix: prefixes[1]! }) },
      ],
      directory: { backend: { postgres: { connectionString: PG_URL, schema } } },
    }) satisfies RouterConfig;
  const admin = await createRouter(make());
  const stale = await createRouter({ ...make(), directory: { ...make().directory, push: false, pollMs: 0 } });
  try {
    const [tn] = tenantsOn(admin, 'a', 1);
    const storage = stale.tenant(tn!);
    t.is(stale.shardFor(tn!).shard, 'a');
    await admin.admin.pin(tn!, 'b');
    t.is(stale.shardFor(tn!).shard, 'a', 'the stale router has not heard');
    const ids = await Promise.all(Array.from({ length: 100 }, () => enqueueJob(storage, 'q')));
    t.is(stale.shardFor(tn!).shard, 'b', "the shard's refusal made it re-read");
    const aBackend = stale.shards.get('a')!.backend;
    t.false(await aBackend.hasData(tn!), '0 writes on the old shard');
    t.is((await admin.tenant(tn!).monitoring.stateCounts())['Enqueued'], 100);
    for (const id of ids.slice(0, 5)) t.is((await admin.tenant(tn!).jobs.get(id)).state, 'Enqueued');
  } finally {
    await stale.close();
    await admin.close();
    await dropSchema(schema);
    for (const p of prefixes) await deleteRedisPrefix(p);
  }
});

test('a frozen unit: its calls wait and succeed after the freeze, other units are not delayed; past frozenWaitMs, ShardUnavailableError', async (t) => {
  const schema = freshSchema();
  const backend = new PostgresBackend({ connectionString: PG_URL, schema });
  const router = await createRouter({ shards: [{ id: 'pg', backend }], directory: { frozenWaitMs: 1_500 } });
  try {
    const [frozen, other] = [freshTenant(), freshTenant()];
    await enqueueJob(router.tenant(other), 'q'); // warm up
    await backend.setOwnership(frozen, { state: 'frozen', until: Date.now() + 500 });
    const started = performance.now();
    const waited = enqueueJob(router.tenant(frozen), 'q').then(() => performance.now() - started);
    const others: number[] = [];
    for (let i = 0; i < 10; i++) {
      const s = performance.now();
      await enqueueJob(router.tenant(other), 'q');
      others.push(performance.now() - s);
    }
    const w = await waited;
    t.true(w >= 450 && w < 1_200, `frozen unit's call took ${w.toFixed(0)} ms`);
    t.true(Math.max(...others) < 300, `other unit's calls took up to ${Math.max(...others).toFixed(0)} ms`);
    t.is((await router.tenant(frozen).monitoring.stateCounts())['Enqueued'], 1);

    await backend.setOwnership(frozen, { state: 'frozen', until: Date.now() + 10_000 });
    const s = performance.now();
    const err = await rejectsWithCode(t, enqueueJob(router.tenant(frozen), 'q'), 'SHARD_UNAVAILABLE');
    t.regex(err.message, /stayed frozen/);
    t.true(performance.now() - s >= 1_400);
    t.is((await router.tenant(frozen).monitoring.stateCounts())['Enqueued'], 1, 'the refused call wrote nothing');
  } finally {
    await router.close();
    await dropSchema(schema);
  }
});

test("a fetched job's ack and a held lock's release go to the shard that granted them, and wait out a freeze there as routed calls do", async (t) => {
  // Neither goes through the unit's lane (the lease stays where it was granted): before, a freeze
  // reached the caller as UnitFrozenError, and a job whose handler released a lock during a move's
  // last copy failed and was retried.
  const backend = mem();
  const router = await createRouter({ shards: [{ id: 'm', backend }], directory: { frozenWaitMs: 1_500 } });
  try {
    const tn = freshTenant();
    const s = router.tenant(tn);
    await enqueueJob(s, 'q');
    await enqueueJob(s, 'q');
    const fetched = await s.queues.fetch(['q'], { invisibilityTimeoutMs: 60_000 });
    const lock = await s.locks.acquire('r', { timeoutMs: 0, ttlMs: 10_000 });
    await backend.setOwnership(tn, { state: 'frozen', until: Date.now() + 400 });
    const started = performance.now();
    await fetched.ack();
    await lock.release();
    const waited = performance.now() - started;
    t.true(waited >= 350 && waited < 1_400, `both waited out the freeze: ${waited.toFixed(0)} ms`);
    await (await s.locks.acquire('r', { timeoutMs: 0 })).release(); // released
    const next = await s.queues.tryFetch(['q']);
    t.not(next, null);
    t.not(next!.jobId, fetched.jobId, 'the acknowledged job is gone from the queue');

    // Past frozenWaitMs the freeze reaches the caller, and nothing was written.
    await backend.setOwnership(tn, { state: 'frozen', until: Date.now() + 10_000 });
    const s2 = performance.now();
    await rejectsWithCode(t, next!.extend(60_000), 'UNIT_FROZEN');
    t.true(performance.now() - s2 >= 1_400);
    await backend.setOwnership(tn, { state: 'active' });
    await next!.ack();
    t.is(await s.queues.tryFetch(['q']), null);
  } finally {
    await router.close();
  }
});

test('a flip left in the directory by a writer that died is finished by another router', async (t) => {
  const [a, b] = [mem(), mem()];
  const router = await createRouter({
    shards: [
      { id: 'a', backend: a },
      { id: 'b', backend: b },
    ],
    directory: { pollMs: 50 },
  });
  const [tn] = tenantsOn(router, 'a', 1);
  // What a writer leaves when it dies after step 3 of a pin: the directory says b, the markers are not set.
  const store = new DirectoryStore(a);
  await store.locked(async (cur) => {
    const epoch = cur!.epoch + 1;
    await a.setOwnership(tn!, { state: 'frozen', until: Date.now() + 15_000 });
    await store.write({ ...cur!, epoch, pins: { ...cur!.pins, [tn!]: 'b' }, flips: [{ unit: tn!, from: 'a', to: 'b', epoch }], writtenAt: Date.now() - 5_000 });
  });
  const deadline = Date.now() + 5_000;
  while ((await a.ownership(tn!)).state !== 'moved' && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
  t.deepEqual(await a.ownership(tn!), { state: 'moved', to: 'b', epoch: 2 });
  t.deepEqual((await store.read())!.flips, []);
  await enqueueJob(router.tenant(tn!), 'q');
  t.true(await b.hasData(tn!));
  await router.close();
});
