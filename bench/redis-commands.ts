// Redis commands per processed job. Run: npm run bench:redis-commands
// Drains a backlog of no-op jobs with a JobServer (32 workers) and reads INFO commandstats around
// the drain: how many commands of each kind one job costs the server, and their server time.
// Resets the server's command statistics (CONFIG RESETSTAT): run it against a test server only.
import { Redis } from 'ioredis';
import { RedisBackend } from '../src/backends/redis/redis-backend.js';
import { JobClient } from '../src/processing/job-client.js';
import { JobServer } from '../src/processing/job-server.js';
import { deleteRedisPrefix, freshPrefix, REDIS_URL } from '../test/helpers/servers.js';
import { redisCpuUs } from './lib/redis-cpu.js';

const JOBS = Number(process.env['BENCH_JOBS'] ?? 5_000);
// BENCH_RETENTION_MS=0: each job deleted as it succeeds (the JobServer default keeps it a day).
const RETENTION = process.env['BENCH_RETENTION_MS'] === undefined ? undefined : Number(process.env['BENCH_RETENTION_MS']);
// BENCH_PEERS=1: the peer bench's JobServer settings (prefetch 64, markProcessingAfterMs 100).
const PEERS = process.env['BENCH_PEERS'] === '1';
const prefix = freshPrefix();
const backend = new RedisBackend({ url: REDIS_URL, prefix });
const admin = new Redis(REDIS_URL);

async function commandStats(): Promise<Map<string, { calls: number; usec: number }>> {
  const stats = new Map<string, { calls: number; usec: number }>();
  for (const line of (await admin.info('commandstats')).split('\n')) {
    const m = /^cmdstat_([^:]+):calls=(\d+),usec=(\d+)/.exec(line);
    if (m) stats.set(m[1]!, { calls: Number(m[2]), usec: Number(m[3]) });
  }
  return stats;
}

try {
  const storage = backend.storage('bench');
  const client = new JobClient(storage);
  let next = 0;
  await Promise.all(
    Array.from({ length: 32 }, async () => {
      while (next++ < JOBS) await client.enqueue('noop', []);
    }),
  );
  await admin.config('RESETSTAT');
  const cpu0 = await redisCpuUs(admin);
  const t0 = performance.now();
  let done = 0;
  let drained!: () => void;
  const all = new Promise<void>((r) => (drained = r));
  const server = new JobServer(storage, {
    workerCount: 32,
    ...(RETENTION === undefined ? {} : { retentionMs: RETENTION }),
    ...(PEERS ? { prefetch: 64, markProcessingAfterMs: 100 } : {}),
    handlers: {
      noop: () => {
        if (++done === JOBS) drained();
      },
    },
  });
  await server.start();
  await all;
  const secs = (performance.now() - t0) / 1000;
  const cpu = (await redisCpuUs(admin)) - cpu0;
  await server.stop();
  const rows = [...(await commandStats())].sort((a, b) => b[1].calls - a[1].calls);
  const total = rows.reduce((n, [, s]) => n + s.calls, 0);
  console.log(
    `\nRedis commands per processed job (${JOBS} no-op jobs, JobServer with 32 workers${PEERS ? ', prefetch 64, markProcessingAfterMs 100' : ''}, retentionMs ${RETENTION ?? 'default (1 day)'}): ${(total / JOBS).toFixed(1)}`,
  );
  console.log(`  drained at ${(JOBS / secs).toFixed(0)} jobs/s; Redis CPU ${(cpu / JOBS).toFixed(1)} µs a job (INFO cpu)`);
  console.log('  (scripts count once as evalsha and again for each command they run; times are wall-clock, so a busy machine inflates them)');
  for (const [name, s] of rows) {
    if (s.calls / JOBS < 0.01) continue;
    console.log(`  ${name.padEnd(16)} ${(s.calls / JOBS).toFixed(2).padStart(6)} per job  ${(s.usec / JOBS).toFixed(1).padStart(7)} µs per job`);
  }
} finally {
  await backend.close();
  await deleteRedisPrefix(prefix);
  admin.disconnect();
}
