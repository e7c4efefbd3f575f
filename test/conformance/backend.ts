import { randomUUID } from 'node:crypto';
import type { Backend } from '../../src/storage/storage.js';
import type { Test } from './harness.js';
import { enqueueJob } from './helpers.js';

/** Backend-level behaviour (not part of a namespace's Storage). */
export function backendTests(test: Test, name: string, backend: Backend): void {
  test(`${name} backend: queueDepths lists every namespace's queues in one call`, async (t) => {
    const a = `depth-a-${randomUUID()}`;
    const b = `depth-b-${randomUUID()}`;
    for (let i = 0; i < 3; i++) await enqueueJob(backend.storage(a), 'mail');
    await enqueueJob(backend.storage(a), 'reports');
    await enqueueJob(backend.storage(b), 'mail');
    const f = await backend.storage(a).queues.fetch(['mail']);
    const mine = (await backend.queueDepths())
      .filter((d) => d.namespace === a || d.namespace === b)
      .sort((x, y) => (x.namespace + x.queue < y.namespace + y.queue ? -1 : 1));
    t.deepEqual(mine, [
      { namespace: a, queue: 'mail', waiting: 2, inFlight: 1 },
      { namespace: a, queue: 'reports', waiting: 1, inFlight: 0 },
      { namespace: b, queue: 'mail', waiting: 1, inFlight: 0 },
    ]);
    await f.ack();
  });

  test(`${name} backend: queueDepths counts a lapsed lease as waiting and leaves out emptied queues`, async (t) => {
    const a = `depth-lapse-${randomUUID()}`;
    await enqueueJob(backend.storage(a), 'mail');
    await enqueueJob(backend.storage(a), 'done');
    await (await backend.storage(a).queues.fetch(['done'])).ack();
    const leaseEnds = Date.now() + 1_000;
    const f = await backend.storage(a).queues.fetch(['mail'], { invisibilityTimeoutMs: 1_000 });
    // The server started the lease somewhere between the call and its answer.
    const leaseEndsAtLatest = Date.now() + 1_000;
    const depths = async () => (await backend.queueDepths()).filter((d) => d.namespace === a);
    const whileLeased = await depths();
    // Asked while the lease held (the answer came back before it ended): in flight.
    if (Date.now() < leaseEnds) t.deepEqual(whileLeased, [{ namespace: a, queue: 'mail', waiting: 0, inFlight: 1 }]);
    await new Promise((r) => setTimeout(r, Math.max(0, leaseEndsAtLatest - Date.now()) + 100));
    t.deepEqual(await depths(), [{ namespace: a, queue: 'mail', waiting: 1, inFlight: 0 }]);
    void f; // its lease lapsed: the entry is delivered again
    await (await backend.storage(a).queues.fetch(['mail'])).ack();
    t.deepEqual(await depths(), []);
  });
}
