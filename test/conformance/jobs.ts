import type { Harness, Test } from './harness.js';
import { createEnqueued, delay, enqueueJob, fetchOrNull, rejectsWithCode } from './helpers.js';

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

  test(`${h.name} jobs: parameter and state data names that are Object.prototype's own round-trip as plain fields`, async (t) => {
    const s = await h.storage();
    // JSON.parse makes "__proto__" an own property, as a caller decoding a payload would have it.
    const fields = JSON.parse('{"__proto__":"p","constructor":"c","toString":"t"}') as Record<string, string>;
    const id = await s.jobs.create({ type: 't', args: [], queue: 'q', parameters: fields, state: { name: 'Enqueued', data: fields }, enqueue: true });
    const expected = (o: Record<string, string>) =>
      t.deepEqual(Object.entries(o).sort(), [
        ['__proto__', 'p'],
        ['constructor', 'c'],
        ['toString', 't'],
      ]);
    const job = await s.jobs.get(id);
    expected(job.parameters);
    expected(job.stateData);
    expected((await s.jobs.history(id))[0]!.data);
    const fetched = await s.queues.fetch(['q'], { withJob: true });
    expected(fetched.job!.parameters);
    await fetched.ack();
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
    t.deepEqual(
      history.map((x) => x.name),
      ['Scheduled', 'Enqueued', 'Note'],
    );
    t.is(history[0]!.reason, 'later');
    t.deepEqual(history[0]!.data, { enqueueAt: '123' });
    t.is(history[2]!.reason, 'just history');
    t.true(history[0]!.createdAt.getTime() <= history[1]!.createdAt.getTime());
    t.true(history[1]!.createdAt.getTime() <= history[2]!.createdAt.getTime());
  });

  test(`${h.name} jobs: states added before a setJobState in one commit come first in the history, in order`, async (t) => {
    // The shape of a worker's outcome when its Processing mark was deferred (JobServer
    // markProcessingAfterMs): Postgres writes it in one UPDATE of the jobs (0024).
    const s = await h.storage();
    const [a, b, c] = [await enqueueJob(s, 'q'), await enqueueJob(s, 'q'), await enqueueJob(s, 'q')];
    await s.transaction((tx) => {
      tx.addJobState(a, { name: 'Processing', data: { serverId: 's1', startedAt: '1' } });
      tx.setJobState(a, { name: 'Succeeded', data: { durationMs: '3' } });
      tx.expireJob(a, 60_000);
      tx.counterIncrement('stats:succeeded');
      tx.addJobState(b, { name: 'Processing' });
      tx.addJobState(b, { name: 'Failed', reason: 'boom' });
      tx.setJobState(b, { name: 'Scheduled', reason: 'retry 2 of 3' });
      tx.setJobState(c, { name: 'Succeeded' });
    });
    const names = async (id: string) => (await s.jobs.history(id)).map((x) => `${x.name}${x.reason ? `:${x.reason}` : ''}`);
    t.deepEqual(await names(a), ['Enqueued', 'Processing', 'Succeeded']);
    t.deepEqual((await s.jobs.history(a))[1]!.data, { serverId: 's1', startedAt: '1' });
    t.deepEqual(await names(b), ['Enqueued', 'Processing', 'Failed:boom', 'Scheduled:retry 2 of 3']);
    t.deepEqual(await names(c), ['Enqueued', 'Succeeded']);
    const ja = await s.jobs.get(a);
    t.is(ja.state, 'Succeeded');
    t.deepEqual(ja.stateData, { durationMs: '3' });
    t.truthy(ja.expireAt);
    t.is((await s.jobs.get(b)).state, 'Scheduled');
    t.is(await s.data.counterGet('stats:succeeded'), 1);
    // Added to one job, set on another, then an add left without a set: each as written.
    await s.transaction((tx) => {
      tx.addJobState(a, { name: 'Note' });
      tx.setJobState(c, { name: 'Deleted' });
      tx.addJobState(c, { name: 'Last' });
    });
    t.deepEqual(await names(a), ['Enqueued', 'Processing', 'Succeeded', 'Note']);
    t.is((await s.jobs.get(a)).state, 'Succeeded');
    t.deepEqual(await names(c), ['Enqueued', 'Succeeded', 'Deleted', 'Last']);
    t.is((await s.jobs.get(c)).state, 'Deleted');
    // A missing job among them: JobNotFoundError, and nothing of the commit is written.
    await rejectsWithCode(
      t,
      s.transaction((tx) => {
        tx.addJobState(b, { name: 'Processing' });
        tx.setJobState(b, { name: 'Succeeded' });
        tx.addJobState('999999999', { name: 'Processing' });
        tx.setJobState('999999999', { name: 'Succeeded' });
      }),
      'JOB_NOT_FOUND',
    );
    t.is((await s.jobs.get(b)).state, 'Scheduled');
    t.is((await s.jobs.history(b)).length, 4);
  });

  test(`${h.name} jobs: a worker's outcome keeps names, reasons and data with quotes, backslashes, control characters and emoji exactly`, async (t) => {
    // Postgres sends such a commit's history entries as JSON text whose "t":0} stands for their
    // time (0026): no value of the entries may be taken for it.
    const s = await h.storage();
    const id = await createEnqueued(s, 'q-odd');
    const fetched = (await s.queues.tryFetch(['q-odd']))!;
    const odd = 'a "quoted" \\ back\\slash, \u0001 \u0002\n\t"t":0} 🚀 ünï';
    // Field names take no control characters (checkName); values do.
    const processing = { name: 'Processing', reason: `${odd} (mark)`, data: { t: '0}', 'a "q" \\ } 🚀': odd, empty: '' } };
    const done = { name: 'Succeeded', reason: odd, data: { '"t":': '0', n: 'x' } };
    await s.transaction((tx) => {
      tx.addJobState(id, processing);
      tx.setJobState(id, done);
      tx.expireJob(id, 60_000);
      tx.counterIncrement('stats:odd');
      tx.removeFromQueue(fetched);
    });
    const history = await s.jobs.history(id);
    t.deepEqual(
      history.slice(1).map((x) => ({ name: x.name, reason: x.reason, data: x.data })),
      [processing, done],
    );
    t.true(history[1]!.createdAt.getTime() >= history[0]!.createdAt.getTime());
    t.is(history[1]!.createdAt.getTime(), history[2]!.createdAt.getTime(), "both entries take the commit's time");
    const job = await s.jobs.get(id);
    t.is(job.state, 'Succeeded');
    t.is(job.stateReason, odd);
    t.deepEqual(job.stateData, done.data);
    t.is(job.stateAt?.getTime(), history[2]!.createdAt.getTime());
    t.is(await s.data.counterGet('stats:odd'), 1);
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
  test(`${h.name} jobs: expireJob with 0 ms deletes the job at once, out of every state list; a later persist or expiry in the same transaction keeps it`, async (t) => {
    const s = await h.storage();
    const [gone, kept, later] = [await enqueueJob(s, 'q'), await enqueueJob(s, 'q'), await enqueueJob(s, 'q')];
    const before = Date.now();
    await s.transaction((tx) => tx.setJobParameter(gone, 'p', '1'));
    await s.transaction((tx) => {
      tx.setJobState(gone, { name: 'Succeeded' });
      tx.expireJob(gone, 0);
      tx.setJobState(kept, { name: 'Succeeded' });
      tx.expireJob(kept, 0);
      tx.persistJob(kept);
      tx.expireJob(later, 0);
      tx.expireJob(later, 60_000);
    });
    await rejectsWithCode(t, s.jobs.get(gone), 'JOB_NOT_FOUND');
    await rejectsWithCode(t, s.jobs.history(gone), 'JOB_NOT_FOUND');
    await rejectsWithCode(t, s.jobs.getParameter(gone, 'p'), 'JOB_NOT_FOUND');
    t.deepEqual(
      (await s.monitoring.jobsInState('Succeeded')).map((j) => j.id),
      [kept],
    );
    t.deepEqual(await s.monitoring.stateCounts(), { Succeeded: 1, Enqueued: 1 });
    t.is((await s.jobs.get(kept)).expireAt, null);
    const expireAt = (await s.jobs.get(later)).expireAt;
    t.true(expireAt !== null && Math.abs(expireAt.getTime() - (before + 60_000)) < 5_000, 'a later expiry in the same transaction keeps the job');
  });

  test(`${h.name} jobs: states and expiries of several jobs in one transaction apply in order`, async (t) => {
    const s = await h.storage();
    const [a, b, c] = [await enqueueJob(s, 'q'), await enqueueJob(s, 'q'), await enqueueJob(s, 'q')];
    const before = Date.now();
    await s.transaction((tx) => {
      tx.setJobState(a, { name: 'Succeeded' });
      tx.expireJob(b, 60_000);
      tx.setJobState(c, { name: 'Succeeded' });
      tx.expireJob(c, 60_000);
      tx.persistJob(c);
      tx.setJobState(b, { name: 'Failed' });
    });
    const [ja, jb, jc] = [await s.jobs.get(a), await s.jobs.get(b), await s.jobs.get(c)];
    t.deepEqual([ja.state, jb.state, jc.state], ['Succeeded', 'Failed', 'Succeeded']);
    t.is(ja.expireAt, null);
    t.true(jb.expireAt !== null && Math.abs(jb.expireAt.getTime() - (before + 60_000)) < 5_000);
    t.is(jc.expireAt, null, 'the persist after the expiry wins');
  });

  test(`${h.name} jobs: a job's last expiry in one transaction is the one that holds, in the state lists too`, async (t) => {
    const s = await h.storage();
    const [stays, lapses] = [await enqueueJob(s, 'q'), await enqueueJob(s, 'q')];
    await Promise.all([
      s.transaction((tx) => {
        tx.setJobState(stays, { name: 'Succeeded' });
        tx.expireJob(stays, 50);
        tx.persistJob(stays);
      }),
      s.transaction((tx) => {
        tx.setJobState(lapses, { name: 'Succeeded' });
        tx.persistJob(lapses);
        tx.expireJob(lapses, 50);
      }),
    ]);
    await delay(150);
    t.is((await s.jobs.get(stays)).expireAt, null);
    await rejectsWithCode(t, s.jobs.get(lapses), 'JOB_NOT_FOUND');
    t.deepEqual(await s.monitoring.stateCounts(), { Succeeded: 1 });
    t.deepEqual(
      (await s.monitoring.jobsInState('Succeeded')).map((j) => j.id),
      [stays],
    );
  });

  test(`${h.name} jobs: create with a state and enqueue writes the job, its first state and its queue entry at once`, async (t) => {
    const s = await h.storage();
    const before = await enqueueJob(s, 'one-step');
    const id = await s.jobs.create({
      type: 'email.send',
      args: [{ to: 'x' }],
      queue: 'one-step',
      parameters: { p: '1' },
      state: { name: 'Enqueued', reason: 'created', data: { queue: 'one-step' } },
      enqueue: true,
    });
    const after = await createEnqueued(s, 'one-step');
    const job = await s.jobs.get(id);
    t.is(job.state, 'Enqueued');
    t.is(job.stateReason, 'created');
    t.deepEqual(job.stateData, { queue: 'one-step' });
    t.truthy(job.stateAt);
    t.is(job.expireAt, null, 'no expireInMs: the job never expires');
    t.deepEqual(job.parameters, { p: '1' });
    const history = await s.jobs.history(id);
    t.deepEqual(
      history.map((x) => [x.name, x.reason, x.data]),
      [['Enqueued', 'created', { queue: 'one-step' }]],
    );
    t.deepEqual(await s.monitoring.stateCounts(), { Enqueued: 3 });
    t.deepEqual(
      (await s.monitoring.queues()).map((q) => [q.name, q.waiting]),
      [['one-step', 3]],
    );
    // One FIFO order whichever way a job entered the queue.
    const fetched = [];
    for (let i = 0; i < 3; i++) fetched.push((await s.queues.tryFetch(['one-step']))!);
    t.deepEqual(
      fetched.map((f) => f.jobId),
      [before, id, after],
    );
    for (const f of fetched) await f.ack();
  });

  test(`${h.name} jobs: a state without enqueue is not queued; enqueue without a state is queued stateless; expiry still applies`, async (t) => {
    const s = await h.storage();
    const scheduled = await s.jobs.create({ type: 't', args: [], queue: 'q', state: { name: 'Scheduled' } });
    t.is((await s.jobs.get(scheduled)).state, 'Scheduled');
    t.is(await s.queues.tryFetch(['q']), null);
    // Four round trips must fit in the expiry: under a loaded test run 400 ms was not always enough.
    const bare = await s.jobs.create({ type: 't', args: [], queue: 'q', enqueue: true, expireInMs: 2_000 });
    t.is((await s.jobs.get(bare)).state, null);
    t.deepEqual(await s.jobs.history(bare), []);
    const f = await s.queues.tryFetch(['q']);
    t.is(f?.jobId, bare);
    await f!.ack();
    await delay(2_400);
    await rejectsWithCode(t, s.jobs.get(bare), 'JOB_NOT_FOUND');
  });

  test(`${h.name} jobs: a fetch waiting on a queue wakes when a job is created into it`, async (t) => {
    const s = await h.storage();
    const waiting = fetchOrNull(s, ['wake-on-create'], 3_000);
    await delay(100);
    const started = Date.now();
    const id = await createEnqueued(s, 'wake-on-create');
    const f = await waiting;
    t.is(f?.jobId, id);
    // Woken, not polled: the harnesses poll every 5 s (Postgres, its listener connected) or 30 s.
    // Under a loaded full run the wake-up itself has taken just over 1 s.
    t.true(Date.now() - started < 2_500, `woke after ${Date.now() - started} ms`);
    await f!.ack();
  });
}
