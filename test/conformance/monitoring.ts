import { statsKeys } from '../../src/storage/statistics.js';
import type { Harness, Test } from './harness.js';
import { delay, enqueueJob, rejectsWithCode } from './helpers.js';

export function monitoringTests(test: Test, h: Harness): void {
  test(`${h.name} monitoring: queue lengths and waiting jobs in fetch order`, async (t) => {
    const s = await h.storage();
    const a = [await enqueueJob(s, 'alpha'), await enqueueJob(s, 'alpha'), await enqueueJob(s, 'alpha')];
    await enqueueJob(s, 'beta');
    const f = await s.queues.fetch(['alpha']);
    t.deepEqual(await s.monitoring.queues(), [
      { name: 'alpha', waiting: 2, inFlight: 1 },
      { name: 'beta', waiting: 1, inFlight: 0 },
    ]);
    t.deepEqual(
      (await s.monitoring.queueJobs('alpha')).map((j) => j.id),
      [a[1], a[2]],
    );
    t.deepEqual(
      (await s.monitoring.queueJobs('alpha', { offset: 1, limit: 5 })).map((j) => j.id),
      [a[2]],
    );
    t.deepEqual(await s.monitoring.queueJobs('nothing-here'), []);
    await f.ack();
  });

  test(`${h.name} monitoring: state counts and paged jobs by state, newest first`, async (t) => {
    const s = await h.storage();
    const ids: string[] = [];
    for (let i = 0; i < 7; i++) {
      const id = await s.jobs.create({ type: 't', args: [i], queue: 'q' });
      await s.transaction((tx) => tx.setJobState(id, { name: 'Succeeded' }));
      ids.push(id);
      await delay(3);
    }
    const failed = await s.jobs.create({ type: 't', args: [], queue: 'q' });
    await s.transaction((tx) => tx.setJobState(failed, { name: 'Failed', reason: 'boom' }));
    const counts = await s.monitoring.stateCounts();
    t.is(counts['Succeeded'], 7);
    t.is(counts['Failed'], 1);
    const pages = [
      await s.monitoring.jobsInState('Succeeded', { offset: 0, limit: 3 }),
      await s.monitoring.jobsInState('Succeeded', { offset: 3, limit: 3 }),
      await s.monitoring.jobsInState('Succeeded', { offset: 6, limit: 3 }),
    ];
    t.deepEqual(
      pages.map((p) => p.length),
      [3, 3, 1],
    );
    const all = pages.flat();
    t.deepEqual(all.map((j) => j.id).sort(), [...ids].sort());
    for (let i = 1; i < all.length; i++) t.true(all[i - 1]!.stateAt!.getTime() >= all[i]!.stateAt!.getTime());
    t.deepEqual(all[0]!.args, [6], 'most recent first');
    t.deepEqual(
      (await s.monitoring.jobsInState('Failed')).map((j) => [j.id, j.stateReason]),
      [[failed, 'boom']],
    );
    t.deepEqual(await s.monitoring.jobsInState('Processing'), []);
  });

  test(`${h.name} monitoring: a job whose state changes several times in one commit is listed once, under its last state`, async (t) => {
    const s = await h.storage();
    const [a, b, c, d] = await Promise.all([0, 1, 2, 3].map((i) => s.jobs.create({ type: 't', args: [i], queue: 'q', state: { name: 'Scheduled' } })));
    // Concurrent, so a batching backend may commit them as one group.
    await Promise.all([
      s.transaction((tx) => {
        tx.setJobState(a!, { name: 'Processing' });
        tx.setJobState(a!, { name: 'Failed', reason: 'boom' });
        tx.setJobState(a!, { name: 'Succeeded' });
      }),
      s.transaction((tx) => {
        tx.setJobState(b!, { name: 'Processing' });
        tx.setJobState(b!, { name: 'Scheduled' });
      }),
      s.transaction((tx) => {
        tx.setJobState(c!, { name: 'Processing' });
        tx.expireJob(c!, 0);
      }),
      s.transaction((tx) => tx.addJobState(d!, { name: 'Failed' })),
    ]);
    const counts = await s.monitoring.stateCounts();
    t.is(counts['Succeeded'], 1);
    t.is(counts['Scheduled'], 2);
    t.is(counts['Processing'] ?? 0, 0);
    t.is(counts['Failed'] ?? 0, 0, 'an added state is history, not the current state');
    t.deepEqual(
      (await s.monitoring.jobsInState('Succeeded')).map((j) => j.id),
      [a],
    );
    t.deepEqual((await s.monitoring.jobsInState('Scheduled')).map((j) => j.id).sort(), [b, d].sort());
    t.deepEqual(await s.monitoring.jobsInState('Processing'), []);
    t.deepEqual(await s.monitoring.jobsInState('Failed'), []);
    t.deepEqual(
      (await s.jobs.history(a!)).map((st) => st.name),
      ['Scheduled', 'Processing', 'Failed', 'Succeeded'],
    );
    await rejectsWithCode(t, s.jobs.get(c!), 'JOB_NOT_FOUND');
  });

  test(`${h.name} monitoring: expired jobs leave the state counts and lists, whatever state they were in`, async (t) => {
    const s = await h.storage();
    const kept = await s.jobs.create({ type: 't', args: [], queue: 'q', state: { name: 'Succeeded' } });
    // More than one sweep batch (500) of lapsing jobs, over three states, one of them changed after its expiry
    // was set. The expiries are set in one transaction, right before the first count, so a slow create does
    // not let any of them lapse early.
    const lapsing = await Promise.all(
      Array.from({ length: 530 }, (_, i) => s.jobs.create({ type: 't', args: [i], queue: 'q', state: { name: ['Succeeded', 'Failed', 'Deleted'][i % 3]! } })),
    );
    await s.transaction((tx) => {
      for (const id of lapsing) tx.expireJob(id, 2_500);
      tx.setJobState(lapsing[1]!, { name: 'Succeeded' });
    });
    t.deepEqual(await s.monitoring.stateCounts(), { Succeeded: 179, Failed: 176, Deleted: 176 });
    await delay(3_000);
    t.deepEqual(await s.monitoring.stateCounts(), { Succeeded: 1 });
    t.deepEqual(
      (await s.monitoring.jobsInState('Succeeded')).map((j) => j.id),
      [kept],
    );
    t.deepEqual(await s.monitoring.jobsInState('Failed'), []);
  });

  test(`${h.name} monitoring: job details with history`, async (t) => {
    const s = await h.storage();
    const id = await enqueueJob(s, 'q', 'report.build', [{ month: '2026-11' }]);
    const { job, history } = await s.monitoring.jobDetails(id);
    t.is(job.type, 'report.build');
    t.deepEqual(job.args, [{ month: '2026-11' }]);
    t.deepEqual(
      history.map((x) => x.name),
      ['Enqueued'],
    );
  });

  test(`${h.name} monitoring: servers and statistics`, async (t) => {
    const s = await h.storage();
    await s.servers.announce('mon-1', { queues: ['default'], workerCount: 2 });
    t.deepEqual(
      (await s.monitoring.servers()).map((x) => x.id),
      ['mon-1'],
    );
    const now = new Date();
    const k = statsKeys('succeeded', now);
    const f = statsKeys('failed', now);
    await s.transaction((tx) => {
      for (const key of [k.total, k.day, k.hour]) tx.counterIncrement(key, 3);
      for (const key of [f.total, f.day, f.hour]) tx.counterIncrement(key, 1);
    });
    const stats = await s.monitoring.statistics({ days: 3, hours: 2 });
    t.is(stats.succeeded, 3);
    t.is(stats.failed, 1);
    t.is(stats.deleted, 0);
    t.is(stats.perDay.length, 3);
    t.is(stats.perHour.length, 2);
    t.deepEqual(stats.perDay.at(-1), { period: now.toISOString().slice(0, 10), succeeded: 3, failed: 1 });
    t.deepEqual(stats.perHour.at(-1), { period: now.toISOString().slice(0, 13), succeeded: 3, failed: 1 });
    t.is(stats.perDay[0]!.succeeded, 0);
  });
}
