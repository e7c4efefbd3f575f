// Telemetry overhead. Run: npm run bench:telemetry
// Processing (router -> Redis shard, 8 workers, no-op jobs) with no SDK installed versus an SDK
// MeterProvider exporting every second (to an in-memory exporter), in interleaved rounds. Two
// figures: throughput, and this process's CPU time per job during the drain. Telemetry runs only in
// this process, so its cost is the CPU it adds; on a shared 2-core machine throughput swings by
// tens of percent between rounds (the Redis server competes for the same cores), CPU per job far less.
import { AggregationTemporality, InMemoryMetricExporter, MeterProvider, PeriodicExportingMetricReader } from '@opentelemetry/sdk-metrics';
import { RedisBackend } from '../src/backends/redis/redis-backend.js';
import { Router } from '../src/router/router.js';
import { drain } from './lib/drain.js';
import { deleteRedisPrefix, freshPrefix, REDIS_URL } from '../test/helpers/servers.js';

const JOBS = Number(process.env['BENCH_JOBS'] ?? 6_000);
// 15 rounds: with 7, the median of the loss still swung from -4% to +6% between runs; with 15, 2.8% and 3.9%.
const ROUNDS = Number(process.env['BENCH_ROUNDS'] ?? 15);
const prefix = freshPrefix();

async function round(withSdk: boolean, n: number): Promise<{ perSec: number; cpuUsPerJob: number }> {
  const exporter = new InMemoryMetricExporter(AggregationTemporality.CUMULATIVE);
  const provider = withSdk ? new MeterProvider({ readers: [new PeriodicExportingMetricReader({ exporter, exportIntervalMillis: 1_000 })] }) : undefined;
  const router = new Router({ shards: [{ id: 'redis', backend: new RedisBackend({ url: REDIS_URL, prefix }) }], telemetry: provider ? { meterProvider: provider } : {} });
  const storage = router.tenant(`bench${n}${withSdk ? 'sdk' : 'nosdk'}`);
  const result = await drain(storage, JOBS, 8, provider);
  await provider?.forceFlush();
  if (provider && exporter.getMetrics().length === 0) throw new Error('the SDK exported nothing');
  await provider?.shutdown();
  await router.close();
  return result;
}

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2;
};

try {
  // Warm up both paths (JIT, connections, the server) before measuring: the first rounds of each
  // are slower by up to half while the JIT compiles.
  for (let i = 0; i < 2; i++) {
    await round(false, -1 - i);
    await round(true, -1 - i);
  }
  const without: Array<{ perSec: number; cpuUsPerJob: number }> = [];
  const withSdk: typeof without = [];
  for (let i = 0; i < ROUNDS; i++) {
    without.push(await round(false, i));
    withSdk.push(await round(true, i));
  }
  const rate = (rs: typeof without) => median(rs.map((r) => r.perSec));
  const cpu = (rs: typeof without) => median(rs.map((r) => r.cpuUsPerJob));
  const list = (rs: typeof without, f: (r: (typeof without)[number]) => number) => rs.map((r) => f(r).toFixed(0)).join(', ');
  console.log(`\nTelemetry overhead: ${JOBS} no-op jobs, router -> Redis, 8 workers, ${ROUNDS} interleaved rounds (medians)`);
  console.log(`  without SDK    ${rate(without).toFixed(0).padStart(6)} jobs/s  (${list(without, (r) => r.perSec)})`);
  console.log(`  SDK exporting  ${rate(withSdk).toFixed(0).padStart(6)} jobs/s  (${list(withSdk, (r) => r.perSec)})`);
  console.log(`  throughput loss ${((1 - rate(withSdk) / rate(without)) * 100).toFixed(1)}%`);
  console.log(`  CPU per job    ${cpu(without).toFixed(1)} µs without, ${cpu(withSdk).toFixed(1)} µs with (${list(without, (r) => r.cpuUsPerJob)} / ${list(withSdk, (r) => r.cpuUsPerJob)})`);
  console.log(`  CPU overhead   ${((cpu(withSdk) / cpu(without) - 1) * 100).toFixed(1)}%`);
} finally {
  await deleteRedisPrefix(prefix);
}
