import type { Harness, Test } from './harness.js';
import { delay, enqueueJob, fetchOrNull, rejectsWithCode } from './helpers.js';

export function transactionTests(test: Test, h: Harness): void {
  test(`${h.name} transactions: a failing write leaves nothing behind`, async (t) => {
    const s = await h.storage();
    const id = await enqueueJob(s, 'q-ok');
    await rejectsWithCode(
      t,
      s.transaction((tx) => {
        tx.hashSet('h', { a: '1' });
        tx.setAdd('z', 'm', 1);
        tx.listInsert('l', 'x');
        tx.counterIncrement('c', 5);
        tx.setJobState(id, { name: 'Processing' });
        tx.enqueue('q-other', id);
        tx.setJobState('999999999', { name: 'Ghost' }); // this job does not exist
      }),
      'JOB_NOT_FOUND',
    );
    t.is(await s.data.hashGetAll('h'), null);
    t.deepEqual(await s.data.setAll('z'), []);
    t.deepEqual(await s.data.listAll('l'), []);
    t.is(await s.data.counterGet('c'), 0);
    t.is((await s.jobs.get(id)).state, 'Enqueued');
    t.is((await s.jobs.history(id)).length, 1);
    t.is(await fetchOrNull(s, ['q-other'], 50), null);
  });

  test(`${h.name} transactions: deleting jobs (expired with 0 ms) where one is missing deletes none and writes nothing`, async (t) => {
    // A worker's outcomes under retentionMs 0 are such a transaction (Postgres deletes them in one
    // statement and counts what it deleted as the existence check).
    const s = await h.storage();
    const ids = await Promise.all([1, 2, 3].map(() => enqueueJob(s, 'q-del')));
    const gone = await enqueueJob(s, 'q-del');
    await s.transaction((tx) => tx.expireJob(gone, 0));
    await rejectsWithCode(
      t,
      s.transaction((tx) => {
        for (const id of [...ids, gone]) tx.expireJob(id, 0);
        tx.counterIncrement('stats:succeeded', 4);
      }),
      'JOB_NOT_FOUND',
    );
    for (const id of ids) t.is((await s.jobs.get(id)).state, 'Enqueued');
    t.is(await s.data.counterGet('stats:succeeded'), 0);
    await s.transaction((tx) => {
      for (const id of ids) tx.expireJob(id, 0);
      tx.counterIncrement('stats:succeeded', 3);
    });
    for (const id of ids) await rejectsWithCode(t, s.jobs.get(id), 'JOB_NOT_FOUND');
    t.is(await s.data.counterGet('stats:succeeded'), 3);
  });

  test(`${h.name} transactions: setting several jobs' states (each with an expiry) where one is missing sets none and writes nothing`, async (t) => {
    // A worker's outcomes with jobs kept are such a transaction (Postgres sets them in one statement).
    const s = await h.storage();
    const ids = await Promise.all([1, 2, 3].map(() => enqueueJob(s, 'q-set')));
    const gone = await enqueueJob(s, 'q-set');
    await s.transaction((tx) => tx.expireJob(gone, 0));
    const finish = (which: string[]) =>
      s.transaction((tx) => {
        for (const [i, id] of which.entries()) {
          tx.setJobState(id, { name: 'Succeeded', reason: `r${i}`, data: { n: String(i) } });
          tx.expireJob(id, 60_000);
        }
        tx.counterIncrement('stats:kept', which.length);
      });
    await rejectsWithCode(t, finish([...ids, gone]), 'JOB_NOT_FOUND');
    for (const id of ids) {
      const job = await s.jobs.get(id);
      t.is(job.state, 'Enqueued');
      t.is(job.expireAt, null);
      t.is((await s.jobs.history(id)).length, 1);
    }
    t.is(await s.data.counterGet('stats:kept'), 0);
    const before = Date.now();
    await finish(ids);
    for (const [i, id] of ids.entries()) {
      const job = await s.jobs.get(id);
      t.is(job.state, 'Succeeded');
      t.is(job.stateReason, `r${i}`);
      t.deepEqual(job.stateData, { n: String(i) });
      t.true(job.expireAt !== null && job.expireAt.getTime() >= before + 50_000 && job.expireAt.getTime() <= Date.now() + 70_000);
      const history = await s.jobs.history(id);
      t.deepEqual(
        history.map((x) => [x.name, x.reason, x.data]),
        [
          ['Enqueued', null, { queue: 'q-set' }],
          ['Succeeded', `r${i}`, { n: String(i) }],
        ],
      );
      t.is(history[1]!.createdAt.getTime(), job.stateAt!.getTime(), "the history entry's time is the state's");
    }
    t.is(await s.data.counterGet('stats:kept'), 3);
  });

  test(`${h.name} transactions: a callback that throws writes nothing`, async (t) => {
    const s = await h.storage();
    const err = await t.throwsAsync(
      s.transaction(async (tx) => {
        tx.hashSet('h', { a: '1' });
        tx.counterIncrement('c');
        throw new Error('boom');
      }),
    );
    t.is(err?.message, 'boom');
    t.is(await s.data.hashGetAll('h'), null);
    t.is(await s.data.counterGet('c'), 0);
  });

  test(`${h.name} transactions: writes are invisible until commit, then all visible; the result passes through`, async (t) => {
    const s = await h.storage();
    const id = await s.jobs.create({ type: 't', args: [], queue: 'vis' });
    const result = await s.transaction(async (tx) => {
      tx.hashSet('h', { a: '1' });
      tx.setJobState(id, { name: 'Enqueued' });
      tx.enqueue('vis', id);
      await delay(20);
      t.is(await s.data.hashGetAll('h'), null);
      t.is((await s.jobs.get(id)).state, null);
      t.deepEqual(await s.monitoring.queues(), []);
      return 42;
    });
    t.is(result, 42);
    t.deepEqual(await s.data.hashGetAll('h'), { a: '1' });
    t.is((await s.jobs.get(id)).state, 'Enqueued');
    const f = await s.queues.fetch(['vis']);
    t.is(f.jobId, id);
    await f.ack();
  });

  test(`${h.name} transactions: recording a write after the callback returned is refused`, async (t) => {
    const s = await h.storage();
    let leaked: import('../../src/storage/transaction.js').WriteTransaction | undefined;
    await s.transaction((tx) => {
      leaked = tx;
    });
    t.throws(() => leaked!.hashSet('late', { a: '1' }), { instanceOf: Error, message: /already finished/ });
    t.is(await s.data.hashGetAll('late'), null);
  });
}
