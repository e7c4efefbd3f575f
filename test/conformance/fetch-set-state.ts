// FetchOptions.setState: a fetch that marks its jobs (Processing, for a worker) in the lease's own round trip.
import type { FetchedJob, FetchOptions } from '../../src/storage/queue.js';
import type { Harness, Test } from './harness.js';
import { createEnqueued, delay, rejectsWithCode } from './helpers.js';

export function fetchSetStateTests(test: Test, h: Harness): void {
  const processing = { state: { name: 'Processing', reason: 'picked up', data: { serverId: 's-1' } }, from: ['Enqueued', 'Processing'] };

  test(`${h.name} queues: setState marks each fetched job in a from state, with the lease; others are handed out unchanged`, async (t) => {
    const s = await h.storage();
    const ready = await createEnqueued(s, 'mark');
    const deleted = await createEnqueued(s, 'mark');
    await s.transaction((tx) => tx.setJobState(deleted, { name: 'Deleted' }));
    const stateless = await s.jobs.create({ type: 't', args: [], queue: 'mark' });
    await s.transaction((tx) => tx.enqueue('mark', stateless));
    const before = { deleted: await s.jobs.history(deleted), stateless: await s.jobs.history(stateless) };

    const got = new Map<string, FetchedJob>();
    for (let i = 0; i < 3; i++) {
      const f = (await s.queues.tryFetch(['mark'], { withJob: true, setState: processing }))!;
      got.set(f.jobId, f);
    }
    const marked = got.get(ready)!.job!;
    t.is(marked.state, 'Processing');
    t.is(marked.stateReason, 'picked up');
    t.deepEqual(marked.stateData, { serverId: 's-1' });
    t.deepEqual(await s.jobs.get(ready), marked, 'the handed-out record is the stored job after the change');
    const history = await s.jobs.history(ready);
    t.deepEqual(
      history.map((st) => st.name),
      ['Enqueued', 'Processing'],
    );
    t.deepEqual(history[1]!.data, { serverId: 's-1' });

    t.is(got.get(deleted)!.job!.state, 'Deleted');
    t.deepEqual(await s.jobs.history(deleted), before.deleted);
    t.is(got.get(stateless)!.job!.state, null);
    t.deepEqual(await s.jobs.history(stateless), before.stateless);
    t.deepEqual(await s.monitoring.stateCounts(), { Processing: 1, Deleted: 1 });
    for (const f of got.values()) await f.ack();
  });

  test(`${h.name} queues: a setState object changed between fetches is read anew; a frozen one gives the same result as a fresh copy`, async (t) => {
    const s = await h.storage();
    for (let i = 0; i < 3; i++) await createEnqueued(s, 'again');
    const change = { state: { name: 'Processing', data: { serverId: 'first' } }, from: ['Enqueued'] };
    const first = (await s.queues.tryFetch(['again'], { withJob: true, setState: change }))!;
    change.state.data.serverId = 'second';
    change.from.push('Processing');
    const second = (await s.queues.tryFetch(['again'], { withJob: true, setState: change }))!;
    const frozen = Object.freeze({
      state: Object.freeze({ name: 'Processing', data: Object.freeze({ serverId: 'third' }) }),
      from: Object.freeze(['Enqueued']),
    });
    const third = (await s.queues.tryFetch(Object.freeze(['again']), { withJob: true, setState: frozen }))!;
    t.deepEqual(
      [first, second, third].map((f) => f.job!.stateData['serverId']),
      ['first', 'second', 'third'],
    );
    // A frozen but bad change is refused every time, not remembered.
    const bad = Object.freeze({ state: Object.freeze({ name: '' }), from: Object.freeze(['Enqueued']) });
    for (let i = 0; i < 2; i++) await rejectsWithCode(t, s.queues.tryFetch(['again'], { withJob: true, setState: bad }), 'INVALID_ARGUMENT');
    for (const f of [first, second, third]) await f.ack();
  });

  test(`${h.name} queues: one frozen options object serves each queue list it is used with; a frozen bad one is refused every time`, async (t) => {
    const s = await h.storage();
    const inA = await createEnqueued(s, 'spec-a');
    const inB = await createEnqueued(s, 'spec-b');
    const setState = Object.freeze({
      state: Object.freeze({ name: 'Processing', data: Object.freeze({ serverId: 's-1' }) }),
      from: Object.freeze(['Enqueued']),
    });
    // Deeply frozen, as a JobServer's are: storage may then check them once for all fetches.
    const options = Object.freeze({ withJob: true, invisibilityTimeoutMs: 60_000, setState });
    const [a, b] = [Object.freeze(['spec-a']), Object.freeze(['spec-b'])];
    const fromB = (await s.queues.tryFetch(b, options))!;
    const fromA = (await s.queues.tryFetch(a, options))!;
    t.deepEqual([fromA.jobId, fromB.jobId], [inA, inB], 'each fetch reads its own queue list, not the first one used with these options');
    t.is(await s.queues.tryFetch(a, options), null);
    t.is(await s.queues.tryFetch(b, options), null);
    const bad = Object.freeze({ withJob: true, invisibilityTimeoutMs: 0 });
    for (let i = 0; i < 2; i++) await rejectsWithCode(t, s.queues.tryFetch(a, bad), 'INVALID_ARGUMENT');
    for (const f of [fromA, fromB]) await f.ack();
  });

  test(`${h.name} queues: a re-delivered job left Processing takes the state again; one that expired comes with job null`, async (t) => {
    const s = await h.storage();
    const id = await createEnqueued(s, 'again');
    const first = (await s.queues.tryFetch(['again'], { withJob: true, setState: processing, invisibilityTimeoutMs: 50 }))!;
    await delay(100);
    const second = (await s.queues.tryFetch(['again'], {
      withJob: true,
      setState: { ...processing, state: { name: 'Processing', data: { serverId: 's-2' } } },
    }))!;
    t.is(second.jobId, first.jobId);
    t.deepEqual(second.job!.stateData, { serverId: 's-2' });
    t.deepEqual(
      (await s.jobs.history(id)).map((st) => st.data['serverId'] ?? null),
      [null, 's-1', 's-2'],
    );
    await second.ack();

    const gone = await s.jobs.create({ type: 't', args: [], queue: 'again', expireInMs: 300, state: { name: 'Enqueued' }, enqueue: true });
    await delay(600);
    const f = (await s.queues.tryFetch(['again'], { withJob: true, setState: processing }))!;
    t.is(f.jobId, gone);
    t.is(f.job, null);
    await f.ack();
  });

  test(`${h.name} queues: a bad setState is refused with InvalidArgumentError and leases nothing`, async (t) => {
    const s = await h.storage();
    const id = await createEnqueued(s, 'bad-mark');
    const bad: unknown[] = [
      { withJob: false, setState: processing },
      { setState: processing },
      { withJob: true, setState: null },
      { withJob: true, setState: { state: { name: 'Processing' }, from: [] } },
      { withJob: true, setState: { state: { name: 'Processing' }, from: 'Enqueued' } },
      { withJob: true, setState: { state: { name: 'Processing' }, from: Array.from({ length: 17 }, (_, i) => `s${i}`) } },
      { withJob: true, setState: { state: { name: 'Processing' }, from: [''] } },
      { withJob: true, setState: { state: {}, from: ['Enqueued'] } },
      { withJob: true, setState: { state: { name: 'Processing', data: { n: 1 } }, from: ['Enqueued'] } },
      { withJob: true, setState: { from: ['Enqueued'] } },
    ];
    for (const options of bad) {
      await rejectsWithCode(t, s.queues.tryFetch(['bad-mark'], options as FetchOptions), 'INVALID_ARGUMENT');
      await rejectsWithCode(t, s.queues.fetch(['bad-mark'], options as FetchOptions), 'INVALID_ARGUMENT');
    }
    t.deepEqual(await s.monitoring.queues(), [{ name: 'bad-mark', waiting: 1, inFlight: 0 }]);
    t.deepEqual(
      (await s.jobs.history(id)).map((st) => st.name),
      ['Enqueued'],
    );
  });

  test(`${h.name} queues: 400 jobs, 16 consumers fetching with setState: each job is marked exactly once`, async (t) => {
    const s = await h.storage();
    const ids = await Promise.all(Array.from({ length: 400 }, () => createEnqueued(s, 'mark-race')));
    const marks = new Map<string, number>();
    const consumers = Array.from({ length: 16 }, async () => {
      for (;;) {
        const f = await s.queues.tryFetch(['mark-race'], { withJob: true, setState: processing });
        if (!f) return;
        if (f.job?.state === 'Processing') marks.set(f.jobId, (marks.get(f.jobId) ?? 0) + 1);
        await f.ack();
      }
    });
    await Promise.all(consumers);
    t.is(marks.size, 400);
    t.deepEqual(
      [...marks.values()].filter((n) => n !== 1),
      [],
    );
    const histories = await Promise.all(ids.map((id) => s.jobs.history(id)));
    t.deepEqual(histories.filter((hs) => hs.map((st) => st.name).join() !== 'Enqueued,Processing').length, 0, 'one Processing entry per job');
    t.deepEqual(await s.monitoring.stateCounts(), { Processing: 400 });
  });
}
