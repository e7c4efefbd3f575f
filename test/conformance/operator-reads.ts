import { randomUUID } from 'node:crypto';
import type { Backend } from '../../src/storage/storage.js';
import { RECURRING_SET } from '../../src/storage/due-sets.js';
import type { Test } from './harness.js';
import { enqueueJob, rejectsWithCode } from './helpers.js';

/** Reads across every namespace of a backend, one call each, for operator views (the dashboard). */
export function operatorReadTests(test: Test, name: string, backend: Backend): void {
  test(`${name} operator reads: namespaces() lists those holding jobs or due entries, not those holding only data`, async (t) => {
    const run = randomUUID();
    const [queued, scheduled, recurring, dataOnly] = ['queued', 'scheduled', 'recurring', 'data'].map((k) => `ops-${k}-${run}`) as [
      string,
      string,
      string,
      string,
    ];
    await enqueueJob(backend.storage(queued), 'mail');
    await backend.storage(scheduled).jobs.create({ type: 'x', args: [], queue: 'mail', state: { name: 'Scheduled' } });
    await backend.storage(recurring).transaction((tx) => tx.setAdd(RECURRING_SET, 'nightly', Date.now() + 60_000));
    await backend.storage(dataOnly).transaction((tx) => tx.hashSet('h', { f: '1' }));
    const listed = new Set(await backend.namespaces());
    t.true(listed.has(queued));
    t.true(listed.has(scheduled));
    t.true(listed.has(recurring));
    t.false(listed.has(dataOnly));
  });

  test(`${name} operator reads: stateCountsOf() equals each namespace's own stateCounts, in one call`, async (t) => {
    const run = randomUUID();
    const a = `ops-counts-a-${run}`;
    const b = `ops-counts-b-${run}`;
    const empty = `ops-counts-empty-${run}`;
    for (let i = 0; i < 3; i++) await enqueueJob(backend.storage(a), 'q');
    await backend.storage(a).jobs.create({ type: 'x', args: [], queue: 'q', state: { name: 'Failed' } });
    await enqueueJob(backend.storage(b), 'q');
    const counts = await backend.stateCountsOf([a, b, empty]);
    t.deepEqual([...counts.keys()].sort(), [a, b, empty].sort());
    t.deepEqual(counts.get(a), { Enqueued: 3, Failed: 1 });
    t.deepEqual(counts.get(a), await backend.storage(a).monitoring.stateCounts());
    t.deepEqual(counts.get(b), { Enqueued: 1 });
    t.deepEqual(counts.get(empty), {});
    t.deepEqual([...(await backend.stateCountsOf([])).keys()], []);
  });

  test(`${name} operator reads: counterSums() adds a counter over every namespace; a missing one is 0`, async (t) => {
    const run = randomUUID();
    const key = `ops-sum-${run}`;
    const other = `ops-sum-other-${run}`;
    await backend.storage(`ops-sum-a-${run}`).transaction((tx) => tx.counterIncrement(key, 2));
    await enqueueJob(backend.storage(`ops-sum-b-${run}`), 'q'); // Redis sums over the namespaces it lists
    await backend.storage(`ops-sum-b-${run}`).transaction((tx) => {
      tx.counterIncrement(key, 3);
      tx.counterIncrement(other, 7);
    });
    await enqueueJob(backend.storage(`ops-sum-a-${run}`), 'q');
    t.deepEqual(await backend.counterSums([key, other, `ops-missing-${run}`]), { [key]: 5, [other]: 7, [`ops-missing-${run}`]: 0 });
    t.deepEqual(await backend.counterSums([]), {});
  });

  test(`${name} operator reads: counterSums() and queueDepths() cover 1,100 namespaces (a backend may read them in slices)`, async (t) => {
    const run = randomUUID();
    const key = `ops-many-${run}`;
    const names = Array.from({ length: 1_100 }, (_, i) => `ops-many-${run}-${i}`);
    for (let i = 0; i < names.length; i += 100) {
      await Promise.all(
        names.slice(i, i + 100).map(async (ns, j) => {
          await enqueueJob(backend.storage(ns), 'q');
          await backend.storage(ns).transaction((tx) => tx.counterIncrement(key, i + j + 1));
        }),
      );
    }
    t.deepEqual(await backend.counterSums([key]), { [key]: (1_100 * 1_101) / 2 });
    const depths = (await backend.queueDepths()).filter((d) => d.namespace.startsWith(`ops-many-${run}-`));
    t.is(depths.length, 1_100);
    t.true(depths.every((d) => d.queue === 'q' && d.waiting === 1 && d.inFlight === 0));
  });

  test(`${name} operator reads: bad input is refused`, async (t) => {
    await rejectsWithCode(t, () => backend.stateCountsOf('ns' as never), 'INVALID_ARGUMENT');
    await rejectsWithCode(t, () => backend.stateCountsOf(['bad namespace']), 'INVALID_ARGUMENT');
    await rejectsWithCode(t, () => backend.stateCountsOf([42 as never]), 'INVALID_ARGUMENT');
    await rejectsWithCode(t, () => backend.counterSums(['']), 'INVALID_ARGUMENT');
    await rejectsWithCode(t, () => backend.counterSums(null as never), 'INVALID_ARGUMENT');
  });
}
