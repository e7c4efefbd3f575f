// A worker whose job was handed to another (its process froze past the invisibility) learns it
// at its next keep-alive: the handler's signal aborts with LeaseLostError. Real processes: the
// worker is SIGSTOPped, not paused by a hook.
import test, { type ExecutionContext } from 'ava';
import type { FetchedJob } from '../../src/storage/queue.js';
import type { Storage } from '../../src/storage/storage.js';
import { JobClient } from '../../src/processing/job-client.js';
import { delay } from '../conformance/helpers.js';
import { dropCrashData, freshCrashConfig } from '../helpers/crash-config.js';
import { crashStorage } from '../helpers/crash-worker.js';
import { kill, startChild } from '../helpers/child.js';

/**
 * Hands a job of the child to another consumer: enqueued once the child is up and waiting (so it
 * goes to the child), the child frozen once it runs it, past its invisibility (600 ms), then the
 * lapsed lease taken here and the child thawed.
 */
async function loseLease(t: ExecutionContext, worker: Awaited<ReturnType<typeof startChild>>, storage: Storage): Promise<{ id: string; taken: FetchedJob }> {
  const id = await new JobClient(storage).enqueue('hold', []);
  while (!worker.output().includes(`started ${id}`)) await delay(20);
  worker.child.kill('SIGSTOP');
  await delay(1_500);
  const taken = await storage.queues.tryFetch(['default'], { withJob: true });
  t.is(taken?.jobId, id, 'the lapsed lease lets another consumer take the job');
  worker.child.kill('SIGCONT');
  if (!taken) throw new Error(`job ${id} was not handed to another consumer`);
  return { id, taken };
}

for (const kind of ['redis', 'postgres'] as const) {
  test(`${kind}: a worker frozen past its job's invisibility has its handler aborted once another takes the job`, async (t) => {
    const cfg = freshCrashConfig(kind, 'lease');
    const { storage, close } = crashStorage(cfg);
    const worker = await startChild('./lease-loser.ts', [JSON.stringify(cfg)], /ready/, 30_000).catch(async (err: unknown) => {
      await close();
      throw err;
    });
    try {
      const { taken } = await loseLease(t, worker, storage);
      const deadline = Date.now() + 5_000;
      while (Date.now() < deadline && !worker.output().includes('aborted')) await delay(20);
      t.regex(worker.output(), /aborted LeaseLostError/);
      await taken.ack();
    } finally {
      await kill(worker.child);
      await close();
      await dropCrashData(cfg);
    }
  });

  test(`${kind}: with markProcessingAfterMs, a run whose lease was lost is not marked Processing when its mark falls due`, async (t) => {
    const cfg = freshCrashConfig(kind, 'mark');
    const { storage, close } = crashStorage(cfg);
    // The mark falls due 2.5 s into the run: after the lease is lost (about 1.6 s), before the
    // aborted handler returns (2 s after its abort).
    const worker = await startChild('./lease-loser.ts', [JSON.stringify(cfg), '', '2500'], /ready/, 30_000).catch(async (err: unknown) => {
      await close();
      throw err;
    });
    try {
      const { id, taken } = await loseLease(t, worker, storage);
      const deadline = Date.now() + 10_000;
      while (Date.now() < deadline && (await storage.jobs.get(id)).state !== 'Failed') await delay(50);
      t.regex(worker.output(), /aborted LeaseLostError/);
      // The run's outcome is written on its own (its lease is gone), with the Processing state it
      // never got: one commit, one time. A mark written when it fell due would be a second earlier.
      const history = await storage.jobs.history(id);
      t.deepEqual(
        history.map((h) => h.name),
        ['Enqueued', 'Processing', 'Failed'],
      );
      const gap = history[2]!.createdAt.getTime() - history[1]!.createdAt.getTime();
      t.true(gap < 500, `Processing written ${gap} ms before Failed: by the outcome, not by a mark`);
      await taken.ack();
    } finally {
      await kill(worker.child);
      await close();
      await dropCrashData(cfg);
    }
  });

  test(`${kind}: a job a frozen server held (prefetched) is not run by it once another consumer has taken it`, async (t) => {
    const cfg = freshCrashConfig(kind, 'held');
    const { storage, close } = crashStorage(cfg);
    const client = new JobClient(storage);
    // Both queued before the child starts: it runs one and holds the other (prefetch 1).
    const ids = [await client.enqueue('hold', []), await client.enqueue('hold', [])];
    const worker = await startChild('./lease-loser.ts', [JSON.stringify(cfg), '1'], /ready/, 30_000).catch(async (err: unknown) => {
      await close();
      throw err;
    });
    try {
      while (!ids.some((id) => worker.output().includes(`started ${id}`))) await delay(20);
      while ((await storage.monitoring.stateCounts())['Processing'] !== 2) await delay(20);
      const held = ids.find((id) => !worker.output().includes(`started ${id}`))!;
      worker.child.kill('SIGSTOP');
      await delay(1_500);
      const taken = [await storage.queues.tryFetch(['default']), await storage.queues.tryFetch(['default'])];
      t.deepEqual(taken.map((f) => f?.jobId).sort(), [...ids].sort(), 'both lapsed leases went to another consumer');
      worker.child.kill('SIGCONT');
      const deadline = Date.now() + 5_000;
      while (Date.now() < deadline && !worker.output().includes('aborted')) await delay(20);
      t.regex(worker.output(), /aborted LeaseLostError/);
      // The aborted handler returns a second after its abort; a held job still kept would start then.
      await delay(2_500);
      t.false(worker.output().includes(`started ${held}`), 'the held job was dropped, not run');
      for (const f of taken) await f!.ack();
    } finally {
      await kill(worker.child);
      await close();
      await dropCrashData(cfg);
    }
  });
}
