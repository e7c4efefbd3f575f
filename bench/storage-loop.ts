// The storage layer's own ceiling on Postgres, without the JobServer: BENCH_LOOPS (96,192,384)
// concurrent loops each fetch a job (batched with the others) and commit its outcome as a worker
// does under retentionMs 0 (delete, a statistics counter, the ack), until the backlog of
// BENCH_JOBS (30,000) no-op jobs is gone; each count runs BENCH_ROUNDS (2) times, alternated, in a
// fresh schema after a 3,000-job warm-up. Run: npm run bench:storage-loop
// Per drain: jobs/s, this process's CPU a job and every postgres process's. Set beside
// `npm run bench:processing-mark`, the difference is what the processing core costs a job.
import { dropSchema, freshSchema, PG_URL } from '../test/helpers/servers.js';
import { loadBuild } from './peers/jobshard-build.js';
import { postgresCpuUs } from './lib/postgres-cpu.js';

const { JobClient, PostgresBackend } = await loadBuild();
const N = Number(process.env['BENCH_JOBS'] ?? 30_000);
const ROUNDS = Number(process.env['BENCH_ROUNDS'] ?? 2);
const LOOPS = (process.env['BENCH_LOOPS'] ?? '96,192,384').split(',').map(Number);
const QUEUES = Object.freeze(['default']);
const FETCH = Object.freeze({ withJob: true, invisibilityTimeoutMs: 300_000 });

type Storage = ReturnType<InstanceType<typeof PostgresBackend>['storage']>;

async function drain(storage: Storage, n: number, loops: number) {
  const client = new JobClient(storage);
  for (let k = 0; k < n; k += 32) await Promise.all(Array.from({ length: Math.min(32, n - k) }, () => client.enqueue('noop', [])));
  let done = 0;
  const [c0, p0, t0] = [process.cpuUsage(), postgresCpuUs(), performance.now()];
  await Promise.all(
    Array.from({ length: loops }, async () => {
      for (;;) {
        const fetched = await storage.queues.tryFetch(QUEUES, FETCH);
        if (!fetched) return;
        await storage.transaction((tx) => {
          tx.expireJob(fetched.jobId, 0);
          tx.counterIncrement('stats:succeeded');
          tx.removeFromQueue(fetched);
        });
        done++;
      }
    }),
  );
  const secs = (performance.now() - t0) / 1000;
  const [c, p] = [process.cpuUsage(c0), postgresCpuUs() - p0];
  if (done !== n) throw new Error(`${done} of ${n} jobs drained`);
  return { perSec: n / secs, nodeUs: (c.user + c.system) / n, pgUs: p / n };
}

for (let round = 1; round <= ROUNDS; round++) {
  for (const loops of LOOPS) {
    const schema = freshSchema();
    const backend = new PostgresBackend({ connectionString: PG_URL, schema, poolSize: 10 });
    try {
      const storage = backend.storage('bench');
      await drain(storage, 3_000, loops);
      const r = await drain(storage, N, loops);
      console.log(
        `round ${round} ${String(loops).padStart(4)} loops: ${r.perSec.toFixed(0).padStart(6)} jobs/s, Node CPU ${r.nodeUs.toFixed(1)} µs, Postgres CPU ${r.pgUs.toFixed(1)} µs a job`,
      );
    } finally {
      await backend.close();
      await dropSchema(schema);
    }
  }
}
