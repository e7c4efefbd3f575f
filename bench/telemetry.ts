// Telemetry overhead. Run: npm run bench:telemetry
// Processing throughput (router -> Redis shard, 8 workers, no-op jobs) with no SDK installed versus an
// SDK MeterProvider exporting every second (to an in-memory exporter), in interleaved rounds.
import { AggregationTemporality, InMemoryMetricExporter, MeterProvider, PeriodicExportingMetricReader } from '@opentelemetry/sdk-metrics';
import { RedisBackend } from '../src/backends/redis/redis-backend.js';
import { Router } from '../src/router/router.js';
import { drainRate } from './lib/drain.js';
import { deleteRedisPrefix, freshPrefix, REDIS_URL } from '../test/helpers/servers.js';

const JOBS = Number(process.env['BENCH_JOBS'] ?? 6_000);
const ROUNDS = Number(process.env['BENCH_ROUNDS'] ?? 5);
const prefix = freshPrefix();

async function round(withSdk: boolean, n: number): Promise<number> {
  const exporter = new InMemoryMetricExporter(AggregationTemporality.CUMULATIVE);
  const provider = withSdk ? new MeterProvider({ readers: [new PeriodicExportingMetricReader({ exporter, exportIntervalMillis: 1_000 })] }) : undefined;
  const router = new Router({ shards: [{ id: 'redis', backend: new RedisBackend({ url: REDIS_URL, prefix }) }], telemetry: provider ? { meterProvider: provider } : {} });
  const storage = router.tenant(`bench${n}${withSdk ? 'sdk' : 'nosdk'}`);
  const rate = await drainRate(storage, JOBS, 8, provider);
  await provider?.forceFlush();
  if (provider && exporter.getMetrics().length === 0) throw new Error('the SDK exported nothing');
  await provider?.shutdown();
  await router.close();
  return rate;
}

try {
  // Warm up both paths (JIT, connections, the server) before measuring.
  await round(false, -1);
  await round(true, -1);
  const without: number[] = [];
  const withSdk: number[] = [];
  for (let i = 0; i < ROUNDS; i++) {
    without.push(await round(false, i));
    withSdk.push(await round(true, i));
  }
  const mean = (xs: number[]) => xs.reduce((a, b) => a + b) / xs.length;
  console.log(`\nTelemetry overhead: ${JOBS} no-op jobs, router -> Redis, 8 workers, ${ROUNDS} interleaved rounds`);
  console.log(`  without SDK    ${mean(without).toFixed(0).padStart(6)} jobs/s   (${without.map((r) => r.toFixed(0)).join(', ')})`);
  console.log(`  SDK exporting  ${mean(withSdk).toFixed(0).padStart(6)} jobs/s   (${withSdk.map((r) => r.toFixed(0)).join(', ')})`);
  console.log(`  loss           ${((1 - mean(withSdk) / mean(without)) * 100).toFixed(1)}%`);
} finally {
  await deleteRedisPrefix(prefix);
}
