import test from 'ava';
import { randomUUID } from 'node:crypto';
import { MemoryBackend } from '../../src/backends/memory/memory-backend.js';
import { PostgresBackend } from '../../src/backends/postgres/postgres-backend.js';
import { RedisBackend } from '../../src/backends/redis/redis-backend.js';
import type { Backend } from '../../src/storage/storage.js';
import { ALIAS_HASH } from '../../src/storage/unit-stream.js';
import { deleteRedisPrefix, dropSchema, freshPrefix, freshSchema, PG_URL, REDIS_URL, TEST_POLL_MS } from '../helpers/servers.js';
import { alignTimes, exportAll, fillUnit, normalize } from '../helpers/unit-fixture.js';

// One backend of each kind; every pair (source, target) moves a unit through the one stream.
// Two of each (sources, targets), as two shards of one kind are two servers (or schemas, or prefixes).
const schemas = [freshSchema(), freshSchema()];
const prefixes = [freshPrefix(), freshPrefix()];
const make = (n: number): Record<string, Backend> => ({
  memory: new MemoryBackend({ pollIntervalMs: TEST_POLL_MS }),
  postgres: new PostgresBackend({ connectionString: PG_URL, schema: schemas[n]! }),
  redis: new RedisBackend({ url: REDIS_URL, prefix: prefixes[n]!, pollIntervalMs: TEST_POLL_MS }),
});
const backends = make(0);
const targets = make(1);

test.after.always(async () => {
  for (const b of [...Object.values(backends), ...Object.values(targets)]) await b.close();
  for (const s of schemas) await dropSchema(s);
  for (const p of prefixes) await deleteRedisPrefix(p);
});

/** The id a client holds, as the target knows it (through the alias hash where the target renamed jobs). */
async function resolve(target: Backend, ns: string, id: string): Promise<string> {
  return (await target.storage(ns).data.hashGet(ALIAS_HASH, id)) ?? id;
}

for (const from of Object.keys(backends)) {
  for (const to of Object.keys(backends)) {
    test(`unit stream ${from} → ${to}: the target's export equals the source's, and the unit works there`, async (t) => {
      const src = backends[from]!,
        dst = targets[to]!;
      const ns = `u-${randomUUID()}`;
      const { ids } = await fillUnit(src.storage(ns));
      const exported = await exportAll(src, ns);
      await dst.importUnit(
        ns,
        (async function* () {
          for (let i = 0; i < exported.length; i += 7) yield exported.slice(i, i + 7); // small batches: items of a kind split across calls
        })(),
      );
      const target = ns;
      t.deepEqual(...alignTimes(normalize(await exportAll(dst, target)), normalize(exported)));

      const s = dst.storage(target);
      // Every id handed out at the source resolves at the target.
      const done = await s.jobs.get(await resolve(dst, target, ids['done']!));
      t.is(done.state, 'Succeeded');
      t.is(done.stateReason, 'ok');
      t.deepEqual(done.parameters, { retries: '2' });
      t.deepEqual(
        (await s.jobs.history(done.id)).map((h) => h.name),
        ['Processing', 'Succeeded', 'Note'],
      );
      t.true(done.expireAt !== null);
      t.is((await s.jobs.get(await resolve(dst, target, ids['bare']!))).state, null);
      // FIFO with the leased entry still invisible: the requeued jobs come in their places.
      const a = await s.queues.tryFetch(['q1'], { invisibilityTimeoutMs: 60_000 });
      const b = await s.queues.tryFetch(['q1'], { invisibilityTimeoutMs: 60_000 });
      t.is(a!.jobId, await resolve(dst, target, ids['waiting']!));
      t.is(a!.deliveries, 2);
      t.is(b!.jobId, await resolve(dst, target, ids['requeued']!));
      t.is(await s.queues.tryFetch(['q1']), null, 'the job leased at the source stays leased');
      t.is((await s.queues.tryFetch(['q2']))!.jobId, await resolve(dst, target, ids['other']!));
      // Data with expiry.
      t.deepEqual(await s.data.hashGetAll('h1'), { a: '1', b: '2' });
      t.true((await s.data.ttl('hash', 'h1')) > 3_500_000);
      t.deepEqual(await s.data.setAll('z1'), ['m2', 'm1', 'm3']);
      t.is(await s.data.setScore('z1', 'm3'), 1e15 + 0.5);
      t.deepEqual(await s.data.listAll('l1'), ['third', 'second', 'first']);
      t.is(await s.data.counterGet('c1'), 5);
      t.is(await s.data.counterGet('c2'), -2);
      // Locks: the held one stays held; new grants are above every source token.
      await t.throwsAsync(s.locks.acquire('r1', { timeoutMs: 0 }), { code: 'LOCK_TIMEOUT' } as never);
      const r2 = await s.locks.acquire('r2', { timeoutMs: 0, autoRenew: false });
      t.true(r2.token > Number(ids['releasedToken']));
      await r2.release();
      t.deepEqual(
        (await s.servers.list()).map((x) => [x.id, x.queues, x.workerCount]),
        [['srv1', ['q1', 'q2'], 3]],
      );
      // New jobs get ids that repeat none of the imported ones.
      const fresh = await s.jobs.create({ type: 'n', args: [], queue: 'q1' });
      t.false(Object.values(ids).includes(fresh));
      if (to !== 'postgres') t.false(exported.some((i) => i.kind === 'job' && i.id === fresh));
    });
  }
}

test('clearUnit removes everything but the ownership record', async (t) => {
  for (const [kind, b] of Object.entries(backends)) {
    const ns = `c-${randomUUID()}`;
    await fillUnit(b.storage(ns));
    await b.setOwnership(ns, { state: 'moved', to: 'elsewhere', epoch: 3 });
    await b.clearUnit(ns);
    t.false(await b.hasData(ns), kind);
    t.deepEqual(await b.ownership(ns), { state: 'moved', to: 'elsewhere', epoch: 3 }, kind);
    t.deepEqual(await exportAll(b, ns), [], kind);
  }
});

/** Every kind of write a unit sees, applied to it while it is tracked (round r). */
async function churn(s: import('../../src/storage/storage.js').Storage, ids: Record<string, string>, r: number): Promise<void> {
  const fresh = await s.jobs.create({ type: `new${r}`, args: [r], queue: 'q1', state: { name: 'Enqueued' }, enqueue: true });
  await s.jobs.create({ type: `q3-${r}`, args: [], queue: 'q3', state: { name: 'Enqueued' }, enqueue: true });
  await s.jobs.setParameter(ids['done']!, `p${r}`, 'v');
  await s.transaction((tx) => {
    tx.addJobState(ids['done']!, { name: `Note${r}` });
    tx.setJobState(ids['bare']!, { name: 'Scheduled', data: { at: String(r) } });
    tx.hashSet('h1', { [`f${r}`]: 'x' });
    tx.hashDelete(r === 1 ? 'h-none' : 'h1');
    tx.setRemove('z1', 'm1');
    tx.setAdd('z2', `m${r}`, r);
    tx.listInsert('l1', `v${r}`);
    tx.listDelete(r === 2 ? 'l1' : 'l-none');
    tx.counterIncrement('c1', 10);
    tx.persist('counter', 'c1');
  });
  // Deleted at once: a 0 ms expiry.
  const doomed = await s.jobs.create({ type: 'doomed', args: [], queue: 'q1', state: { name: 'Enqueued' } });
  await s.transaction((tx) => tx.expireJob(doomed, 0));
  // Queue entries: a lease taken, one acked, one requeued, one extended.
  const a = await s.queues.tryFetch(['q2'], { invisibilityTimeoutMs: 60_000 });
  if (a) await a.ack();
  const b = await s.queues.tryFetch(['q1'], { invisibilityTimeoutMs: 60_000 });
  if (b) await b.requeue();
  const c = await s.queues.tryFetch(['q1'], { invisibilityTimeoutMs: 60_000 });
  if (c) await c.extend(90_000);
  const lock = await s.locks.acquire(`lk${r}`, { timeoutMs: 0, ttlMs: 60_000, autoRenew: false });
  if (r === 2) await lock.release();
  await s.servers.announce(`srv-${r}`, { queues: ['q1'], workerCount: r });
  if (r === 2) await s.servers.remove('srv1');
  void fresh;
}

for (const from of Object.keys(backends)) {
  for (const to of Object.keys(backends)) {
    test(`catch-up ${from} → ${to}: a copy taken while the unit is written, then its tracked changes, equals the source`, async (t) => {
      const src = backends[from]!,
        dst = targets[to]!;
      const ns = `d-${randomUUID()}`;
      const s = src.storage(ns);
      const { ids } = await fillUnit(s);
      await src.trackChanges(ns, true);
      const session = dst.beginImport(ns);
      let first = true;
      for await (const batch of src.exportUnit(ns)) {
        await session.add(batch);
        // Writes land between the snapshot's batches: some are in the copy, all are in the changes.
        if (first) await churn(s, ids, 1);
        first = false;
      }
      for (const r of [2, 3]) {
        if (r === 3) await churn(s, ids, 2);
        const refs = await src.takeChanges(ns);
        t.true(refs.length > 0, `round ${r}: changes were recorded`);
        await session.replace(await src.exportRefs(ns, refs));
      }
      t.deepEqual(await src.takeChanges(ns), [], 'taking clears them');
      await session.finish();
      t.deepEqual(...alignTimes(normalize(await exportAll(dst, ns)), normalize(await exportAll(src, ns))));
      // The copy works: the oldest waiting entry first, ids resolve, and tracking is off again cleanly.
      await src.trackChanges(ns, false);
      await s.jobs.create({ type: 'untracked', args: [], queue: 'q1' });
      t.deepEqual(await src.takeChanges(ns), []);
      const d = dst.storage(ns);
      t.is((await d.jobs.get(await resolve(dst, ns, ids['bare']!))).state, 'Scheduled');
      t.true((await d.jobs.history(await resolve(dst, ns, ids['done']!))).some((h) => h.name === 'Note2'));
    });
  }
}

/** Moves the unit ns from one backend to another as a move would (export, import), and clears the source. */
async function carry(from: Backend, to: Backend, ns: string): Promise<void> {
  await to.importUnit(ns, from.exportUnit(ns));
  await from.clearUnit(ns);
}

const kinds = Object.keys(backends);
for (const k1 of kinds) {
  for (const k2 of kinds.filter((k) => k !== k1)) {
    test(`ids after a round trip ${k1} → ${k2} → ${k1}: none is handed out again, and the first ones still resolve`, async (t) => {
      const home = backends[k1]!,
        away = targets[k2]!;
      const ns = `i-${randomUUID()}`;
      const made = async (s: Backend, n: number, tag: string) => {
        const ids: Array<[string, string]> = [];
        for (let i = 0; i < n; i++) ids.push([await s.storage(ns).jobs.create({ type: tag, args: [i], queue: 'q' }), `${tag}${i}`]);
        return ids;
      };
      const first = await made(home, 5, 'first');
      await carry(home, away, ns);
      const second = await made(away, 3, 'second');
      await carry(away, home, ns);
      const third = await made(home, 12, 'third');
      const before = new Set([...first, ...second].map(([id]) => id));
      t.deepEqual(
        third.filter(([id]) => before.has(id)),
        [],
        'no new id repeats one handed out before the moves',
      );
      for (const [id, what] of [...first, ...second]) {
        const job = await home.storage(ns).jobs.get(await resolve(home, ns, id));
        t.is(`${job.type}${String(job.args[0])}`, what, `id ${id} resolves to its own job`);
      }
      await home.clearUnit(ns);
    });
  }
}

test('ids after redis → postgres → another redis: the first ids, back only as aliases, are not drawn again', async (t) => {
  // Another Redis shard keeps no mark of the unit: only the alias hash it brings says which ids it drew.
  const ns = `a-${randomUUID()}`;
  const first: string[] = [];
  for (let i = 0; i < 5; i++) first.push(await backends['redis']!.storage(ns).jobs.create({ type: 'first', args: [i], queue: 'q' }));
  await carry(backends['redis']!, targets['postgres']!, ns);
  await carry(targets['postgres']!, targets['redis']!, ns);
  const s = targets['redis']!.storage(ns);
  const later: string[] = [];
  for (let i = 0; i < 10; i++) later.push(await s.jobs.create({ type: 'later', args: [], queue: 'q' }));
  t.deepEqual(
    later.filter((id) => first.includes(id)),
    [],
  );
  for (const [i, id] of first.entries()) t.deepEqual((await s.jobs.get(await resolve(targets['redis']!, ns, id))).args, [i]);
  await targets['redis']!.clearUnit(ns);
});

test('ids after a round trip redis → postgres → the same redis: ids of jobs deleted before the move are not drawn again', async (t) => {
  const home = backends['redis']!,
    away = targets['postgres']!;
  const ns = `k-${randomUUID()}`;
  const s = home.storage(ns);
  const first: string[] = [];
  for (let i = 0; i < 6; i++) first.push(await s.jobs.create({ type: 'first', args: [i], queue: 'q' }));
  // The last four deleted: only the first two travel, so the alias hash alone would reserve ids up to 2.
  await s.transaction((tx) => {
    for (const id of first.slice(2)) tx.expireJob(id, 0);
  });
  await carry(home, away, ns);
  await carry(away, home, ns);
  const later: string[] = [];
  for (let i = 0; i < 10; i++) later.push(await s.jobs.create({ type: 'later', args: [], queue: 'q' }));
  t.deepEqual(
    later.filter((id) => first.includes(id)),
    [],
  );
  await home.clearUnit(ns);
});

/** A backend of `kind` of its own (a fresh schema, prefix or process-local store), so its id counters start at the beginning. */
function fresh(kind: string): { b: Backend; drop: () => Promise<void> } {
  if (kind === 'memory') {
    const b = new MemoryBackend({ pollIntervalMs: TEST_POLL_MS });
    return { b, drop: () => b.close() };
  }
  if (kind === 'postgres') {
    const schema = freshSchema();
    const b = new PostgresBackend({ connectionString: PG_URL, schema });
    return {
      b,
      drop: async () => {
        await b.close();
        await dropSchema(schema);
      },
    };
  }
  const prefix = freshPrefix();
  const b = new RedisBackend({ url: REDIS_URL, prefix, pollIntervalMs: TEST_POLL_MS });
  return {
    b,
    drop: async () => {
      await b.close();
      await deleteRedisPrefix(prefix);
    },
  };
}

/** Through each backend of `path` in turn (fresh ones), with the last four of six jobs deleted first: the new ids at the end. */
async function idsAfterDeletes(path: readonly string[]): Promise<{ first: string[]; kept: Array<[string, unknown]>; later: string[] }> {
  const shards = path.map(fresh);
  try {
    const ns = `d-${randomUUID()}`;
    const s = shards[0]!.b.storage(ns);
    const first: string[] = [];
    for (let i = 0; i < 6; i++) first.push(await s.jobs.create({ type: 'first', args: [i], queue: 'q' }));
    // Only the first two travel: their ids (or aliases) alone would let the target draw ids 3-6 again.
    await s.transaction((tx) => {
      for (const id of first.slice(2)) tx.expireJob(id, 0);
    });
    for (let i = 1; i < shards.length; i++) await carry(shards[i - 1]!.b, shards[i]!.b, ns);
    const last = shards[shards.length - 1]!.b;
    const later: string[] = [];
    for (let i = 0; i < 10; i++) later.push(await last.storage(ns).jobs.create({ type: 'later', args: [], queue: 'q' }));
    const kept: Array<[string, unknown]> = [];
    for (const id of first.slice(0, 2)) kept.push([id, (await last.storage(ns).jobs.get(await resolve(last, ns, id))).args[0]]);
    return { first, kept, later };
  } finally {
    for (const x of shards) await x.drop();
  }
}

// The pairs whose ids share a form: memory and Postgres draw "<n>", Redis "<n>.<tag>". Across forms
// no id can repeat (a Redis id always has the tag), so those pairs test nothing here.
for (const [k1, k2] of [
  ['memory', 'memory'],
  ['memory', 'postgres'],
  ['postgres', 'memory'],
  ['postgres', 'postgres'],
  ['redis', 'redis'],
] as const) {
  test(`ids after ${k1} → another ${k2}: ids of jobs deleted before the move are not drawn again there`, async (t) => {
    const { first, kept, later } = await idsAfterDeletes([k1, k2]);
    t.deepEqual(
      later.filter((id) => first.includes(id)),
      [],
    );
    t.deepEqual(kept, [
      [first[0], 0],
      [first[1], 1],
    ]);
  });
}

for (const path of [
  ['redis', 'postgres', 'redis'],
  ['postgres', 'redis', 'memory'],
]) {
  test(`ids after ${path.join(' → ')}, each another shard: the first shard's mark travels through the others`, async (t) => {
    const { first, later } = await idsAfterDeletes(path);
    t.deepEqual(
      later.filter((id) => first.includes(id)),
      [],
    );
  });
}

test('ids after Postgres → Postgres → Postgres: an alias the unit brings is above every id the last schema draws', async (t) => {
  // Three fresh schemas. The unit leaves the first with ids 56-60 (the others deleted), gets 1-5 on
  // the second and again on the third, which holds 56-60 as aliases only: its own ids must not reach them.
  const fresh = [freshSchema(), freshSchema(), freshSchema()];
  const [b1, b2, b3] = fresh.map((schema) => new PostgresBackend({ connectionString: PG_URL, schema }));
  try {
    const ns = `p-${randomUUID()}`;
    const s1 = b1!.storage(ns);
    const all: string[] = [];
    for (let i = 0; i < 60; i++) all.push(await s1.jobs.create({ type: 'first', args: [i], queue: 'q' }));
    await s1.transaction((tx) => {
      for (const id of all.slice(0, 55)) tx.expireJob(id, 0);
    });
    const kept = all.slice(55);
    await carry(b1!, b2!, ns);
    await carry(b2!, b3!, ns);
    const later: string[] = [];
    for (let i = 0; i < 80; i++) later.push(await b3!.storage(ns).jobs.create({ type: 'later', args: [], queue: 'q' }));
    t.deepEqual(
      later.filter((id) => kept.includes(id)),
      [],
      'no new id repeats an alias',
    );
    for (const [i, id] of kept.entries()) t.deepEqual((await b3!.storage(ns).jobs.get(await resolve(b3!, ns, id))).args, [55 + i]);
  } finally {
    for (const b of [b1, b2, b3]) await b!.close();
    for (const schema of fresh) await dropSchema(schema);
  }
});

for (const to of kinds) {
  test(`structures of 5,000 values move into ${to} (more than Lua's unpack takes at once)`, async (t) => {
    const src = backends['memory']!,
      dst = targets[to]!;
    const ns = `big-${randomUUID()}`;
    const N = 5_000;
    await src.storage(ns).transaction((tx) => {
      tx.hashSet('h', Object.fromEntries(Array.from({ length: N }, (_, i) => [`f${i}`, String(i)])));
      tx.hashSet(ALIAS_HASH, Object.fromEntries(Array.from({ length: N }, (_, i) => [`${i + 1}`, `${i + 1}`])));
      for (let i = 0; i < N; i++) tx.setAdd('z', `m${i}`, i);
      for (let i = 0; i < N; i++) tx.listInsert('l', `v${i}`);
    });
    await dst.importUnit(ns, src.exportUnit(ns));
    const d = dst.storage(ns);
    t.is(await d.data.hashCount('h'), N);
    t.is(Object.keys((await d.data.hashGetAll(ALIAS_HASH)) ?? {}).length, N);
    t.is((await d.data.setAll('z')).length, N);
    t.is((await d.data.listAll('l')).length, N);
    await dst.clearUnit(ns);
    await src.clearUnit(ns);
  });
}
