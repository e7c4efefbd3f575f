// WriteTransaction.removeFromQueue: a fetched job acknowledged by a transaction, atomically with its other writes.
import type { Harness, Test } from './harness.js';
import { createEnqueued, delay, rejectsWithCode } from './helpers.js';

export function removeFromQueueTests(test: Test, h: Harness): void {
  test(`${h.name} transactions: removeFromQueue acknowledges the fetched job in the same commit as the outcome`, async (t) => {
    const s = await h.storage();
    const id = await createEnqueued(s, 'rq');
    const other = await createEnqueued(s, 'rq');
    const f = (await s.queues.tryFetch(['rq']))!;
    t.is(f.jobId, id);
    await s.transaction((tx) => {
      tx.setJobState(id, { name: 'Succeeded' });
      tx.removeFromQueue(f);
    });
    t.is((await s.jobs.get(id)).state, 'Succeeded');
    t.deepEqual(await s.monitoring.queues(), [{ name: 'rq', waiting: 1, inFlight: 0 }], 'the entry is gone, the other job still waits');
    await rejectsWithCode(t, f.ack(), 'LEASE_LOST');
    t.is((await s.queues.tryFetch(['rq']))?.jobId, other);
  });

  test(`${h.name} transactions: removeFromQueue of a lost lease fails the whole commit with LeaseLostError, writing nothing`, async (t) => {
    const s = await h.storage();
    const id = await createEnqueued(s, 'rq-lost');
    const first = (await s.queues.tryFetch(['rq-lost'], { invisibilityTimeoutMs: 50 }))!;
    await delay(100);
    const second = (await s.queues.tryFetch(['rq-lost']))!;
    t.is(second.jobId, id);
    await rejectsWithCode(
      t,
      s.transaction((tx) => {
        tx.setJobState(id, { name: 'Succeeded' });
        tx.hashSet('written-with-the-lost-ack', { a: '1' });
        tx.removeFromQueue(first);
      }),
      'LEASE_LOST',
    );
    t.is((await s.jobs.get(id)).state, 'Enqueued');
    t.is(await s.data.hashGetAll('written-with-the-lost-ack'), null);
    t.deepEqual(await s.monitoring.queues(), [{ name: 'rq-lost', waiting: 0, inFlight: 1 }], 'the live delivery keeps its entry');
    // Named twice in one transaction: the second removal finds it gone, so nothing is written.
    await rejectsWithCode(
      t,
      s.transaction((tx) => {
        tx.hashSet('written-with-a-double-ack', { a: '1' });
        tx.removeFromQueue(second);
        tx.removeFromQueue(second);
      }),
      'LEASE_LOST',
    );
    t.is(await s.data.hashGetAll('written-with-a-double-ack'), null);
    await second.ack();
  });

  test(`${h.name} transactions: jobs deleted (expired with 0 ms) with their removals: a lost lease or a missing job fails the whole commit`, async (t) => {
    // A worker's outcomes under retentionMs 0 are such a transaction (Postgres: one call that
    // deletes the jobs by id, 0025-commit-deleting.sql).
    const s = await h.storage();
    const id = await createEnqueued(s, 'rq-del');
    const other = await createEnqueued(s, 'rq-del');
    const stale = (await s.queues.tryFetch(['rq-del'], { invisibilityTimeoutMs: 50 }))!;
    await delay(100);
    const live = (await s.queues.tryFetch(['rq-del']))!;
    const last = (await s.queues.tryFetch(['rq-del']))!;
    t.deepEqual([stale.jobId, live.jobId, last.jobId], [id, id, other]);
    const outcome = (jobId: string, fetched: typeof live, n: number) =>
      s.transaction((tx) => {
        tx.expireJob(jobId, 0);
        tx.counterIncrement('stats:deleted', n);
        tx.removeFromQueue(fetched);
      });
    await rejectsWithCode(t, outcome(id, stale, 1), 'LEASE_LOST');
    t.is((await s.jobs.get(id)).state, 'Enqueued', 'not deleted with a lost lease');
    t.is(await s.data.counterGet('stats:deleted'), 0);
    // The job gone meanwhile (deleted by another commit): its delivery keeps its lease.
    await s.transaction((tx) => tx.expireJob(other, 0));
    await rejectsWithCode(t, outcome(other, last, 10), 'JOB_NOT_FOUND');
    t.is(await s.data.counterGet('stats:deleted'), 0);
    t.deepEqual(await s.monitoring.queues(), [{ name: 'rq-del', waiting: 0, inFlight: 2 }], 'both live deliveries keep their entries');
    await outcome(id, live, 100);
    await rejectsWithCode(t, s.jobs.get(id), 'JOB_NOT_FOUND');
    t.is(await s.data.counterGet('stats:deleted'), 100);
    await rejectsWithCode(t, live.ack(), 'LEASE_LOST');
    await last.ack();
    t.deepEqual(await s.monitoring.queues(), [], 'no entry left');
  });

  test(`${h.name} transactions: removals from two queues where one lease is lost write nothing; the other delivery keeps its lease`, async (t) => {
    const s = await h.storage();
    const kept = await createEnqueued(s, 'rq-two-a');
    const lapsed = await createEnqueued(s, 'rq-two-b');
    const live = (await s.queues.tryFetch(['rq-two-a']))!;
    const stale = (await s.queues.tryFetch(['rq-two-b'], { invisibilityTimeoutMs: 50 }))!;
    await delay(100);
    const again = (await s.queues.tryFetch(['rq-two-b']))!;
    t.is(again.jobId, lapsed);
    for (const order of [
      [live, stale],
      [stale, live],
    ]) {
      await rejectsWithCode(
        t,
        s.transaction((tx) => {
          tx.setJobState(kept, { name: 'Succeeded' });
          for (const f of order) tx.removeFromQueue(f!);
        }),
        'LEASE_LOST',
      );
    }
    t.is((await s.jobs.get(kept)).state, 'Enqueued');
    t.deepEqual(await s.monitoring.queues(), [
      { name: 'rq-two-a', waiting: 0, inFlight: 1 },
      { name: 'rq-two-b', waiting: 0, inFlight: 1 },
    ]);
    // Both leases still hold: each acknowledges once.
    await s.transaction((tx) => {
      tx.removeFromQueue(live);
      tx.removeFromQueue(again);
    });
    t.deepEqual(await s.monitoring.queues(), []);
    await rejectsWithCode(t, live.ack(), 'LEASE_LOST');
  });

  test(`${h.name} transactions: removeFromQueue refuses what is not a job fetched from this storage`, async (t) => {
    const [s, other] = await h.pair();
    await createEnqueued(other, 'rq-foreign');
    const foreign = (await other.queues.tryFetch(['rq-foreign']))!;
    for (const bad of [null, undefined, {}, { jobId: 'x', queue: 'q' }, foreign]) {
      await rejectsWithCode(
        t,
        s.transaction((tx) => {
          tx.hashSet('written-before-the-bad-one', { a: '1' });
          tx.removeFromQueue(bad as never);
        }),
        'INVALID_ARGUMENT',
      );
    }
    t.is(await s.data.hashGetAll('written-before-the-bad-one'), null);
    t.deepEqual(await other.monitoring.queues(), [{ name: 'rq-foreign', waiting: 0, inFlight: 1 }]);
    await foreign.ack();
  });

  test(`${h.name} transactions: 400 jobs, 16 consumers each finishing with one transaction: every job once, queue empty`, async (t) => {
    const s = await h.storage();
    const ids = await Promise.all(Array.from({ length: 400 }, () => createEnqueued(s, 'rq-race')));
    const done = new Map<string, number>();
    const lost: string[] = [];
    const consumers = Array.from({ length: 16 }, async () => {
      for (;;) {
        const f = await s.queues.tryFetch(['rq-race']);
        if (!f) return;
        try {
          await s.transaction((tx) => {
            tx.setJobState(f.jobId, { name: 'Succeeded' });
            tx.counterIncrement('rq-race-done');
            tx.removeFromQueue(f);
          });
          done.set(f.jobId, (done.get(f.jobId) ?? 0) + 1);
        } catch (err) {
          lost.push(String((err as Error).message));
        }
      }
    });
    await Promise.all(consumers);
    t.deepEqual(lost, []);
    t.is(done.size, 400);
    t.deepEqual(
      [...done.values()].filter((n) => n !== 1),
      [],
    );
    t.is(await s.data.counterGet('rq-race-done'), 400);
    t.deepEqual(await s.monitoring.queues(), []);
    t.deepEqual(await s.monitoring.stateCounts(), { Succeeded: 400 });
    t.is(ids.length, 400);
  });

  test(`${h.name} transactions: among concurrent commits, the one with a lost lease fails alone`, async (t) => {
    const s = await h.storage();
    const stale = await createEnqueued(s, 'rq-group');
    const first = (await s.queues.tryFetch(['rq-group'], { invisibilityTimeoutMs: 50 }))!;
    await delay(100);
    const again = (await s.queues.tryFetch(['rq-group']))!;
    t.is(again.jobId, stale);
    const ids = await Promise.all(Array.from({ length: 20 }, () => createEnqueued(s, 'rq-group')));
    const fetched = await Promise.all(ids.map(() => s.queues.tryFetch(['rq-group'])));
    const results = await Promise.allSettled([
      s.transaction((tx) => tx.removeFromQueue(first)),
      ...fetched.map((f) =>
        s.transaction((tx) => {
          tx.setJobState(f!.jobId, { name: 'Succeeded' });
          tx.removeFromQueue(f!);
        }),
      ),
    ]);
    t.is(results[0]!.status, 'rejected');
    t.is(((results[0] as PromiseRejectedResult).reason as { code?: string }).code, 'LEASE_LOST');
    t.deepEqual(results.slice(1).filter((r) => r.status !== 'fulfilled').length, 0);
    t.deepEqual(await s.monitoring.queues(), [{ name: 'rq-group', waiting: 0, inFlight: 1 }]);
    await again.ack();
  });
}
