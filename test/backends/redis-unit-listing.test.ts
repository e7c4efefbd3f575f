// A Redis unit listed by its registry (state indexes, `queues`, the key registry) instead of a SCAN
// of the whole keyspace: the two listings agree after any sequence of writes, a cleanup by the
// registry leaves nothing behind, and units from before the registry are still SCANned.
import test from 'ava';
import fc from 'fast-check';
import { Redis } from 'ioredis';
import { randomUUID } from 'node:crypto';
import { RedisBackend } from '../../src/backends/redis/redis-backend.js';
import type { RunCommand } from '../../src/backends/redis/redis-data.js';
import { RedisKeys } from '../../src/backends/redis/redis-keys.js';
import { listByRegistry, listByScan, listUnit, registryHoldsData, type UnitListing } from '../../src/backends/redis/redis-unit-listing.js';
import type { Storage } from '../../src/storage/storage.js';
import { kill, startChild } from '../helpers/child.js';
import { deleteRedisPrefix, freshPrefix, REDIS_URL, redisKeysUnder } from '../helpers/servers.js';
import { alignTimes, exportAll, fillUnit, normalize } from '../helpers/unit-fixture.js';

const prefix = freshPrefix();
const backend = new RedisBackend({ url: REDIS_URL, prefix });
const admin = new Redis(REDIS_URL);
const run: RunCommand = (fn) => fn(admin);
test.after.always(async () => {
  await backend.close();
  await deleteRedisPrefix(prefix);
  admin.disconnect();
});

const keysOf = (ns: string) => new RedisKeys(prefix, ns);

const keysUnder = (p: string) => redisKeysUnder(admin, p);

const DATA = /^(h|z|l|c|fence):/;
const sorted = (xs: Iterable<string>) => [...xs].sort();
const dataNames = (l: UnitListing) => sorted([...l.names].filter((n) => DATA.test(n)));
const queueNames = (l: UnitListing) => new Set([...l.names].filter((n) => /^ql?:/.test(n)).map((n) => n.slice(n.indexOf(':') + 1)));

/** Random writes of every kind that creates, changes or removes a job, a structure, a queue entry or a lock. */
type Op =
  | { op: 'create'; state: boolean; enqueue: boolean; expiring: boolean }
  | { op: 'setState' | 'delete' | 'param'; job: number }
  | { op: 'fetch'; ack: boolean }
  | { op: 'hashSet' | 'hashDelete' | 'setAdd' | 'setRemove' | 'listInsert' | 'listDelete' | 'lock'; key: string }
  | { op: 'counter'; key: string; expiring: boolean };

const key = fc.constantFrom('a', 'b', 'c');
const opArb: fc.Arbitrary<Op> = fc.oneof(
  fc.record({ op: fc.constant('create' as const), state: fc.boolean(), enqueue: fc.boolean(), expiring: fc.boolean() }),
  fc.record({ op: fc.constantFrom('setState' as const, 'delete' as const, 'param' as const), job: fc.nat(20) }),
  fc.record({ op: fc.constant('fetch' as const), ack: fc.boolean() }),
  fc.record({
    op: fc.constantFrom(
      'hashSet' as const,
      'hashDelete' as const,
      'setAdd' as const,
      'setRemove' as const,
      'listInsert' as const,
      'listDelete' as const,
      'lock' as const,
    ),
    key,
  }),
  fc.record({ op: fc.constant('counter' as const), key, expiring: fc.boolean() }),
);

async function apply(s: Storage, jobs: string[], o: Op): Promise<void> {
  const job = (n: number) => jobs[n % Math.max(1, jobs.length)];
  const quietly = (p: Promise<unknown>) =>
    p.catch((err: { name?: string }) => {
      if (err.name !== 'JobNotFoundError') throw err;
    });
  switch (o.op) {
    case 'create':
      jobs.push(
        await s.jobs.create({
          type: 't',
          args: [],
          queue: 'q',
          ...(o.state ? { state: { name: 'Enqueued' } } : {}),
          enqueue: o.enqueue,
          ...(o.expiring ? { expireInMs: 1 } : {}),
        }),
      );
      break;
    case 'setState':
      if (job(o.job)) await quietly(s.transaction((tx) => tx.setJobState(job(o.job)!, { name: 'Scheduled' })));
      break;
    case 'delete':
      if (job(o.job)) await quietly(s.transaction((tx) => tx.expireJob(job(o.job)!, 0)));
      break;
    case 'param':
      if (job(o.job)) await quietly(s.transaction((tx) => tx.setJobParameter(job(o.job)!, 'p', 'v')));
      break;
    case 'fetch': {
      const f = await s.queues.tryFetch(['q'], { invisibilityTimeoutMs: 60_000 });
      if (f && o.ack) await f.ack();
      break;
    }
    case 'hashSet':
      await s.transaction((tx) => tx.hashSet(o.key, { f: '1' }));
      break;
    case 'hashDelete':
      await s.transaction((tx) => tx.hashDelete(o.key));
      break;
    case 'setAdd':
      await s.transaction((tx) => tx.setAdd(o.key, 'm', 1));
      break;
    case 'setRemove':
      await s.transaction((tx) => tx.setRemove(o.key, 'm'));
      break;
    case 'listInsert':
      await s.transaction((tx) => tx.listInsert(o.key, 'v'));
      break;
    case 'listDelete':
      await s.transaction((tx) => tx.listDelete(o.key));
      break;
    case 'counter':
      await s.transaction((tx) => tx.counterIncrement(o.key, 1, o.expiring ? { expireInMs: 1 } : undefined));
      break;
    case 'lock': {
      const l = await s.locks.acquire(o.key, { timeoutMs: 0, autoRenew: false });
      await l.release();
      break;
    }
  }
}

test('after any writes and a sweep, the registry lists exactly the jobs and keys a SCAN finds', async (t) => {
  let runs = 0;
  await fc.assert(
    fc.asyncProperty(fc.array(opArb, { minLength: 1, maxLength: 30 }), async (ops) => {
      const ns = `p-${randomUUID()}`;
      const s = backend.storage(ns);
      const jobs: string[] = [];
      // A queued job first: the unit is then in the backend's namespaces, which its sweep reads.
      for (const o of [{ op: 'create', state: true, enqueue: true, expiring: false } as const, ...ops]) await apply(s, jobs, o);
      await new Promise((r) => setTimeout(r, 5)); // the 1 ms expiries lapse
      // The sweep drops lapsed jobs from the indexes and prunes the registry (twice: a prune step is bounded).
      await backend.sweep();
      await backend.sweep();
      const keys = keysOf(ns);
      t.is(await admin.hget(keys.ownership, 'reg'), '1', 'a unit first written now is registered');
      const [reg, scan] = [await listByRegistry(run, keys), await listByScan(run, keys)];
      t.deepEqual(sorted(reg.jobIds), sorted(scan.jobIds));
      t.deepEqual(dataNames(reg), dataNames(scan));
      for (const q of queueNames(scan)) t.true(reg.names.has(`q:${q}`), `queue ${q} listed`);
      // What hasData asks the registry (beside the id counters and servers it reads first).
      const held = scan.jobIds.size > 0 || [...scan.names].some((n) => /^(q|ql|h|z|l|c|lock|fence):/.test(n));
      t.is(await registryHoldsData(run, keys), held);
      const left = await keysUnder(keys.base);
      if (left.length > 0) await admin.unlink(...left);
      runs++;
    }),
    { numRuns: 60 },
  );
  t.is(runs, 60);
});

test('a registered unit is listed without a SCAN; a unit without the registry mark is SCANned, and both export the same', async (t) => {
  const ns = `r-${randomUUID()}`;
  const keys = keysOf(ns);
  await fillUnit(backend.storage(ns));
  t.is(await admin.hget(keys.ownership, 'reg'), '1');
  const byRegistry = await exportAll(backend, ns);
  // A key the unit's scripts never wrote (so never registered) is invisible to the registry's listing
  // and visible to a SCAN's: which one an export used shows in what it exports.
  await admin.hset(`${keys.base}h:stray`, 'x', '1');
  t.is((await listUnit(run, keys)).by, 'registry');
  t.false((await exportAll(backend, ns)).some((i) => i.kind === 'hash' && i.key === 'stray'));
  await admin.hdel(keys.ownership, 'reg');
  t.is((await listUnit(run, keys)).by, 'scan');
  const byScan = await exportAll(backend, ns);
  t.true(byScan.some((i) => i.kind === 'hash' && i.key === 'stray'));
  t.deepEqual(...alignTimes(normalize(byScan.filter((i) => !(i.kind === 'hash' && i.key === 'stray'))), normalize(byRegistry)));
});

test('a unit holding keys from before the registry is not marked registered by its next write', async (t) => {
  const ns = `o-${randomUUID()}`;
  const keys = keysOf(ns);
  // What an older version left: jobs (their id counter) and no marks in the ownership record.
  await admin.set(`${keys.base}seq:job`, '7');
  await admin.hset(`${keys.base}h:old`, 'f', '1');
  await backend.storage(ns).transaction((tx) => tx.hashSet('new', { f: '1' }));
  t.is(await admin.hget(keys.ownership, 'used'), '1');
  t.is(await admin.hget(keys.ownership, 'reg'), null);
  t.true(
    (await exportAll(backend, ns)).some((i) => i.kind === 'hash' && i.key === 'old'),
    'SCANned: the old key is exported',
  );
});

test('clearUnit of a registered unit leaves nothing but the ownership record, counted by a SCAN', async (t) => {
  const ns = `c-${randomUUID()}`;
  const keys = keysOf(ns);
  const s = backend.storage(ns);
  const { ids } = await fillUnit(s);
  // More of what leaves bookkeeping behind: a stateless job given a state, a deleted job, a
  // structure emptied, an expired counter, a queue drained, a second state.
  await s.transaction((tx) => tx.setJobState(ids['bare']!, { name: 'Scheduled' }));
  await s.jobs.create({ type: 'x', args: [], queue: 'q9' });
  const doomed = await s.jobs.create({ type: 'x', args: [], queue: 'q1', state: { name: 'Enqueued' }, enqueue: true });
  await s.transaction((tx) => {
    tx.expireJob(doomed, 0);
    tx.setRemove('z1', 'm1');
    tx.counterIncrement('c9', 1, { expireInMs: 1 });
  });
  t.is(await admin.hget(keys.ownership, 'reg'), '1');
  t.true((await keysUnder(keys.base)).length > 20);
  await backend.setOwnership(ns, { state: 'moved', to: 'elsewhere', epoch: 2 });
  await backend.clearUnit(ns);
  t.deepEqual(await keysUnder(keys.base), [keys.ownership]);
  t.deepEqual(await admin.hmget(keys.ownership, 'used', 'reg', 'state'), [null, null, 'moved']);
});

test('the sweep prunes registry entries whose keys are gone', async (t) => {
  const ns = `s-${randomUUID()}`;
  const keys = keysOf(ns);
  const s = backend.storage(ns);
  await s.jobs.create({ type: 'x', args: [], queue: 'q', state: { name: 'Enqueued' }, enqueue: true }); // listed in namespaces(), which the sweep reads
  await s.transaction((tx) => {
    for (const k of ['a', 'b', 'c']) tx.hashSet(k, { f: '1' });
    tx.counterIncrement('gone-soon', 1, { expireInMs: 1 });
  });
  await s.transaction((tx) => tx.hashDelete('b'));
  t.deepEqual(sorted(await admin.smembers(`${keys.base}keys`)), ['c:gone-soon', 'h:a', 'h:b', 'h:c']);
  await new Promise((r) => setTimeout(r, 5));
  await backend.sweep();
  t.deepEqual(sorted(await admin.smembers(`${keys.base}keys`)), ['h:a', 'h:c']);
});

test('a job without a state is in the stateless index until it gets one, and a deleted job is in no index', async (t) => {
  const ns = `i-${randomUUID()}`;
  const keys = keysOf(ns);
  const s = backend.storage(ns);
  const indexes = async (id: string) => {
    const names = ['stateless', ...(await admin.smembers(`${keys.base}states`)).map((n) => `state:${n}`)];
    const found: string[] = [];
    for (const n of names) if ((await admin.zscore(`${keys.base}${n}`, id)) !== null) found.push(n);
    return found.sort();
  };
  const a = await s.jobs.create({ type: 'x', args: [], queue: 'q' });
  const b = await s.jobs.create({ type: 'x', args: [], queue: 'q' });
  t.deepEqual(await indexes(a), ['stateless']);
  t.true(await registryHoldsData(run, keys));
  await s.transaction((tx) => {
    tx.setJobState(a, { name: 'Scheduled' });
    tx.expireJob(b, 0);
  });
  t.deepEqual(await indexes(a), ['state:Scheduled']);
  t.deepEqual(await indexes(b), []);
  await s.transaction((tx) => tx.expireJob(a, 0));
  t.deepEqual(await indexes(a), []);
  t.deepEqual(await listByRegistry(run, keys).then((l) => [...l.jobIds]), []);
  t.false(await registryHoldsData(run, keys), 'every job deleted: nothing held');
  await s.transaction((tx) => tx.counterIncrement('c', 1, { expireInMs: 1 }));
  await new Promise((r) => setTimeout(r, 5));
  t.false(await registryHoldsData(run, keys), 'a registered key that lapsed holds nothing');
});

test('a cleanup killed part way (its process SIGKILLed) and run again leaves nothing but the ownership record', async (t) => {
  const ns = `k-${randomUUID()}`;
  const keys = keysOf(ns);
  const s = backend.storage(ns);
  await fillUnit(s);
  // Large enough that the cleanup takes hundreds of calls: 12,000 jobs, 36,000 keys, 100 a call.
  for (let i = 0; i < 12_000; i += 500) {
    await Promise.all(
      Array.from({ length: 500 }, (_, j) =>
        s.jobs.create({ type: 'x', args: [i + j], queue: `q${j % 3}`, state: { name: j % 2 ? 'Enqueued' : 'Scheduled' }, enqueue: j % 2 === 1 }),
      ),
    );
  }
  await backend.setOwnership(ns, { state: 'moved', to: 'elsewhere', epoch: 4 });
  const total = (await keysUnder(keys.base)).length;
  const clearer = await startChild('../helpers/unit-clearer.ts', [JSON.stringify({ url: REDIS_URL, prefix, namespace: ns })], /clearing/, 30_000);
  // Killed once the cleanup has removed some of the jobs' keys, well before it is done.
  const jobKeys = [...(await listByRegistry(run, keys)).jobIds].map((id) => `${keys.base}job:${id}`);
  for (let n = 0; n < 5_000 && (await admin.exists(...jobKeys)) === jobKeys.length; n++) await new Promise((r) => setImmediate(r));
  await kill(clearer.child);
  const left = (await keysUnder(keys.base)).length;
  t.true(left < total && left > 1000, `killed part way: ${left} of ${total} keys left`);
  await backend.clearUnit(ns);
  t.deepEqual(await keysUnder(keys.base), [keys.ownership]);
});
