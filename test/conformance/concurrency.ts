// Many concurrent callers of the same storage: backends may batch such calls (one round trip
// or one commit for many), and each caller must still get exactly its own result.
import type { Harness, Test } from './harness.js';
import { rejectsWithCode } from './helpers.js';

export function concurrencyTests(test: Test, h: Harness): void {
  test(`${h.name} concurrency: 200 concurrent creates and reads each get their own job`, async (t) => {
    const s = await h.storage();
    const ids = await Promise.all(
      Array.from({ length: 200 }, (_, i) => s.jobs.create({ type: `type-${i}`, args: [i, { n: i }], queue: `q${i % 7}`, parameters: { i: String(i) } })),
    );
    t.is(new Set(ids).size, 200);
    const jobs = await Promise.all(ids.map((id) => s.jobs.get(id)));
    jobs.forEach((job, i) => {
      t.is(job.id, ids[i]!);
      t.is(job.type, `type-${i}`);
      t.deepEqual(job.args, [i, { n: i }]);
      t.is(job.queue, `q${i % 7}`);
      t.deepEqual(job.parameters, { i: String(i) });
    });
    // Reads of missing ids, interleaved with real ones, fail alone.
    const mixed = await Promise.allSettled([s.jobs.get(ids[0]!), s.jobs.get('999999998'), s.jobs.get(ids[1]!), s.jobs.get('not an id')]);
    t.deepEqual(
      mixed.map((r) => r.status),
      ['fulfilled', 'rejected', 'fulfilled', 'rejected'],
    );
  });

  test(`${h.name} concurrency: among concurrent transactions, one naming a missing job fails alone`, async (t) => {
    const s = await h.storage();
    const ids = await Promise.all(Array.from({ length: 40 }, () => s.jobs.create({ type: 't', args: [], queue: 'q' })));
    const results = await Promise.allSettled(
      ids.map((id, i) =>
        s.transaction((tx) => {
          tx.setJobState(id, { name: 'Enqueued' });
          tx.counterIncrement('together');
          if (i === 17) tx.setJobState('999999997', { name: 'Ghost' });
          tx.hashSet(`h-${i}`, { i: String(i) });
        }),
      ),
    );
    t.deepEqual(
      results.map((r, i) => (r.status === 'rejected') === (i === 17)),
      Array(40).fill(true),
    );
    await rejectsWithCode(t, Promise.reject((results[17] as PromiseRejectedResult).reason), 'JOB_NOT_FOUND');
    const states = await Promise.all(ids.map(async (id) => (await s.jobs.get(id)).state));
    t.deepEqual(
      states.map((st, i) => st === (i === 17 ? null : 'Enqueued')),
      Array(40).fill(true),
    );
    t.is(await s.data.counterGet('together'), 39);
    t.is(await s.data.hashGetAll('h-17'), null);
    t.deepEqual(await s.data.hashGetAll('h-16'), { i: '16' });
  });

  test(`${h.name} concurrency: 500 concurrent increments of shared counters are all counted, expiry kept`, async (t) => {
    const s = await h.storage();
    await Promise.all(
      Array.from({ length: 500 }, (_, i) =>
        s.transaction((tx) => {
          tx.counterIncrement('total', 1);
          tx.counterIncrement('by-two', 2, { expireInMs: 60_000 });
          if (i % 5 === 0) tx.counterIncrement('every-fifth', -1);
        }),
      ),
    );
    t.is(await s.data.counterGet('total'), 500);
    t.is(await s.data.counterGet('by-two'), 1_000);
    t.is(await s.data.counterGet('every-fifth'), -100);
    const ttl = await s.data.ttl('counter', 'by-two');
    t.true(ttl > 50_000 && ttl <= 60_000, `ttl ${ttl}`);
    t.is(await s.data.ttl('counter', 'total'), -1);
    // A counter persisted in the same group as increments ends persisted, with every increment.
    await Promise.all([
      ...Array.from({ length: 20 }, () => s.transaction((tx) => tx.counterIncrement('by-two', 1, { expireInMs: 60_000 }))),
      s.transaction((tx) => tx.persist('counter', 'by-two')),
    ]);
    t.is(await s.data.counterGet('by-two'), 1_020);
  });
}
