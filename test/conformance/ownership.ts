import { randomUUID } from 'node:crypto';
import { isJobshardError } from '../../src/storage/errors.js';
import type { Backend, Storage } from '../../src/storage/storage.js';
import type { Test } from './harness.js';

/** Every write and fetch a unit's storage offers, each as one call. */
function writes(s: Storage, jobId: string): Array<[string, () => Promise<unknown>]> {
  return [
    ['create', () => s.jobs.create({ type: 't', args: [], queue: 'q', enqueue: true, state: { name: 'Enqueued' } })],
    ['setParameter', () => s.jobs.setParameter(jobId, 'p', 'v')],
    ['transaction', () => s.transaction((tx) => tx.hashSet('h', { a: '1' }))],
    ['job transaction', () => s.transaction((tx) => tx.setJobState(jobId, { name: 'Failed' }))],
    ['tryFetch', () => s.queues.tryFetch(['q'])],
    ['lock', () => s.locks.acquire('r', { timeoutMs: 0 })],
    ['announce', () => s.servers.announce('srv', { queues: ['q'], workerCount: 1 })],
    ['heartbeat', () => s.servers.heartbeat('srv')],
    ['removeTimedOut', () => s.servers.removeTimedOut(1)],
  ];
}

function reads(s: Storage, jobId: string): Array<[string, () => Promise<unknown>]> {
  return [
    ['get', () => s.jobs.get(jobId)],
    ['history', () => s.jobs.history(jobId)],
    ['hashGetAll', () => s.data.hashGetAll('h')],
    ['stateCounts', () => s.monitoring.stateCounts()],
    ['queues', () => s.monitoring.queues()],
    ['servers', () => s.servers.list()],
  ];
}

/** What a unit holds, read with the unit active: compared before and after refused calls. */
async function snapshot(backend: Backend, ns: string) {
  const own = await backend.ownership(ns);
  await backend.setOwnership(ns, { state: 'active' });
  const s = backend.storage(ns);
  const out = {
    counts: await s.monitoring.stateCounts(),
    queues: await s.monitoring.queues(),
    hash: await s.data.hashGetAll('h'),
    servers: (await s.servers.list()).length,
  };
  await backend.setOwnership(ns, own);
  return out;
}

/**
 * Ownership records (the placement directory's fence on the shard): a moved or
 * frozen unit refuses every write and fetch with a typed error and writes nothing.
 */
export function ownershipTests(test: Test, name: string, backend: Backend): void {
  const fresh = async () => {
    const ns = `own-${randomUUID()}`;
    const s = backend.storage(ns);
    const jobId = await s.jobs.create({ type: 't', args: [1], queue: 'q', enqueue: true, state: { name: 'Enqueued' } });
    return { ns, s, jobId };
  };

  test(`${name} ownership: a new namespace is active and holds nothing; a job, a structure, a lock or a server makes it hold data`, async (t) => {
    const ns = `own-${randomUUID()}`;
    t.deepEqual(await backend.ownership(ns), { state: 'active' });
    t.false(await backend.hasData(ns));
    await backend.storage(ns).transaction((tx) => tx.counterIncrement('c', 1));
    t.true(await backend.hasData(ns));
    const locked = `own-${randomUUID()}`;
    await (await backend.storage(locked).locks.acquire('r', { timeoutMs: 0 })).release();
    t.true(await backend.hasData(locked), 'a released lock keeps its fencing counter, which must not restart elsewhere');
    const { ns: withJob } = await fresh();
    t.true(await backend.hasData(withJob));
    const announced = `own-${randomUUID()}`;
    await backend.storage(announced).servers.announce('srv', { queues: ['q'], workerCount: 1 });
    t.true(await backend.hasData(announced), 'a server record is data: it moves with the unit');
  });

  test(`${name} ownership: a moved unit refuses every write, fetch and read with UnitMovedError naming the new shard and epoch, and writes nothing`, async (t) => {
    const { ns, s, jobId } = await fresh();
    await s.transaction((tx) => tx.hashSet('h', { before: '1' }));
    const before = await snapshot(backend, ns);
    await backend.setOwnership(ns, { state: 'moved', to: 'shard-b', epoch: 7 });
    t.deepEqual(await backend.ownership(ns), { state: 'moved', to: 'shard-b', epoch: 7 });
    for (const [what, call] of [...writes(s, jobId), ...reads(s, jobId)]) {
      const err = await t.throwsAsync(call, undefined, what);
      t.true(isJobshardError(err, 'UNIT_MOVED'), `${what}: ${err?.message}`);
      t.like(err as object, { toShard: 'shard-b', epoch: 7, namespace: ns }, what);
    }
    t.deepEqual(await snapshot(backend, ns), before);
    await backend.setOwnership(ns, { state: 'active' });
    t.is((await s.jobs.get(jobId)).state, 'Enqueued');
    t.truthy(await s.queues.tryFetch(['q']), 'active again: the job is there, untouched');
  });

  test(`${name} ownership: a frozen unit refuses writes and fetches with UnitFrozenError until its deadline, serves reads, then works again by itself`, async (t) => {
    const { ns, s, jobId } = await fresh();
    const before = await snapshot(backend, ns);
    // Long enough for every write below to be refused on a loaded machine (2 s once was not, in CI);
    // the lapse is tested after them with a short freeze of its own.
    const until = Date.now() + 60_000;
    await backend.setOwnership(ns, { state: 'frozen', until });
    for (const [what, call] of writes(s, jobId)) {
      const err = await t.throwsAsync(call, undefined, what);
      t.true(isJobshardError(err, 'UNIT_FROZEN'), `${what}: ${err?.message}`);
      t.true(Math.abs((err as unknown as { until: number }).until - until) < 5, what);
    }
    for (const [what, call] of reads(s, jobId)) await t.notThrowsAsync(call, what);
    t.deepEqual(await snapshot(backend, ns), before);
    const lapsing = Date.now() + 1_000;
    await backend.setOwnership(ns, { state: 'frozen', until: lapsing });
    await t.throwsAsync(s.queues.tryFetch(['q']), { name: 'UnitFrozenError' }, 'frozen again, until shortly');
    await new Promise((r) => setTimeout(r, lapsing - Date.now() + 30));
    t.deepEqual(await backend.ownership(ns), { state: 'active' }, 'a lapsed freeze reads as active');
    const f = await s.queues.tryFetch(['q']);
    t.is(f?.jobId, jobId);
    await f!.ack();
  });

  test(`${name} ownership: a freeze resolves only after the writes begun before it; none lands after it (200 concurrent creates, counted)`, async (t) => {
    const ns = `own-${randomUUID()}`;
    const s = backend.storage(ns);
    const results = Array.from({ length: 200 }, (_, i) =>
      (async () => {
        await new Promise((r) => setTimeout(r, i % 20));
        return s.jobs.create({ type: 't', args: [i], queue: 'q', enqueue: true, state: { name: 'Enqueued' } });
      })().then(
        (id) => ({ id }),
        (err: Error) => ({ err }),
      ),
    );
    await new Promise((r) => setTimeout(r, 8));
    await backend.setOwnership(ns, { state: 'frozen', until: Date.now() + 5_000 });
    const atFreeze = (await s.monitoring.stateCounts())['Enqueued'] ?? 0;
    const settled = await Promise.all(results);
    const created = settled.filter((r) => 'id' in r).length;
    const refused = settled.filter((r) => 'err' in r);
    t.true(
      refused.every((r) => isJobshardError(r.err, 'UNIT_FROZEN')),
      refused.map((r) => r.err.message).join('; '),
    );
    t.is(created + refused.length, 200);
    t.is((await s.monitoring.stateCounts())['Enqueued'] ?? 0, atFreeze, 'nothing landed after the freeze returned');
    t.is(atFreeze, created, 'every create that succeeded had landed before the freeze returned');
    await backend.setOwnership(ns, { state: 'active' });
  });

  test(`${name} ownership: signal wakes a watcher of the namespace`, async (t) => {
    const ns = `own-${randomUUID()}`;
    let woken = 0;
    const stop = backend.watch(ns, () => woken++);
    // Subscriptions settle first (Redis SUBSCRIBE, Postgres LISTEN); a (re)connect may wake spuriously, as watch allows.
    await new Promise((r) => setTimeout(r, 200));
    woken = 0;
    await backend.signal(ns);
    for (let i = 0; i < 100 && woken === 0; i++) await new Promise((r) => setTimeout(r, 20));
    stop();
    t.true(woken > 0);
  });
}
