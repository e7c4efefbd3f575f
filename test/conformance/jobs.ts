import type { Harness, Test } from './harness.js';
import { delay, enqueueJob, rejectsWithCode } from './helpers.js';

export function jobTests(test: Test, h: Harness): void {
  test(`${h.name} jobs: create and get round-trip type, args, queue and parameters`, async (t) => {
    const s = await h.storage();
    const args = [{ to: 'a@b.c', n: 3, nested: [1, 'two', null, true] }, 'x', 0.5];
    const before = Date.now();
    const id = await s.jobs.create({ type: 'email.send', args, queue: 'mail', parameters: { culture: 'fr', empty: '' }, expireInMs: 60_000 });
    t.is(typeof id, 'string');
    const job = await s.jobs.get(id);
    t.is(job.id, id);
    t.is(job.type, 'email.send');
    t.deepEqual(job.args, args);
    t.is(job.queue, 'mail');
    t.is(job.state, null);
    t.is(job.stateAt, null);
    t.deepEqual(job.parameters, { culture: 'fr', empty: '' });
    t.true(Math.abs(job.createdAt.getTime() - before) < 5_000);
    t.truthy(job.expireAt);
    t.true(Math.abs(job.expireAt!.getTime() - (before + 60_000)) < 5_000);
  });

  test(`${h.name} jobs: unknown and malformed ids throw JobNotFoundError`, async (t) => {
    const s = await h.storage();
    for (const id of ['999999999', 'no-such-job', '1e5', '-1']) {
      await rejectsWithCode(t, s.jobs.get(id), 'JOB_NOT_FOUND');
      await rejectsWithCode(t, s.jobs.history(id), 'JOB_NOT_FOUND');
      await rejectsWithCode(t, s.jobs.getParameter(id, 'p'), 'JOB_NOT_FOUND');
      await rejectsWithCode(t, s.jobs.setParameter(id, 'p', 'v'), 'JOB_NOT_FOUND');
    }
  });

  test(`${h.name} jobs: setJobState changes the current state and appends history; addJobState only appends`, async (t) => {
    const s = await h.storage();
    const id = await s.jobs.create({ type: 't', args: [], queue: 'q' });
    await s.transaction((tx) => tx.setJobState(id, { name: 'Scheduled', reason: 'later', data: { enqueueAt: '123' } }));
    await delay(5);
    await s.transaction((tx) => tx.setJobState(id, { name: 'Enqueued', data: { queue: 'q' } }));
    await delay(5);
    await s.transaction((tx) => tx.addJobState(id, { name: 'Note', reason: 'just history' }));
    const job = await s.jobs.get(id);
    t.is(job.state, 'Enqueued');
    t.is(job.stateReason, null);
    t.deepEqual(job.stateData, { queue: 'q' });
    t.truthy(job.stateAt);
    const history = await s.jobs.history(id);
    t.deepEqual(history.map((x) => x.name), ['Scheduled', 'Enqueued', 'Note']);
    t.is(history[0]!.reason, 'later');
    t.deepEqual(history[0]!.data, { enqueueAt: '123' });
    t.is(history[2]!.reason, 'just history');
    t.true(history[0]!.createdAt.getTime() <= history[1]!.createdAt.getTime());
    t.true(history[1]!.createdAt.getTime() <= history[2]!.createdAt.getTime());
  });

  test(`${h.name} jobs: parameters are upserted, missing ones read as null`, async (t) => {
    const s = await h.storage();
    const id = await s.jobs.create({ type: 't', args: [], queue: 'q', parameters: { a: '1' } });
    t.is(await s.jobs.getParameter(id, 'a'), '1');
    t.is(await s.jobs.getParameter(id, 'missing'), null);
    await s.jobs.setParameter(id, 'a', '2');
    await s.jobs.setParameter(id, 'b', 'x');
    await s.transaction((tx) => tx.setJobParameter(id, 'c', 'from-tx'));
    t.deepEqual((await s.jobs.get(id)).parameters, { a: '2', b: 'x', c: 'from-tx' });
  });

  test(`${h.name} jobs: a created job expires unless persisted`, async (t) => {
    const s = await h.storage();
    const doomed = await s.jobs.create({ type: 't', args: [], queue: 'q', expireInMs: 1_500 });
    const kept = await s.jobs.create({ type: 't', args: [], queue: 'q', expireInMs: 1_500 });
    await s.transaction((tx) => {
      tx.setJobState(kept, { name: 'Enqueued' });
      tx.persistJob(kept);
    });
    t.is((await s.jobs.get(kept)).expireAt, null);
    await delay(1_800);
    await rejectsWithCode(t, s.jobs.get(doomed), 'JOB_NOT_FOUND');
    t.is((await s.jobs.get(kept)).state, 'Enqueued');
  });

  test(`${h.name} jobs: expireJob deletes the job with its history and parameters`, async (t) => {
    const s = await h.storage();
    const id = await enqueueJob(s, 'q');
    await s.transaction((tx) => {
      tx.setJobState(id, { name: 'Succeeded' });
      tx.expireJob(id, 1_000);
    });
    t.truthy((await s.jobs.get(id)).expireAt);
    await delay(1_300);
    await rejectsWithCode(t, s.jobs.get(id), 'JOB_NOT_FOUND');
    await rejectsWithCode(t, s.jobs.history(id), 'JOB_NOT_FOUND');
    await rejectsWithCode(t, s.jobs.getParameter(id, 'x'), 'JOB_NOT_FOUND');
    t.falsy((await s.monitoring.stateCounts())['Succeeded']);
  });
}
