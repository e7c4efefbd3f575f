import type { Harness, Test } from './harness.js';
import { enqueueJob, fetchOrNull, rejectsWithCode } from './helpers.js';

export function isolationTests(test: Test, h: Harness): void {
  test(`${h.name} isolation: two namespaces never see each other's jobs, queues, locks, data or servers`, async (t) => {
    const [a, b] = await h.pair();
    const id = await enqueueJob(a, 'shared-name', 'secret', ['a-only']);
    await a.transaction((tx) => {
      tx.hashSet('k', { owner: 'a' });
      tx.setAdd('k', 'a', 1);
      tx.listInsert('k', 'a');
      tx.counterIncrement('k', 7);
    });
    await a.servers.announce('srv', { queues: ['shared-name'], workerCount: 1 });

    await rejectsWithCode(t, b.jobs.get(id), 'JOB_NOT_FOUND');
    await rejectsWithCode(t, b.jobs.setParameter(id, 'x', 'y'), 'JOB_NOT_FOUND');
    await rejectsWithCode(
      t,
      b.transaction((tx) => tx.setJobState(id, { name: 'Deleted' })),
      'JOB_NOT_FOUND',
    );
    t.is(await fetchOrNull(b, ['shared-name'], 100), null);
    t.is(await b.data.hashGetAll('k'), null);
    t.deepEqual(await b.data.setAll('k'), []);
    t.deepEqual(await b.data.listAll('k'), []);
    t.is(await b.data.counterGet('k'), 0);
    t.deepEqual(await b.servers.list(), []);
    t.deepEqual(await b.monitoring.queues(), []);
    t.deepEqual(await b.monitoring.stateCounts(), {});
    await rejectsWithCode(t, b.servers.heartbeat('srv'), 'SERVER_GONE');

    const lockA = await a.locks.acquire('same-lock', { timeoutMs: 0 });
    const lockB = await b.locks.acquire('same-lock', { timeoutMs: 0 });
    await lockA.release();
    await lockB.release();

    const f = await a.queues.fetch(['shared-name']);
    t.is(f.jobId, id);
    await f.ack();
    t.is((await a.jobs.get(id)).state, 'Enqueued');
  });
}
