// At-least-once under a real crash: a JobServer process is SIGKILLed in the middle of 2,000 jobs;
// a second server finishes; every job completes (counted by id), none is lost.
import test from 'ava';
import { JobClient } from '../../src/processing/job-client.js';
import { JobServer } from '../../src/processing/job-server.js';
import { delay } from '../conformance/helpers.js';
import { dropCrashData, freshCrashConfig } from '../helpers/crash-config.js';
import { crashStorage } from '../helpers/crash-worker.js';
import { kill, startChild } from '../helpers/child.js';

const N = 2_000;

for (const kind of (process.env['CRASH_KINDS']?.split(',') ?? ['postgres', 'redis', 'router']) as Array<'postgres' | 'redis' | 'router'>) {
  test(`${kind}: 2,000 jobs survive a SIGKILLed server; a second server completes every one`, async (t) => {
    const cfg = freshCrashConfig(kind, 'crash');
    const { storage, close } = crashStorage(cfg);
    const survivor = new JobServer(storage, {
      queues: ['default', 'bulk'],
      workerCount: 8,
      invisibilityTimeoutMs: 1_000,
      schedulerIntervalMs: 100,
      handlers: {
        work: async () => {
          await delay(1);
        },
      },
    });
    try {
      const client = new JobClient(storage);
      const ids: string[] = [];
      let next = 0;
      await Promise.all(
        Array.from({ length: 16 }, async () => {
          while (next < N) {
            const i = next++;
            ids.push(await client.enqueue('work', [i], { queue: i % 2 ? 'bulk' : 'default' }));
          }
        }),
      );
      t.is(new Set(ids).size, N);

      const worker = await startChild('./crash-worker.ts', [JSON.stringify(cfg)], /done ([3-9]\d\d|\d{4})/, 60_000);
      await kill(worker.child);
      const doneBeforeKill = Number(worker.output().match(/done (\d+)\n?$/)?.[1] ?? worker.match[1]);
      t.true(doneBeforeKill < N, `the worker was killed mid-run (${doneBeforeKill} done)`);

      await survivor.start();
      const deadline = Date.now() + 60_000;
      while (Date.now() < deadline && ((await storage.monitoring.stateCounts())['Succeeded'] ?? 0) < N) await delay(100);
      const states = await Promise.all(ids.map(async (id) => (await storage.jobs.get(id)).state));
      t.is(states.filter((s) => s === 'Succeeded').length, N, 'every job, counted by id, completed');
      t.deepEqual(await storage.monitoring.queues(), [], 'no queue entry left behind');
    } finally {
      await survivor.stop();
      await close();
      await dropCrashData(cfg);
    }
  });
}
