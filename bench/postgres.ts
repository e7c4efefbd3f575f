// Postgres backend queue benchmark. Run: npm run bench:postgres
// Uses JOBSHARD_TEST_PG (default postgres://postgres@127.0.0.1:5432/test) and a
// throw-away schema that it drops afterwards.
import { randomUUID } from 'node:crypto';
import { PostgresBackend } from '../src/backends/postgres/postgres-backend.js';
import { dropSchema, freshSchema, PG_URL } from '../test/helpers/servers.js';
import { printQueueBench, runQueueBench } from './lib/queue-bench.js';

const jobs = Number(process.env['BENCH_JOBS'] ?? 5_000);
const schema = freshSchema();
const backend = new PostgresBackend({ connectionString: PG_URL, schema, poolSize: 20 });
try {
  await backend.open();
  const result = await runQueueBench(() => backend.storage(`bench-${randomUUID()}`), { jobs, producers: 16, consumerCounts: [1, 4, 16], latencySamples: 200 });
  printQueueBench(`Postgres backend (${jobs} jobs, pool 20, 16 producers)`, result);
} finally {
  await backend.close();
  await dropSchema(schema);
}
