// A shard's server crashes and restarts while jobs are enqueued and run: a private redis-server
// (AOF, appendfsync always) SIGKILLed, and a private Postgres cluster shut down immediately (as
// in a crash). Counted: every acknowledged enqueue runs, none is left behind, producers see only
// typed errors and retry. Short versions of `npm run soak`.
import test from 'ava';
import { PostgresBackend } from '../../src/backends/postgres/postgres-backend.js';
import { RedisBackend } from '../../src/backends/redis/redis-backend.js';
import { JobClient } from '../../src/processing/job-client.js';
import { JobServer } from '../../src/processing/job-server.js';
import { isJobshardError } from '../../src/storage/errors.js';
import type { Backend } from '../../src/storage/storage.js';
import { PrivatePostgres } from '../helpers/postgres-server.js';
import { freePort, PrivateRedis } from '../helpers/redis-server.js';

const JOBS = 2_000;

async function restartable(kind: 'postgres' | 'redis'): Promise<{ backend: Backend; restart: () => Promise<void>; stop: () => Promise<void> }> {
  if (kind === 'redis') {
    const server = new PrivateRedis(await freePort(), { aof: 'always' });
    await server.start();
    const backend = new RedisBackend({ url: server.url, prefix: 'restart:', pollIntervalMs: 500 });
    return {
      backend,
      restart: async () => {
        await server.kill();
        await new Promise((r) => setTimeout(r, 300));
        await server.start();
      },
      stop: async () => {
        await backend.close();
        await server.kill();
        server.cleanup();
      },
    };
  }
  const server = new PrivatePostgres();
  await server.start();
  const backend = new PostgresBackend({ connectionString: server.url, schema: 'restart', poolSize: 4 });
  return {
    backend,
    restart: () => server.restart(),
    stop: async () => {
      await backend.close();
      await server.stop();
    },
  };
}

for (const kind of ['redis', 'postgres'] as const) {
  test(`${kind}: the server crashes and restarts twice while jobs are enqueued and run: none lost, none left, only typed errors`, async (t) => {
    const { backend, restart, stop } = await restartable(kind);
    t.teardown(stop);
    const storage = backend.storage('restarts');
    const client = new JobClient(storage);
    const acked = new Set<string>();
    const untyped: string[] = [];
    let retries = 0;
    const produce = async (from: number, to: number) => {
      for (let n = from; n < to; n++) {
        for (;;) {
          try {
            acked.add(await client.enqueue('work', [n], { queue: 'q' }));
            break;
          } catch (err) {
            if (!isJobshardError(err)) untyped.push(String(err).slice(0, 200));
            retries++;
            await new Promise((r) => setTimeout(r, 50));
          }
        }
      }
    };
    await Promise.all([produce(0, JOBS / 4), produce(JOBS / 4, JOBS / 2)]);
    const runs = new Map<string, number>();
    const server = new JobServer(storage, {
      queues: ['q'],
      workerCount: 8,
      invisibilityTimeoutMs: 2_000,
      onError: (err) => void (isJobshardError(err) || untyped.push(String(err).slice(0, 200))),
      handlers: {
        work: async (_args, ctx) => {
          await new Promise((r) => setTimeout(r, 2));
          runs.set(ctx.jobId, (runs.get(ctx.jobId) ?? 0) + 1);
        },
      },
    });
    await server.start();
    // The second half is enqueued while the server crashes, twice.
    const producing = Promise.all([produce(JOBS / 2, (JOBS * 3) / 4), produce((JOBS * 3) / 4, JOBS)]);
    for (let i = 0; i < 2; i++) {
      await new Promise((r) => setTimeout(r, 400));
      await restart();
    }
    await producing;
    for (const deadline = Date.now() + 30_000; Date.now() < deadline;) {
      const counts = await storage.monitoring.stateCounts().catch(() => ({}) as Record<string, number>);
      if ((counts['Succeeded'] ?? 0) >= runs.size && [...acked].every((id) => runs.has(id))) break;
      await new Promise((r) => setTimeout(r, 200));
    }
    await server.stop();
    // An enqueue written just before the crash may have lost its answer: the producer retried it, so
    // that job exists twice (at-least-once enqueue), and both run.
    const unanswered = [...runs.keys()].filter((id) => !acked.has(id)).length;
    t.log(
      `${retries} enqueues retried after a typed error, ${unanswered} of them written before their answer was lost; ${[...runs.values()].reduce((a, n) => a + n - 1, 0)} runs beyond the first`,
    );
    t.true(unanswered <= retries);
    t.is(acked.size, JOBS);
    t.deepEqual(
      [...acked].filter((id) => !runs.has(id)),
      [],
      'no acknowledged job lost',
    );
    t.deepEqual(await storage.monitoring.stateCounts(), { Succeeded: runs.size }, 'every job that exists ran and Succeeded: none left Enqueued or Processing');
    t.deepEqual(untyped, []);
  });
}
