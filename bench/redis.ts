// Redis backend queue benchmark. Run: npm run bench:redis
// Uses JOBSHARD_TEST_REDIS (default redis://127.0.0.1:6379) under a throw-away key prefix that it deletes afterwards.
import { randomUUID } from 'node:crypto';
import { RedisBackend } from '../src/backends/redis/redis-backend.js';
import { deleteRedisPrefix, freshPrefix, REDIS_URL } from '../test/helpers/servers.js';
import { printQueueBench, runQueueBench } from './lib/queue-bench.js';

const jobs = Number(process.env['BENCH_JOBS'] ?? 10_000);
const prefix = freshPrefix();
const backend = new RedisBackend({ url: REDIS_URL, prefix });
try {
  await backend.open();
  const result = await runQueueBench(() => backend.storage(`bench-${randomUUID()}`), { jobs, producers: 16, consumerCounts: [1, 4, 16], latencySamples: 200 });
  printQueueBench(`Redis backend (${jobs} jobs, 16 producers)`, result);
} finally {
  await backend.close();
  await deleteRedisPrefix(prefix);
}
