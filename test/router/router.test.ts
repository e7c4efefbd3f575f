import test from 'ava';
import { JobClient } from '../../src/processing/job-client.js';
import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { MemoryBackend } from '../../src/backends/memory/memory-backend.js';
import { createRouter, createRouterFromFile, Router } from '../../src/router/router.js';
import type { Backend } from '../../src/storage/storage.js';
import { enqueueJob, rejectsWithCode } from '../conformance/helpers.js';

const mem = () => new MemoryBackend();

test('config: each mistake is reported with where it is and what is wrong, before anything is created', (t) => {
  const cases: Array<[unknown, RegExp[]]> = [
    [{ shards: [] }, [/shards: at least one shard/]],
    [
      {
        shards: [
          { id: 'a', backend: mem() },
          { id: 'a', backend: mem() },
        ],
      },
      [/shards\.1\.id: duplicate shard id 'a'/],
    ],
    [{ shards: [{ id: 'a', backend: mem(), weight: 0 }] }, [/shards\.0\.weight: weight must be > 0/]],
    [{ shards: [{ id: 'a', backend: mem(), weight: -2 }] }, [/weight must be > 0/]],
    [{ shards: [{ id: 'a', backend: 'nope' }] }, [/shards\.0\.backend/]],
    [{ shards: [{ id: 'a', backend: mem() }], tenants: { acme: { shard: 'b' } } }, [/tenants\.acme\.shard: unknown shard 'b' \(known: a\)/]],
    [{ shards: [{ id: 'a', backend: mem() }], tenants: { 'bad id!': {} } }, [/tenants\.bad id!: tenant id "bad id!" may only contain/]],
    [{ shards: [{ id: 'a', backend: mem() }], tenants: { 'x:y': {} } }, [/tenant id "x:y"/]],
    [
      { shards: [{ id: 'a', backend: mem() }], tenants: { acme: { queueGroups: { g1: { queues: ['q'] }, g2: { queues: ['q'] } } } } },
      [/tenants\.acme\.queueGroups\.g2\.queues: queue 'q' is already in group 'g1'/],
    ],
    [
      { shards: [{ id: 'a', backend: mem() }], tenants: { acme: { queueGroups: { g1: { queues: ['q'], shard: 'zz' } } } } },
      [/queueGroups\.g1\.shard: unknown shard 'zz'/],
    ],
    [{ shards: [{ id: 'a', backend: mem() }], tenants: { acme: { queueGroups: { g1: { queues: [] } } } } }, [/at least one queue/]],
    [{ shards: [{ id: 'a', backend: mem() }], bogus: 1 }, [/bogus/]],
    // Several problems at once are all listed.
    [
      { shards: [{ id: 'a', backend: mem() }], tenants: { t1: { shard: 'x' }, t2: { shard: 'y' } } },
      [/t1\.shard: unknown shard 'x'/, /t2\.shard: unknown shard 'y'/],
    ],
  ];
  for (const [config, messages] of cases) {
    const err = t.throws(() => new Router(config as never), undefined, JSON.stringify(config));
    t.is((err as { code?: string }).code, 'CONFIG_INVALID');
    for (const m of messages) t.regex(err!.message, m);
  }
});

test('tenant ids are validated: empty, over-long, control characters, namespace-escaping characters', (t) => {
  const router = new Router({ shards: [{ id: 'a', backend: mem() }] });
  for (const bad of ['', 'x'.repeat(65), 'a\nb', 'a:b', 'a/b', 'a{b}', 'a.b', ' a', 'ä']) {
    const err = t.throws(() => router.tenant(bad));
    t.is((err as { code?: string }).code, 'INVALID_ARGUMENT', bad);
  }
  t.truthy(router.tenant('Acme_Corp-2'));
});

test("job ids: another tenant's or a malformed id is JobNotFoundError, however it is shaped", async (t) => {
  const router = new Router({ shards: [{ id: 'a', backend: mem() }], tenants: { acme: { queueGroups: { heavy: { queues: ['big'] } } } } });
  const acme = router.tenant('acme');
  const globex = router.tenant('globex');
  const home = await enqueueJob(acme, 'q');
  const grouped = await enqueueJob(acme, 'big');
  t.regex(home, /^acme\/\d+$/);
  t.regex(grouped, /^acme\/heavy\/\d+$/);
  const backendId = home.split('/')[1]!;
  for (const id of [home, grouped, backendId, `globex/${backendId}`, `acme/nogroup/${backendId}`, `acme//${backendId}`, 'acme/', '/', '']) {
    await rejectsWithCode(t, globex.jobs.get(id), id === '' ? 'INVALID_ARGUMENT' : 'JOB_NOT_FOUND');
  }
  // Shapes that start with the tenant's own prefix, each failing a different part of the parse.
  for (const id of [
    `acme/nogroup/${backendId}`,
    `acme//${backendId}`,
    'acme/',
    'acme',
    `acmex/${backendId}`,
    'acme/heavy/',
    `acme/heavy/${backendId}/1`,
    `acme/heavy//${backendId}`,
  ]) {
    await rejectsWithCode(t, acme.jobs.get(id), 'JOB_NOT_FOUND');
  }
  t.is((await acme.jobs.get(grouped)).queue, 'big');
});

test("transactions: one that spans units, or enqueues into another group's queue, is refused and writes nothing", async (t) => {
  const router = new Router({
    shards: [
      { id: 'a', backend: mem() },
      { id: 'b', backend: mem() },
    ],
    tenants: { acme: { shard: 'a', queueGroups: { heavy: { queues: ['big'], shard: 'b' } } } },
  });
  const acme = router.tenant('acme');
  const home = await enqueueJob(acme, 'q');
  const grouped = await enqueueJob(acme, 'big');
  const err = await rejectsWithCode(
    t,
    acme.transaction((tx) => {
      tx.setJobState(home, { name: 'Processing' });
      tx.setJobState(grouped, { name: 'Processing' });
    }),
    'INVALID_ARGUMENT',
  );
  t.regex(err.message, /different shards/);
  const err2 = await rejectsWithCode(
    t,
    acme.transaction((tx) => {
      tx.counterIncrement('c');
      tx.enqueue('q', grouped);
    }),
    'INVALID_ARGUMENT',
  );
  t.regex(err2.message, /queue 'q' belongs to 'acme'/);
  t.is((await acme.jobs.get(home)).state, 'Enqueued');
  t.is((await acme.jobs.get(grouped)).state, 'Enqueued');
  t.is(await acme.data.counterGet('c'), 0);
  // A job's own group is fine, and its counter is summed into the tenant's reads.
  await acme.transaction((tx) => {
    tx.setJobState(grouped, { name: 'Succeeded' });
    tx.counterIncrement('c', 2);
  });
  await acme.transaction((tx) => tx.counterIncrement('c', 3));
  t.is(await acme.data.counterGet('c'), 5);
});

test('split tenant: fetch honours priority across units, monitoring merges and pages across units', async (t) => {
  const router = new Router({
    shards: [
      { id: 'a', backend: mem() },
      { id: 'b', backend: mem() },
    ],
    tenants: { acme: { shard: 'a', queueGroups: { heavy: { queues: ['big'], shard: 'b' } } } },
  });
  const acme = router.tenant('acme');
  const small = await enqueueJob(acme, 'small');
  const big = await enqueueJob(acme, 'big');
  t.is((await acme.queues.fetch(['big', 'small'])).jobId, big);
  t.is((await acme.queues.fetch(['big', 'small'])).jobId, small);
  // A waiting fetch over two units wakes for either.
  const waiting = acme.queues.fetch(['small', 'big'], { signal: AbortSignal.timeout(3_000) });
  await new Promise((r) => setTimeout(r, 50));
  const later = await enqueueJob(acme, 'big');
  t.is((await waiting).jobId, later);
  const ids: string[] = [];
  for (let i = 0; i < 9; i++) {
    const id = await enqueueJob(acme, i % 2 ? 'big' : 'small');
    await acme.transaction((tx) => tx.setJobState(id, { name: 'Succeeded' }));
    ids.push(id);
    await new Promise((r) => setTimeout(r, 3));
  }
  t.is((await acme.monitoring.stateCounts())['Succeeded'], 9);
  const pages = [0, 4, 8].map((offset) => acme.monitoring.jobsInState('Succeeded', { offset, limit: 4 }));
  const all = (await Promise.all(pages)).flat();
  t.deepEqual(
    all.map((j) => j.id),
    [...ids].reverse(),
    'merged newest first, pages exact and disjoint',
  );
});

test('router: shardFor, admin health and queues, and close() closes every backend once', async (t) => {
  let closes = 0;
  const counting = (): Backend => {
    const b = new MemoryBackend();
    const close = b.close.bind(b);
    b.close = async () => {
      closes++;
      await close();
    };
    return b;
  };
  const shared = counting();
  const router = await createRouter({
    shards: [
      { id: 'a', backend: shared },
      { id: 'b', backend: counting(), weight: 3 },
      { id: 'c', backend: shared },
    ],
    tenants: { acme: { shard: 'c' } },
  });
  t.is(router.shardFor('acme').shard, 'c');
  await enqueueJob(router.tenant('acme'), 'mail');
  t.deepEqual(
    router.admin.health().map((h) => [h.id, h.circuit]),
    [
      ['a', 'closed'],
      ['b', 'closed'],
      ['c', 'closed'],
    ],
  );
  const slots = router.admin.slots();
  t.true(Math.abs(slots.perShard['b']! - (16_384 * 3) / 5) <= 1, 'weight 3 of 5 gets 3/5 of the slots');
  t.is(
    Object.values(slots.perShard).reduce((a, b) => a + b, 0),
    16_384,
  );
  t.deepEqual(await router.admin.queues(['acme']), [{ shard: 'c', tenant: 'acme', group: null, name: 'mail', waiting: 1, inFlight: 0 }]);
  t.deepEqual(
    await router.admin.queues(),
    [{ shard: 'c', tenant: 'acme', group: null, name: 'mail', waiting: 1, inFlight: 0 }],
    'all namespaces; the shared backend is asked once, rows name the shard the tenant is placed on',
  );
  t.deepEqual(await router.admin.tenantCounts(['acme']), { acme: { Enqueued: 1 } });
  await router.close();
  await router.close();
  t.is(closes, 2, 'two distinct backends, each closed once');
});

test('router: a JSON tenant map with backend specs', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'jobshard-'));
  const file = join(dir, 'tenants.json');
  await writeFile(
    file,
    JSON.stringify({
      shards: [
        { id: 'm1', backend: { memory: {} } },
        { id: 'm2', backend: { memory: {} }, weight: 2 },
      ],
      tenants: { acme: { shard: 'm2' } },
    }),
  );
  const router = await createRouterFromFile(file);
  t.is(router.shardFor('acme').shard, 'm2');
  const id = await enqueueJob(router.tenant('acme'), 'q');
  t.is((await router.tenant('acme').jobs.get(id)).state, 'Enqueued');
  await router.close();
  await writeFile(file, '{ not json');
  const err = await t.throwsAsync(createRouterFromFile(file));
  t.is((err as { code?: string }).code, 'CONFIG_INVALID');
  t.regex(err!.message, /tenants\.json/);
});

test('a JobClient over a router whose directory has not loaded yet enqueues and schedules (nothing asks the placement synchronously)', async (t) => {
  const router = new Router({
    shards: [
      { id: 'a', backend: mem() },
      { id: 'b', backend: mem() },
    ],
  });
  const client = new JobClient(router.tenant('early'));
  const id = await client.enqueue('x', [], { queue: 'q' });
  const later = await client.schedule('x', [], { delayMs: 60_000 }, { queue: 'q' });
  t.is((await router.tenant('early').jobs.get(id)).state, 'Enqueued');
  t.is((await router.tenant('early').jobs.get(later)).state, 'Scheduled');
  await router.close();
});
