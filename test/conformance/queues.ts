import type { Harness, Test } from './harness.js';
import { createEnqueued, delay, enqueueJob, fetchOrNull, rejectsWithCode } from './helpers.js';

export function queueTests(test: Test, h: Harness): void {
  test(`${h.name} queues: FIFO inside a queue`, async (t) => {
    const s = await h.storage();
    const ids: string[] = [];
    for (let i = 0; i < 8; i++) ids.push(await enqueueJob(s, 'fifo'));
    const got: string[] = [];
    for (let i = 0; i < 8; i++) {
      const f = await s.queues.fetch(['fifo']);
      t.is(f.queue, 'fifo');
      t.is(f.deliveries, 1);
      got.push(f.jobId);
      await f.ack();
    }
    t.deepEqual(got, ids);
    t.is(await fetchOrNull(s, ['fifo'], 50), null);
  });

  test(`${h.name} queues: fetches made together take the queues' heads in priority order, then FIFO`, async (t) => {
    // Made in one turn, the fetches can share one round trip, whose rows come back in no order.
    const s = await h.storage();
    const low: string[] = [];
    const high: string[] = [];
    for (let i = 0; i < 12; i++) low.push(await enqueueJob(s, 'together-low'));
    for (let i = 0; i < 12; i++) high.push(await enqueueJob(s, 'together-high'));
    const fetched = await Promise.all(Array.from({ length: 30 }, () => s.queues.tryFetch(['together-high', 'together-low'])));
    t.deepEqual(
      fetched.map((f) => f?.jobId ?? null),
      [...high, ...low, ...Array<null>(6).fill(null)],
    );
    for (const f of fetched) await f?.ack();
  });

  test(`${h.name} queues: the first listed queue with a job wins`, async (t) => {
    const s = await h.storage();
    const low = await enqueueJob(s, 'low');
    const high = await enqueueJob(s, 'high');
    const first = await s.queues.fetch(['high', 'low']);
    t.is(first.jobId, high);
    await first.requeue();
    const reversed = await s.queues.fetch(['low', 'high']);
    t.is(reversed.jobId, low);
    await reversed.ack();
    const last = await s.queues.fetch(['low', 'high']);
    t.is(last.jobId, high);
    await last.ack();
  });

  test.serial(`${h.name} queues: tryFetch takes a visible job at once or returns null without waiting`, async (t) => {
    const s = await h.storage();
    await s.monitoring.queues(); // a lazily opened backend connects (and migrates) here, not in the timed call
    const started = Date.now();
    t.is(await s.queues.tryFetch(['try-a', 'try-b']), null);
    t.true(Date.now() - started < 4_000, 'no wait for a poll interval (5 s or more here) or a wake-up');
    const b = await enqueueJob(s, 'try-b');
    const a = await enqueueJob(s, 'try-a');
    const first = await s.queues.tryFetch(['try-a', 'try-b'], { invisibilityTimeoutMs: 2_000 });
    t.is(first?.jobId, a);
    const second = await s.queues.tryFetch(['try-a', 'try-b']);
    t.is(second?.jobId, b);
    t.is(await s.queues.tryFetch(['try-a', 'try-b']), null, 'both leased');
    await delay(2_300);
    const again = await s.queues.tryFetch(['try-a', 'try-b']);
    t.is(again?.jobId, a, 'the lapsed lease is visible again');
    t.is(again?.deliveries, 2);
    await again!.ack();
    await second!.ack();
    await rejectsWithCode(t, s.queues.tryFetch([]), 'INVALID_ARGUMENT');
  });

  // Serial, like every test here with an upper bound on time: the file's concurrent tests
  // share the event loop (a clean-clone CI run saw a whole file stall 4 s while they ran). The harnesses set fallback polls of 5 s or more, so a lost wake-up
  // cannot hide behind a poll: it fails the 2.5 s bound, or the 10 s signal.
  test.serial(`${h.name} queues: a waiting fetch wakes up promptly when a job is enqueued`, async (t) => {
    const s = await h.storage();
    const pending = s.queues.fetch(['wake'], { signal: AbortSignal.timeout(10_000) });
    await delay(100);
    const id = await enqueueJob(s, 'wake');
    const enqueued = Date.now();
    const f = await pending;
    t.is(f.jobId, id);
    t.true(Date.now() - enqueued < 2_500, `woke ${Date.now() - enqueued} ms after the enqueue`);
    await f.ack();
  });

  // A wake-up goes to one waiter, not all of them; these fail (at the 2.5 s bound, far under the
  // harness's poll) if one is ever lost: a job left behind while a waiter sleeps.
  test.serial(`${h.name} queues: 32 idle waiting fetches, 32 jobs enqueued one at a time: each job reaches a waiter at once`, async (t) => {
    const s = await h.storage();
    const stop = new AbortController();
    const got: string[] = [];
    const arrived: Array<() => void> = [];
    const waiters = Array.from({ length: 32 }, async () => {
      const f = await s.queues.fetch(['one-by-one'], { signal: stop.signal });
      got.push(f.jobId);
      arrived.shift()?.();
      await f.ack();
    });
    await delay(100);
    for (let i = 0; i < 32; i++) {
      const picked = new Promise<void>((r) => arrived.push(r));
      await enqueueJob(s, 'one-by-one');
      const timedOut = await Promise.race([picked.then(() => false), delay(2_500).then(() => true)]);
      t.false(timedOut, `job ${i + 1} was not fetched within 2.5 s`);
      if (timedOut) break;
    }
    stop.abort();
    await Promise.allSettled(waiters);
    t.is(new Set(got).size, 32);
  });

  test.serial(`${h.name} queues: a burst of 64 jobs in one commit reaches all 32 waiting fetches`, async (t) => {
    const s = await h.storage();
    const ids = await Promise.all(Array.from({ length: 64 }, () => s.jobs.create({ type: 'burst', args: [], queue: 'burst' })));
    const waiters = Array.from({ length: 32 }, () => fetchOrNull(s, ['burst'], 2_500));
    await delay(100);
    await s.transaction((tx) => {
      for (const id of ids) tx.enqueue('burst', id);
    });
    const got = await Promise.all(waiters);
    t.deepEqual(got.filter((f) => f === null).length, 0, 'every waiter got a job within 2.5 s');
    t.is(new Set(got.map((f) => f?.jobId)).size, 32);
    t.is((await s.monitoring.queues())[0]?.waiting, 32);
  });

  test.serial(`${h.name} queues: fetch on empty queues rejects when its signal aborts`, async (t) => {
    const s = await h.storage();
    const started = Date.now();
    // The signal's reason is a DOMException, which ava's throwsAsync does not accept as an error.
    const reasonOf = (p: Promise<unknown>) =>
      p.then(
        () => undefined,
        (e: unknown) => e as { name?: string },
      );
    t.is((await reasonOf(s.queues.fetch(['empty'], { signal: AbortSignal.timeout(150) })))?.name, 'TimeoutError');
    const took = Date.now() - started;
    t.true(took >= 140 && took < 4_000, `took ${took} ms (the fallback poll is 5 s or more)`);
    const aborted = new AbortController();
    aborted.abort();
    t.is((await reasonOf(s.queues.fetch(['empty'], { signal: aborted.signal })))?.name, 'AbortError');
  });

  test.serial(`${h.name} queues: many consumers sharing one stop signal fetch normally, and aborting it releases every waiter`, async (t) => {
    const s = await h.storage();
    const stop = new AbortController();
    const got: string[] = [];
    const consumers = Array.from({ length: 15 }, async () => {
      for (;;) {
        try {
          const f = await s.queues.fetch(['shared-stop'], { signal: stop.signal });
          got.push(f.jobId);
          await f.ack();
        } catch (err) {
          if (stop.signal.aborted) return 'stopped';
          throw err;
        }
      }
    });
    const ids: string[] = [];
    for (let i = 0; i < 30; i++) ids.push(await enqueueJob(s, 'shared-stop'));
    while (got.length < 30) await delay(10);
    stop.abort();
    const started = Date.now();
    t.deepEqual(await Promise.all(consumers), Array(15).fill('stopped'));
    t.true(Date.now() - started < 4_000, 'aborting wakes the waiters, they do not sit out a poll');
    t.deepEqual([...got].sort(), [...ids].sort());
  });

  test(`${h.name} queues: 1,000 jobs, 20 concurrent consumers, each job delivered exactly once`, async (t) => {
    const s = await h.storage();
    const ids = new Set<string>();
    // Producers run concurrently with consumers, so fetch races enqueue as well as other fetches.
    // Half enqueue with a transaction, half in the creating write itself: both paths race here.
    const producers = Array.from({ length: 4 }, async (_, p) => {
      for (let i = 0; i < 250; i++) ids.add(p % 2 ? await enqueueJob(s, 'many') : await createEnqueued(s, 'many'));
    });
    const seen = new Map<string, number>();
    const withoutJob: string[] = [];
    let done = false;
    // Half the consumers ask for each job's record with the fetch.
    const consumers = Array.from({ length: 20 }, async (_, c) => {
      const withJob = c % 2 === 0;
      for (;;) {
        const f = await fetchOrNull(s, ['many'], done ? 200 : 2_000, undefined, withJob);
        if (!f) {
          if (done) return;
          continue;
        }
        seen.set(f.jobId, (seen.get(f.jobId) ?? 0) + 1);
        // A job enqueued while the fetch ran must still come with its record: none of these is gone.
        if (withJob ? f.job?.id !== f.jobId : f.job !== undefined) withoutJob.push(f.jobId);
        await f.ack();
      }
    });
    await Promise.all(producers);
    done = true;
    await Promise.all(consumers);
    t.is(ids.size, 1000);
    t.is(seen.size, 1000);
    t.deepEqual(
      [...seen.values()].filter((n) => n !== 1),
      [],
    );
    t.deepEqual(withoutJob, [], 'every fetch that asked for records got them; the others none');
    for (const id of ids) t.true(seen.has(id));
  });

  test.serial(`${h.name} queues: an unacknowledged job is re-delivered after the invisibility timeout`, async (t) => {
    const s = await h.storage();
    const id = await enqueueJob(s, 'redeliver');
    const first = await s.queues.fetch(['redeliver'], { invisibilityTimeoutMs: 1_000 });
    t.is(first.jobId, id);
    t.is(await fetchOrNull(s, ['redeliver'], 50), null, 'invisible while leased');
    const started = Date.now();
    // Waits while the lease is live, and must wake by itself when it lapses.
    const second = await s.queues.fetch(['redeliver'], { signal: AbortSignal.timeout(8_000), invisibilityTimeoutMs: 5_000 });
    t.is(second.jobId, id);
    t.is(second.deliveries, 2);
    t.true(Date.now() - started < 4_500, 'woke when the lease lapsed, not at the next poll');
    await rejectsWithCode(t, first.ack(), 'LEASE_LOST');
    await rejectsWithCode(t, first.extend(), 'LEASE_LOST');
    await rejectsWithCode(t, first.requeue(), 'LEASE_LOST');
    await second.ack();
    t.deepEqual(await s.monitoring.queues(), []);
  });

  test(`${h.name} queues: two leases of one entry acknowledged at once: only the current one is removed`, async (t) => {
    const s = await h.storage();
    const id = await enqueueJob(s, 'twice');
    await enqueueJob(s, 'other');
    const old = await s.queues.fetch(['twice'], { invisibilityTimeoutMs: 100 });
    await delay(250);
    const current = await s.queues.fetch(['twice'], { invisibilityTimeoutMs: 60_000 });
    t.is(current.jobId, id);
    const other = await s.queues.fetch(['other']);
    // The first ack goes out alone; the two made while it is in flight can share a round trip,
    // and each must still be judged by its own lease.
    const [, a, b] = await Promise.allSettled([other.ack(), old.ack(), current.ack()]);
    t.is(a.status, 'rejected');
    t.is((a as PromiseRejectedResult).reason?.code, 'LEASE_LOST');
    t.is(b.status, 'fulfilled');
    t.deepEqual(await s.monitoring.queues(), []);
  });

  test(`${h.name} queues: a stale lease acknowledged beside another entry's lease removes neither entry's current lease`, async (t) => {
    // Leases numbered per entry (a delivery count) repeat across entries: 'cross-a' is leased now
    // under its second delivery, and 'cross-b' is acknowledged under its own second delivery in the
    // same round trip as 'cross-a''s first. Only pairs of entry and lease may match.
    const s = await h.storage();
    const a = await enqueueJob(s, 'cross-a');
    const b = await enqueueJob(s, 'cross-b');
    await enqueueJob(s, 'cross-other');
    const staleA = await s.queues.fetch(['cross-a'], { invisibilityTimeoutMs: 100 });
    await s.queues.fetch(['cross-b'], { invisibilityTimeoutMs: 100 });
    await delay(250);
    const currentA = await s.queues.fetch(['cross-a'], { invisibilityTimeoutMs: 60_000 });
    const currentB = await s.queues.fetch(['cross-b'], { invisibilityTimeoutMs: 60_000 });
    t.deepEqual([currentA.jobId, currentA.deliveries, currentB.jobId, currentB.deliveries], [a, 2, b, 2]);
    const other = await s.queues.fetch(['cross-other']);
    // The first ack goes out alone; the two made while it is in flight can share a round trip.
    const [, stale, current] = await Promise.allSettled([other.ack(), staleA.ack(), currentB.ack()]);
    t.is(stale.status, 'rejected');
    t.is((stale as PromiseRejectedResult).reason?.code, 'LEASE_LOST');
    t.is(current.status, 'fulfilled');
    t.deepEqual(await s.monitoring.queues(), [{ name: 'cross-a', waiting: 0, inFlight: 1 }], "cross-a's current lease holds");
    await currentA.ack();
    t.deepEqual(await s.monitoring.queues(), []);
  });

  test(`${h.name} queues: extend keeps a job invisible past its original timeout`, async (t) => {
    const s = await h.storage();
    await enqueueJob(s, 'extend');
    const f = await s.queues.fetch(['extend'], { invisibilityTimeoutMs: 1_000 });
    const keepAlive = setInterval(() => void f.extend(1_000).catch(() => {}), 250);
    try {
      t.is(await fetchOrNull(s, ['extend'], 2_500), null);
    } finally {
      clearInterval(keepAlive);
    }
    await f.ack();
    t.is(await fetchOrNull(s, ['extend'], 300), null);
  });

  test(`${h.name} queues: requeued and re-delivered jobs keep their original place`, async (t) => {
    const s = await h.storage();
    const a = await enqueueJob(s, 'place');
    const b = await enqueueJob(s, 'place');
    const fa = await s.queues.fetch(['place']);
    t.is(fa.jobId, a);
    await fa.requeue();
    const again = await s.queues.fetch(['place'], { invisibilityTimeoutMs: 100 });
    t.is(again.jobId, a, 'requeued job is ahead of later jobs');
    await delay(250);
    const third = await s.queues.fetch(['place']);
    t.is(third.jobId, a, 'expired lease keeps its place');
    t.is(third.deliveries, 3);
    await third.ack();
    const fb = await s.queues.fetch(['place']);
    t.is(fb.jobId, b);
    await fb.ack();
  });
  test(`${h.name} queues: a fetch with withJob carries the job as it was when fetched`, async (t) => {
    const s = await h.storage();
    const id = await s.jobs.create({
      type: 'report.build',
      args: [{ month: '2026-11' }, 3],
      queue: 'carry',
      parameters: { culture: 'fr' },
      state: { name: 'Enqueued', data: { queue: 'carry' } },
      enqueue: true,
    });
    const expected = await s.jobs.get(id);
    const plain = (await s.queues.fetch(['carry'], { invisibilityTimeoutMs: 1 }))!;
    t.is(plain.job, undefined, 'not asked for: not read');
    await delay(20);
    const f = (await s.queues.fetch(['carry'], { withJob: true }))!;
    t.is(f.jobId, id);
    t.deepEqual(f.job, expected);
    t.is(f.job!.id, f.jobId, 'the record carries the same id the caller uses');
    await s.transaction((tx) => tx.setJobState(id, { name: 'Processing' }));
    t.is(f.job!.state, 'Enqueued', 'a snapshot of the fetch, not a live view');
    await f.ack();
  });

  test(`${h.name} queues: an entry whose job has expired is handed out with job null`, async (t) => {
    const s = await h.storage();
    // Enqueued in the creating write: a separate enqueue could come after the job had already expired.
    const id = await s.jobs.create({ type: 't', args: [], queue: 'gone', expireInMs: 300, enqueue: true });
    await delay(600);
    await rejectsWithCode(t, s.jobs.get(id), 'JOB_NOT_FOUND');
    const f = await s.queues.tryFetch(['gone'], { withJob: true });
    t.is(f?.jobId, id);
    t.is(f!.job, null);
    await f!.ack();
  });
}
