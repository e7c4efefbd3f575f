// A small service that exports jobshard metrics: a router over a memory, a Postgres and a Redis
// shard, tenants pinned to each, and a JobServer per tenant processing a steady trickle of jobs.
// Env: JOBSHARD_PG (postgres URL), JOBSHARD_REDIS (redis URL), JOBSHARD_SCHEMA, JOBSHARD_PREFIX,
// OTEL_EXPORTER_OTLP_ENDPOINT and/or JOBSHARD_PROMETHEUS_PORT, RUN_MS (default: until SIGTERM).
import { startTelemetry } from './telemetry.js';

const stopTelemetry = await startTelemetry('jobshard-metrics-app');
// Imported after the SDK started, so the library's meters come from the installed provider.
const { createRouter, JobClient, JobServer, MemoryBackend, PostgresBackend, RedisBackend } = await import('../src/index.js');

const router = await createRouter({
  shards: [
    { id: 'mem-1', backend: new MemoryBackend() },
    {
      id: 'pg-1',
      backend: new PostgresBackend({
        connectionString: process.env['JOBSHARD_PG'] ?? 'postgres://postgres@127.0.0.1:5432/test',
        schema: process.env['JOBSHARD_SCHEMA'] ?? 'metrics_app',
      }),
    },
    {
      id: 'redis-1',
      backend: new RedisBackend({ url: process.env['JOBSHARD_REDIS'] ?? 'redis://127.0.0.1:6379', prefix: process.env['JOBSHARD_PREFIX'] ?? 'metrics-app:' }),
    },
  ],
  tenants: { alpha: { shard: 'mem-1' }, beta: { shard: 'pg-1' }, gamma: { shard: 'redis-1' } },
});
// One worker per tenant at ~20 ms a job against ~60 jobs/s enqueued: a small backlog, as in a busy service.
// A burst of 50 per tenant first, so the backlog (and so the queue-depth series) exists from the first
// collection even on a loaded machine, where the trickle alone may fall below what the workers drain.
for (const t of ['alpha', 'beta', 'gamma']) {
  const client = new JobClient(router.tenant(t));
  await Promise.all(Array.from({ length: 50 }, () => client.enqueue('ping', [])));
}
const servers = ['alpha', 'beta', 'gamma'].map(
  (t) => new JobServer(router.tenant(t), { queues: ['default'], workerCount: 1, handlers: { ping: () => new Promise((r) => setTimeout(r, 20)) } }),
);
await Promise.all(servers.map((s) => s.start()));
let stopping = false;
const traffic = (async () => {
  while (!stopping) {
    for (const t of ['alpha', 'beta', 'gamma']) for (let i = 0; i < 3; i++) await new JobClient(router.tenant(t)).enqueue('ping', []);
    await new Promise((r) => setTimeout(r, 50));
  }
})();
console.log('metrics-app running');
const stop = async () => {
  stopping = true;
  await traffic;
  await Promise.all(servers.map((s) => s.stop()));
  await stopTelemetry(); // flushes the last export
  await router.close();
  process.exit(0);
};
process.on('SIGTERM', () => void stop());
if (process.env['RUN_MS']) setTimeout(() => void stop(), Number(process.env['RUN_MS']));
