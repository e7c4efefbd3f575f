// Redis-only behaviour: Cluster slots, script registration, faults, crashes, payload limits.
import test from 'ava';
import calculateSlot from 'cluster-key-slot';
import { Redis } from 'ioredis';
import { randomUUID } from 'node:crypto';
import { RedisBackend } from '../../src/backends/redis/redis-backend.js';
import type { Storage } from '../../src/storage/storage.js';
import { enqueueJob, fetchOrNull } from '../conformance/helpers.js';
import { kill, startChild } from '../helpers/child.js';
import { freePort, PrivateRedis } from '../helpers/redis-server.js';
import { deleteRedisPrefix, freshPrefix, REDIS_URL, redisKeysUnder } from '../helpers/servers.js';

const prefix = freshPrefix();
const backend = new RedisBackend({ url: REDIS_URL, prefix });
const admin = new Redis(REDIS_URL);
const cleanups: Array<() => Promise<unknown>> = [];
test.after.always(async () => {
  for (const c of cleanups) await c().catch(() => {});
  await backend.close();
  await deleteRedisPrefix(prefix);
  admin.disconnect();
});

const keysUnder = (p: string) => redisKeysUnder(admin, p);

test('cluster: every key a namespace writes hashes to one slot', async (t) => {
  const ns = `slot-${randomUUID()}`;
  const s = backend.storage(ns);
  const id = await enqueueJob(s, 'q1', 'type', [1]);
  await enqueueJob(s, 'q2');
  await s.jobs.setParameter(id, 'p', 'v');
  await s.transaction((tx) => {
    tx.hashSet('h', { a: '1' });
    tx.setAdd('z', 'm', 1);
    tx.listInsert('l', 'x');
    tx.counterIncrement('c', 1);
    tx.expireJob(id, 60_000);
  });
  const f = await s.queues.fetch(['q1']);
  const lock = await s.locks.acquire('res', { timeoutMs: 0 });
  await s.servers.announce('srv', { queues: ['q1'], workerCount: 1 });
  await s.monitoring.stateCounts();
  const keys = await keysUnder(`${prefix}{${ns}}`);
  t.true(keys.length >= 15, `${keys.length} keys`);
  const slots = new Set(keys.map((k) => calculateSlot(k)));
  t.is(slots.size, 1, `keys spread over slots ${[...slots].join(', ')}`);
  t.is([...slots][0], calculateSlot(`{${ns}}`));
  await f.ack();
  await lock.release();
});

test('scripts: registered once and run by SHA; a flushed script cache is reloaded transparently', async (t) => {
  const s = backend.storage(`sha-${randomUUID()}`);
  await enqueueJob(s, 'q');
  const private_ = new PrivateRedis(await freePort());
  await private_.start();
  cleanups.push(() => private_.kill());
  const b = new RedisBackend({ url: private_.url, prefix });
  cleanups.push(() => b.close());
  const ps = b.storage('x');
  await enqueueJob(ps, 'q');
  const r = new Redis(private_.url);
  cleanups.push(async () => r.disconnect());
  await r.config('RESETSTAT');
  for (let i = 0; i < 5; i++) await enqueueJob(ps, 'q');
  const stats = await r.info('commandstats');
  t.regex(stats, /cmdstat_evalsha:calls=\d+/);
  t.notRegex(stats, /cmdstat_eval:calls/, 'no full script text sent once loaded');
  await r.script('FLUSH');
  const id = await enqueueJob(ps, 'q');
  t.is((await ps.jobs.get(id)).state, 'Enqueued');
});

test('fetch: a waiting consumer does not busy-poll the server', async (t) => {
  const private_ = new PrivateRedis(await freePort());
  await private_.start();
  cleanups.push(() => private_.kill());
  const b = new RedisBackend({ url: private_.url, prefix, pollIntervalMs: 1_000 });
  cleanups.push(() => b.close());
  const s = b.storage('idle');
  await s.monitoring.queues(); // connect and load scripts
  const r = new Redis(private_.url);
  cleanups.push(async () => r.disconnect());
  await r.config('RESETSTAT');
  t.is(await fetchOrNull(s, ['idle'], 2_500), null);
  const calls = Number((await r.info('commandstats')).match(/cmdstat_evalsha:calls=(\d+)/)?.[1] ?? 0);
  t.true(calls <= 5, `${calls} script calls while idle for 2.5 s`);
  // ...and it still wakes at once for a job enqueued through another connection.
  const other = new RedisBackend({ url: private_.url, prefix });
  cleanups.push(() => other.close());
  const waiting = s.queues.fetch(['idle'], { signal: AbortSignal.timeout(3_000) });
  await new Promise((res) => setTimeout(res, 100));
  const started = Date.now();
  const id = await enqueueJob(other.storage('idle'), 'idle');
  t.is((await waiting).jobId, id);
  t.true(Date.now() - started < 200, `woken after ${Date.now() - started} ms`);
});

test('faults: a server that is down fails fast with ShardUnavailableError; calls resume after it restarts', async (t) => {
  const private_ = new PrivateRedis(await freePort());
  await private_.start();
  cleanups.push(() => private_.kill());
  const b = new RedisBackend({ url: private_.url, prefix, connectTimeoutMs: 500 });
  cleanups.push(() => b.close());
  const s = b.storage('faults');
  const id = await s.jobs.create({ type: 't', args: [], queue: 'q' });
  await private_.kill();
  for (const call of [() => s.jobs.get(id), () => s.data.hashGetAll('h'), () => s.queues.fetch(['q'], { signal: AbortSignal.timeout(5_000) })]) {
    const started = Date.now();
    const err = await t.throwsAsync(call());
    t.is((err as { code?: string }).code, 'SHARD_UNAVAILABLE', err?.message);
    t.regex(err!.message, new RegExp(`127\\.0\\.0\\.1:${private_.port}`));
    t.true(Date.now() - started < 1_000, `failed after ${Date.now() - started} ms`);
  }
  await private_.start();
  let resumed = false;
  for (let i = 0; i < 50 && !resumed; i++) {
    resumed = await s.data.counterGet('c').then(
      () => true,
      () => false,
    );
    if (!resumed) await new Promise((res) => setTimeout(res, 100));
  }
  t.true(resumed, 'calls work again after the restart');
  t.truthy(await s.jobs.create({ type: 't', args: [], queue: 'q' }));
});

test('faults: an address nobody listens on fails within the connect timeout, naming host and port', async (t) => {
  const port = await freePort();
  const b = new RedisBackend({ url: `redis://127.0.0.1:${port}`, prefix, connectTimeoutMs: 300 });
  cleanups.push(() => b.close());
  const started = Date.now();
  const err = await t.throwsAsync(b.storage('x').data.counterGet('c'));
  t.is((err as { code?: string }).code, 'SHARD_UNAVAILABLE');
  t.regex(err!.message, new RegExp(`127\\.0\\.0\\.1:${port}`));
  t.true(Date.now() - started < 1_000);
});

test('payload limit: an over-size job is refused with PayloadTooLargeError and writes no key', async (t) => {
  const ns = `big-${randomUUID()}`;
  const b = new RedisBackend({ url: REDIS_URL, prefix, maxPayloadBytes: 1_000 });
  cleanups.push(() => b.close());
  const s = b.storage(ns);
  const err = await t.throwsAsync(s.jobs.create({ type: 't', args: ['x'.repeat(2_000)], queue: 'q' }));
  t.is((err as { code?: string }).code, 'PAYLOAD_TOO_LARGE');
  t.deepEqual(await keysUnder(`${prefix}{${ns}}`), []);
  await s.jobs.create({ type: 't', args: ['x'.repeat(900)], queue: 'q' });
  t.true((await keysUnder(`${prefix}{${ns}}`)).length > 0);
});

test('expiry: an expired job leaves no key behind, whenever its history and parameters were written', async (t) => {
  const ns = `exp-${randomUUID()}`;
  const s = backend.storage(ns);
  const jobKeys = async () => (await keysUnder(`${prefix}{${ns}}:job:`)).sort();
  // History started while the job was expiring, after create.
  const a = await s.jobs.create({ type: 't', args: [], queue: 'q', expireInMs: 3_000 });
  await s.transaction((tx) => tx.setJobState(a, { name: 'Scheduled' }));
  await s.transaction((tx) => tx.addJobState(a, { name: 'Note' }));
  // History and parameters started at create, expiry given later.
  const b = await s.jobs.create({ type: 't', args: [], queue: 'q', parameters: { p: '1' }, state: { name: 'Enqueued' } });
  await s.transaction((tx) => tx.expireJob(b, 3_000));
  // No history until after the expiry was set.
  const c = await s.jobs.create({ type: 't', args: [], queue: 'q' });
  await s.transaction((tx) => tx.expireJob(c, 3_000));
  await s.transaction((tx) => tx.setJobState(c, { name: 'Deleted' }));
  await s.transaction((tx) => tx.setJobParameter(c, 'late', 'x'));
  // A persisted job keeps everything.
  const kept = await s.jobs.create({ type: 't', args: [], queue: 'q', expireInMs: 3_000 });
  await s.transaction((tx) => {
    tx.setJobState(kept, { name: 'Enqueued' });
    tx.persistJob(kept);
  });
  t.true((await jobKeys()).length >= 9);
  await new Promise((r) => setTimeout(r, 3_500));
  const base = `${prefix}{${ns}}:job:${kept}`;
  t.deepEqual(await jobKeys(), [base, `${base}:h`], 'only the persisted job keeps keys (it has no parameters)');
});

test('expiry: expiring a job with 0 ms deletes its keys and index entries in that commit', async (t) => {
  const ns = `exp0-${randomUUID()}`;
  const s = backend.storage(ns);
  const id = await s.jobs.create({ type: 't', args: [], queue: 'q', parameters: { p: '1' }, state: { name: 'Enqueued' }, expireInMs: 60_000 });
  await s.transaction((tx) => {
    tx.setJobState(id, { name: 'Succeeded' });
    tx.expireJob(id, 0);
  });
  t.deepEqual(await keysUnder(`${prefix}{${ns}}:job:`), []);
  const base = `${prefix}{${ns}}:`;
  t.deepEqual(
    [await admin.zscore(`${base}state:Enqueued`, id), await admin.zscore(`${base}state:Succeeded`, id), await admin.zscore(`${base}expiring`, id)],
    [null, null, null],
  );
});

test('sweep: lapsed jobs leave the state indexes by themselves, with no monitoring read; sweepIntervalMs 0 leaves it to sweep()', async (t) => {
  const auto = new RedisBackend({ url: REDIS_URL, prefix: `${prefix}sw1:`, sweepIntervalMs: 200 });
  const manual = new RedisBackend({ url: REDIS_URL, prefix: `${prefix}sw2:`, sweepIntervalMs: 0 });
  try {
    const ns = `sweep-${randomUUID()}`;
    const lapse = (b: RedisBackend) =>
      b.storage(ns).jobs.create({ type: 't', args: [], queue: 'q', state: { name: 'Succeeded' }, enqueue: true, expireInMs: 300 });
    const [a, m] = [await lapse(auto), await lapse(manual)];
    const indexed = (p: string, id: string) => admin.zscore(`${p}{${ns}}:state:Succeeded`, id);
    t.not(await indexed(`${prefix}sw1:`, a), null);
    // Lapsed after 300 ms, swept within a 200 ms tick of that: 1 s, then up to 5 s more, as a loaded
    // machine delays timers (the fixed 1 s alone failed once beside other test files).
    await new Promise((r) => setTimeout(r, 1_000));
    for (const deadline = Date.now() + 5_000; Date.now() < deadline && (await indexed(`${prefix}sw1:`, a)) !== null;) {
      await new Promise((r) => setTimeout(r, 100));
    }
    t.is(await indexed(`${prefix}sw1:`, a), null, 'swept by the timer');
    t.is(await admin.zcard(`${prefix}sw1:{${ns}}:expiring`), 0);
    t.not(await indexed(`${prefix}sw2:`, m), null, 'no timer: still indexed');
    t.is(await manual.sweep(), 1);
    t.is(await indexed(`${prefix}sw2:`, m), null);
  } finally {
    await auto.close();
    await manual.close();
  }
});

test('sweep: the timer sweeps only namespaces whose jobs lapsed (100 idle ones cost it nothing), after one full pass on a prefix written before the sweep index', async (t) => {
  // A private server: its command counts are this test's alone. Every sweep is one script call.
  const private_ = new PrivateRedis(await freePort());
  await private_.start();
  cleanups.push(() => private_.kill());
  const server = new Redis(private_.url);
  cleanups.push(async () => server.disconnect());
  const scripts = async () => {
    const stats = await server.info('commandstats');
    return [/cmdstat_evalsha:calls=(\d+)/, /cmdstat_eval:calls=(\d+)/].reduce((n, re) => n + Number(re.exec(stats)?.[1] ?? 0), 0);
  };
  const wait = (ms: number) => new Promise((r) => setTimeout(r, ms));
  const first = new RedisBackend({ url: private_.url, prefix, sweepIntervalMs: 150 });
  cleanups.push(() => first.close());
  for (let i = 0; i < 100; i++) await first.storage(`idle${i}`).jobs.create({ type: 't', args: [], queue: 'q', enqueue: true });
  t.is(await server.get(`${prefix}sweep-indexed`), '1', 'a prefix with no namespace yet is marked indexed at once');
  let before = await scripts();
  await wait(800);
  t.is((await scripts()) - before, 0, 'five sweeps of 100 idle namespaces: no script call');
  await first.close();

  // A prefix written before the sweep index (unmarked): one full pass, then marked.
  await server.del(`${prefix}sweep-indexed`);
  const second = new RedisBackend({ url: private_.url, prefix, sweepIntervalMs: 150 });
  cleanups.push(() => second.close());
  before = await scripts();
  await second.open();
  const deadline = Date.now() + 10_000;
  while ((await server.get(`${prefix}sweep-indexed`)) !== '1' && Date.now() < deadline) await wait(20);
  t.is((await scripts()) - before, 100, 'the first pass sweeps every namespace once');
  before = await scripts();
  await wait(800);
  t.is((await scripts()) - before, 0, 'then none again');

  const ns = `lapsing-${randomUUID()}`;
  const id = await second.storage(ns).jobs.create({ type: 't', args: [], queue: 'q', state: { name: 'Succeeded' }, expireInMs: 300 });
  t.not(await server.zscore(`${prefix}sweep`, ns), null, 'a namespace with an expiring job is in the sweep index');
  before = await scripts();
  await wait(1_200);
  t.is(await server.zscore(`${prefix}{${ns}}:state:Succeeded`, id), null, 'its lapsed job was swept by the timer');
  t.is(await server.zscore(`${prefix}sweep`, ns), null, 'nothing left to expire: out of the index');
  t.is((await scripts()) - before, 1, 'one sweep, of that namespace');
});

test('hasData: a new unit is answered without a SCAN; units written before the mark are found by one pass, then marked; a registered unit is answered by its registry', async (t) => {
  // A private server: its SCAN count is this test's alone. A SCAN reads the whole keyspace, with the unit frozen during a pin.
  const private_ = new PrivateRedis(await freePort());
  await private_.start();
  cleanups.push(() => private_.kill());
  const server = new Redis(private_.url);
  cleanups.push(async () => server.disconnect());
  const scans = async () => Number(/cmdstat_scan:calls=(\d+)/.exec(await server.info('commandstats'))?.[1] ?? 0);
  const writer = new RedisBackend({ url: private_.url, prefix, sweepIntervalMs: 0 });
  cleanups.push(() => writer.close());
  const kinds = {
    job: (s: Storage) => s.jobs.create({ type: 't', args: [], queue: 'q', enqueue: true }).then(() => {}),
    hash: (s: Storage) => s.transaction((tx) => tx.hashSet('h', { a: '1' })),
    lock: (s: Storage) => s.locks.acquire('r', { timeoutMs: 0 }).then((l) => l.release()),
    server: (s: Storage) => s.servers.announce('srv', { queues: ['q'], workerCount: 1 }),
  };
  const units = Object.keys(kinds).flatMap((kind) => Array.from({ length: 5 }, (_, i) => `${kind}-${i}`));
  for (const unit of units) await kinds[unit.split('-')[0] as keyof typeof kinds](writer.storage(unit));
  for (const unit of units) t.is(await server.hget(`${prefix}{${unit}}:own`, 'used'), '1', `${unit}: its write marked it`);

  // As a prefix written by an earlier version: no marks, no prefix flag.
  for (const unit of units) await server.hdel(`${prefix}{${unit}}:own`, 'used');
  const reader = new RedisBackend({ url: private_.url, prefix, sweepIntervalMs: 0 });
  cleanups.push(() => reader.close());
  let before = await scans();
  t.false(await reader.hasData('never-written'));
  t.true((await scans()) - before > 0, 'the first call of a process on an unmarked prefix SCANs it once');
  t.is(await server.get(`${prefix}units-marked`), '1');
  for (const unit of units) t.true(await reader.hasData(unit), `${unit} found by the pass`);

  before = await scans();
  for (let i = 0; i < 20; i++) t.false(await reader.hasData(`fresh-${i}`));
  for (const unit of units.filter((u) => u.startsWith('job') || u.startsWith('server'))) t.true(await reader.hasData(unit));
  t.is((await scans()) - before, 0, 'then no SCAN: for new units, nor for units with jobs or servers');
  for (const unit of units.filter((u) => u.startsWith('hash') || u.startsWith('lock'))) t.true(await reader.hasData(unit));
  t.is((await scans()) - before, 0, 'nor for units with only data or locks: their registry answers');
  await server.hdel(`${prefix}{hash-0}:own`, 'reg');
  t.true(await reader.hasData('hash-0'));
  t.true((await scans()) - before > 0, 'a unit without the registry mark is SCANned');

  const lapsing = 'lapsing';
  await reader.storage(lapsing).transaction((tx) => {
    tx.hashSet('h', { a: '1' });
    tx.expire('hash', 'h', 1_000);
  });
  t.true(await reader.hasData(lapsing));
  await new Promise((r) => setTimeout(r, 1_300));
  before = await scans();
  t.false(await reader.hasData(lapsing), 'marked, but its data lapsed: its registry names a key that is gone');
  t.is((await scans()) - before, 0);

  await reader.clearUnit('job-0');
  before = await scans();
  t.false(await reader.hasData('job-0'));
  t.is((await scans()) - before, 0, 'a cleared unit is unmarked: no SCAN to say it is empty');
  await deleteRedisPrefix(prefix, private_.url);
});

test('locks: a killed holder process loses its lock when the lease lapses; the next token is larger', async (t) => {
  const ns = `lock-${randomUUID()}`;
  const holder = await startChild(
    './lock-holder.ts',
    [JSON.stringify({ kind: 'redis', url: REDIS_URL, prefix, namespace: ns, resource: 'crash-lock', ttlMs: 1_500 })],
    /token (\d+)/,
  );
  const heldToken = Number(holder.match[1]);
  await new Promise((r) => setTimeout(r, 2_000)); // past the first lease: only renewals keep it
  await t.throwsAsync(backend.storage(ns).locks.acquire('crash-lock', { timeoutMs: 0 }), { name: 'LockTimeoutError' });
  await kill(holder.child);
  const started = Date.now();
  const next = await backend.storage(ns).locks.acquire('crash-lock', { timeoutMs: 8_000 });
  t.true(Date.now() - started < 4_000, `free after ${Date.now() - started} ms (lease 1.5 s)`);
  t.true(next.token > heldToken);
  await next.release();
});

test('config: bad options get a ConfigError that says what to fix', (t) => {
  for (const [options, message] of [
    [{ url: REDIS_URL, prefix: 'a{b}' }, /prefix/],
    [{}, /url/],
    [{ url: REDIS_URL, connectTimeoutMs: -1 }, /connectTimeoutMs/],
    [{ url: REDIS_URL, sweepIntervalMs: -1 }, /sweepIntervalMs/],
    [{ cluster: ['no-port'] }, /cluster.*host:port/],
    [{ cluster: [] }, /cluster/],
    [{ cluster: ['127.0.0.1:7000'], url: REDIS_URL }, /only one of url, cluster and client/],
    [{ cluster: ['127.0.0.1:7000'], clusterOptions: 5 }, /clusterOptions/],
    [{ url: REDIS_URL, clusterOptions: { maxRedirections: 64 } }, /clusterOptions needs cluster/],
  ] as Array<[unknown, RegExp]>) {
    const err = t.throws(() => new RedisBackend(options as never));
    t.is((err as { code?: string }).code, 'CONFIG_INVALID');
    t.regex(err!.message, message);
  }
});
