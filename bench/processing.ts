// Processing benchmark. Run: npm run bench:processing   (BENCH_JOBS, BENCH_ONLY, BENCH_PREFETCH, BENCH_RETENTION_MS below)
// No-op jobs processed per second by a JobServer at 1, 8 and 32 workers, and enqueue-to-handler-start
// latency p50/p99 with idle workers, on memory, Postgres and Redis, and through the router to Redis.
import { randomUUID } from 'node:crypto';
import { MemoryBackend } from '../src/backends/memory/memory-backend.js';
import { PostgresBackend } from '../src/backends/postgres/postgres-backend.js';
import { RedisBackend } from '../src/backends/redis/redis-backend.js';
import { JobClient } from '../src/processing/job-client.js';
import { JobServer } from '../src/processing/job-server.js';
import { Router } from '../src/router/router.js';
import type { Backend, Storage } from '../src/storage/storage.js';
import { drainRate } from './lib/drain.js';
import { deleteRedisPrefix, dropSchema, freshPrefix, freshSchema, PG_URL, REDIS_URL } from '../test/helpers/servers.js';

const JOBS = Number(process.env['BENCH_JOBS'] ?? 2_000);
/** BENCH_ONLY=memory,redis runs only those rows (names as printed). */
const ONLY = process.env['BENCH_ONLY']?.split(',');
/** BENCH_PREFETCH and BENCH_RETENTION_MS set the servers' prefetch and retentionMs (unset: the defaults, 0 and a day). */
const KNOBS = {
  ...(process.env['BENCH_PREFETCH'] ? { prefetch: Number(process.env['BENCH_PREFETCH']) } : {}),
  ...(process.env['BENCH_RETENTION_MS'] ? { retentionMs: Number(process.env['BENCH_RETENTION_MS']) } : {}),
};
const SAMPLES = 100;

async function latency(storage: Storage): Promise<{ p50: number; p99: number }> {
  const client = new JobClient(storage);
  let started!: (t: number) => void;
  const server = new JobServer(storage, { workerCount: 4, handlers: { ping: () => started(performance.now()) } });
  await server.start();
  await new Promise((r) => setTimeout(r, 200));
  const samples: number[] = [];
  for (let i = 0; i < SAMPLES; i++) {
    const began = new Promise<number>((r) => (started = r));
    const t0 = performance.now();
    await client.enqueue('ping', []);
    samples.push((await began) - t0);
    await new Promise((r) => setTimeout(r, 5));
  }
  await server.stop();
  samples.sort((a, b) => a - b);
  return { p50: samples[Math.floor(SAMPLES * 0.5)]!, p99: samples[Math.floor(SAMPLES * 0.99)]! };
}

const schema = freshSchema();
const prefix = freshPrefix();
const setups: Array<[string, () => { fresh: () => Storage; close: () => Promise<void> }]> = [
  [
    'memory',
    () => {
      const b = new MemoryBackend();
      return { fresh: () => b.storage(`b-${randomUUID()}`), close: () => b.close() };
    },
  ],
  [
    'postgres',
    () => {
      const b = new PostgresBackend({ connectionString: PG_URL, schema, poolSize: 20 });
      return { fresh: () => b.storage(`b-${randomUUID()}`), close: () => b.close() };
    },
  ],
  [
    'redis',
    () => {
      const b = new RedisBackend({ url: REDIS_URL, prefix });
      return { fresh: () => b.storage(`b-${randomUUID()}`), close: () => b.close() };
    },
  ],
  // Through the router, to one Redis shard: compare with the direct redis row.
  [
    'routed -> redis',
    () => {
      const r = new Router({ shards: [{ id: 'redis', backend: new RedisBackend({ url: REDIS_URL, prefix }) as Backend }] });
      return { fresh: () => r.tenant(`b${randomUUID().slice(0, 8)}`), close: () => r.close() };
    },
  ],
];
console.log(
  `\nProcessing ${JOBS} no-op jobs (jobs/s${Object.keys(KNOBS).length ? `, servers with ${JSON.stringify(KNOBS)}` : ''}) and enqueue-to-start latency (${SAMPLES} samples, idle workers)`,
);
console.log('  backend            1 worker   8 workers  32 workers   p50 ms   p99 ms');
try {
  for (const [name, make] of setups) {
    if (ONLY && !ONLY.includes(name)) continue;
    const { fresh, close } = make();
    const rates = [];
    for (const w of [1, 8, 32]) rates.push(await drainRate(fresh(), JOBS, w, undefined, KNOBS));
    const l = await latency(fresh());
    console.log(
      `  ${name.padEnd(17)} ${rates.map((r) => r.toFixed(0).padStart(10)).join(' ')} ${l.p50.toFixed(2).padStart(8)} ${l.p99.toFixed(2).padStart(8)}`,
    );
    await close();
  }
} finally {
  await dropSchema(schema);
  await deleteRedisPrefix(prefix);
}
