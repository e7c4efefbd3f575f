import { randomUUID } from 'node:crypto';
import type { Backend } from '../../src/storage/storage.js';
import type { Test } from './harness.js';
import { createEnqueued, delay, enqueueJob, rejectsWithCode } from './helpers.js';
import { RECURRING_SET, SCHEDULE_SET } from '../../src/storage/due-sets.js';

/** The backend's work and due indexes: which namespaces have visible or due work, and one wake-up channel for all of them. */
export function workIndexTests(test: Test, name: string, backend: Backend): void {
  const mine = async (queues: string[], ours: string[]) => (await backend.unitsWithWork(queues)).filter((ns) => ours.includes(ns)).sort();

  test(`${name} work index: a namespace is listed while a queue of its has a visible entry, and only then`, async (t) => {
    const a = `work-a-${randomUUID()}`;
    const b = `work-b-${randomUUID()}`;
    const idle = `work-idle-${randomUUID()}`;
    const ours = [a, b, idle];
    // Data, a scheduled job and a lock, but no queue entry: not work.
    await backend.storage(idle).transaction((tx) => tx.hashSet('h', { f: '1' }));
    await backend.storage(idle).jobs.create({ type: 'x', args: [], queue: 'mail', state: { name: 'Scheduled' } });
    const lock = await backend.storage(idle).locks.acquire('r', { timeoutMs: 0 });
    t.deepEqual(await mine(['mail'], ours), []);

    await enqueueJob(backend.storage(a), 'mail');
    await createEnqueued(backend.storage(b), 'reports');
    t.deepEqual(await mine(['mail'], ours), [a]);
    t.deepEqual(await mine(['reports'], ours), [b]);
    t.deepEqual(await mine(['reports', 'mail'], ours), [a, b].sort());

    // Leased: not visible until the lease lapses; then listed again; acknowledged: gone.
    const leaseEnds = Date.now() + 1_000;
    const f = await backend.storage(a).queues.tryFetch(['mail'], { invisibilityTimeoutMs: 1_000 });
    // The server started the lease somewhere between the call and its answer.
    const leaseEndsAtLatest = Date.now() + 1_000;
    t.truthy(f);
    const whileLeased = await mine(['mail'], ours);
    // Asked while the lease held (the answer came back before it ended): not listed.
    if (Date.now() < leaseEnds) t.deepEqual(whileLeased, []);
    await delay(Math.max(0, leaseEndsAtLatest - Date.now()) + 100);
    t.deepEqual(await mine(['mail'], ours), [a], 'a lapsed lease is visible work');
    const again = await backend.storage(a).queues.tryFetch(['mail'], { invisibilityTimeoutMs: 60_000 });
    t.truthy(again);
    await again!.ack();
    t.deepEqual(await mine(['mail'], ours), []);
    // Requeued: visible again at once.
    await enqueueJob(backend.storage(a), 'mail');
    const r = await backend.storage(a).queues.tryFetch(['mail'], { invisibilityTimeoutMs: 60_000 });
    t.deepEqual(await mine(['mail'], ours), []);
    await r!.requeue();
    t.deepEqual(await mine(['mail'], ours), [a]);
    await (await backend.storage(a).queues.tryFetch(['mail']))!.ack();
    await (await backend.storage(b).queues.tryFetch(['reports']))!.ack();
    t.deepEqual(await mine(['mail', 'reports'], ours), []);
    await lock.release();
  });

  test(`${name} work index: 300 idle namespaces are not listed; one enqueue among them is`, async (t) => {
    const run = randomUUID();
    const names = Array.from({ length: 300 }, (_, i) => `work-many-${run}-${i}`);
    for (const ns of names) {
      // Each has held work once, now done: the index must not keep it.
      await enqueueJob(backend.storage(ns), 'q');
      await (await backend.storage(ns).queues.tryFetch(['q']))!.ack();
    }
    t.deepEqual(await mine(['q'], names), []);
    await enqueueJob(backend.storage(names[137]!), 'q');
    t.deepEqual(await mine(['q'], names), [names[137]!]);
    await (await backend.storage(names[137]!).queues.tryFetch(['q']))!.ack();
  });

  test(`${name} work index: watchWork is called with the namespace of every enqueue and requeue`, async (t) => {
    const a = `work-watch-a-${randomUUID()}`;
    const b = `work-watch-b-${randomUUID()}`;
    const seen: Array<string | null> = [];
    const stop = backend.watchWork((ns) => seen.push(ns));
    try {
      await delay(100); // the channel subscribes
      await enqueueJob(backend.storage(a), 'q');
      await createEnqueued(backend.storage(b), 'q');
      const f = await backend.storage(a).queues.tryFetch(['q'], { invisibilityTimeoutMs: 60_000 });
      const before = seen.filter((ns) => ns === a).length;
      await f!.requeue();
      const deadline = Date.now() + 2_000;
      while (seen.filter((ns) => ns === a).length <= before && Date.now() < deadline) await delay(10);
      t.true(seen.includes(a), 'the enqueue woke it');
      t.true(seen.includes(b), 'the create that enqueues woke it');
      t.true(seen.filter((ns) => ns === a).length > before, 'the requeue woke it');
    } finally {
      stop();
    }
    const n = seen.length;
    await enqueueJob(backend.storage(a), 'q');
    await delay(100);
    t.is(seen.length, n, 'nothing after unsubscribing');
  });

  test(`${name} work index: bad queue lists are refused`, async (t) => {
    await rejectsWithCode(t, backend.unitsWithWork([]), 'INVALID_ARGUMENT');
    await rejectsWithCode(t, backend.unitsWithWork(['a', 'a']), 'INVALID_ARGUMENT');
    await rejectsWithCode(t, backend.unitsWithWork(['bad queue\n']), 'INVALID_ARGUMENT');
  });

  test(`${name} due index: a namespace is listed while a due set holds a member whose time has come`, async (t) => {
    const a = `due-a-${randomUUID()}`;
    const b = `due-b-${randomUUID()}`;
    const other = `due-other-${randomUUID()}`;
    const ours = [a, b, other];
    const listed = async () => (await backend.unitsWithDue()).filter((ns) => ours.includes(ns)).sort();
    // A sorted set of another name is not due work, whatever its scores.
    await backend.storage(other).transaction((tx) => tx.setAdd('leaderboard', 'x', 1));
    // a: scheduled in 1.5 s (room for a loaded machine's calls before it); b: a recurring job due long ago.
    const dueAt = Date.now() + 1_500;
    await backend.storage(a).transaction((tx) => tx.setAdd(SCHEDULE_SET, 'job-1', dueAt));
    await backend.storage(b).transaction((tx) => tx.setAdd(RECURRING_SET, 'nightly', Date.now() - 60_000));
    const early = await listed();
    // Asked before a's time (the answer came back before it): a is not due yet.
    if (Date.now() < dueAt) t.deepEqual(early, [b]);
    await delay(Math.max(0, dueAt - Date.now()) + 50);
    t.deepEqual(await listed(), [a, b].sort(), 'listed once its time has come');
    // Moved on: removed from a, rescheduled later in b.
    await backend.storage(a).transaction((tx) => tx.setRemove(SCHEDULE_SET, 'job-1'));
    await backend.storage(b).transaction((tx) => tx.setAdd(RECURRING_SET, 'nightly', Date.now() + 3_600_000));
    t.deepEqual(await listed(), []);
    // An earlier member added later still counts.
    await backend.storage(b).transaction((tx) => tx.setAdd(RECURRING_SET, 'hourly', Date.now() - 1));
    t.deepEqual(await listed(), [b]);
    await backend.storage(b).transaction((tx) => tx.setRemove(RECURRING_SET, 'hourly'));
    t.deepEqual(await listed(), []);
  });

  test(`${name} due index: 300 namespaces with future members are not listed; one due among them is`, async (t) => {
    const run = randomUUID();
    const names = Array.from({ length: 300 }, (_, i) => `due-many-${run}-${i}`);
    for (const ns of names) await backend.storage(ns).transaction((tx) => tx.setAdd(RECURRING_SET, 'r', Date.now() + 3_600_000));
    const listed = async () => (await backend.unitsWithDue()).filter((ns) => names.includes(ns));
    t.deepEqual(await listed(), []);
    await backend.storage(names[42]!).transaction((tx) => tx.setAdd(SCHEDULE_SET, 'j', Date.now() - 5));
    t.deepEqual(await listed(), [names[42]!]);
  });
}
