// Telemetry overhead. Run: npm run bench:telemetry
// Processing (router -> Redis shard, 8 workers, no-op jobs) with no SDK installed, versus an SDK
// MeterProvider exporting every second (to an in-memory exporter), versus an SDK TracerProvider
// sampling every span (always on; batched into an in-memory exporter), in interleaved rounds. The
// traced jobs carry their producer's context (a W3C propagator is installed for every arm). Two
// figures: throughput, and this process's CPU time per job during the drain. Telemetry runs only in
// this process, so its cost is the CPU it adds; on a shared 2-core machine throughput swings by
// tens of percent between rounds (the Redis server competes for the same cores), CPU per job far less.
// Last, the floor: one run span's CPU (startRunSpan as a worker calls it, with a stored parent
// context, then end) in a tight loop, batched to an exporter that drops spans.
import { context, propagation } from '@opentelemetry/api';
import { ExportResultCode, W3CTraceContextPropagator } from '@opentelemetry/core';
import { AggregationTemporality, InMemoryMetricExporter, MeterProvider, PeriodicExportingMetricReader } from '@opentelemetry/sdk-metrics';
import {
  AlwaysOnSampler,
  BasicTracerProvider,
  BatchSpanProcessor,
  InMemorySpanExporter,
  type ReadableSpan,
  type SpanExporter,
} from '@opentelemetry/sdk-trace-base';
import { RedisBackend } from '../src/backends/redis/redis-backend.js';
import { Router } from '../src/router/router.js';
import { drain } from './lib/drain.js';
import { startRunSpan, succeeded, tracerFrom } from '../src/telemetry/tracing.js';
import { deleteRedisPrefix, freshPrefix, REDIS_URL } from '../test/helpers/servers.js';

const JOBS = Number(process.env['BENCH_JOBS'] ?? 6_000);
// 15 rounds: with 7, the median of the loss still swung from -4% to +6% between runs; with 15, 2.8% and 3.9%.
const ROUNDS = Number(process.env['BENCH_ROUNDS'] ?? 15);
const prefix = freshPrefix();

type Arm = 'none' | 'metrics' | 'traces';
propagation.setGlobalPropagator(new W3CTraceContextPropagator());

async function round(arm: Arm, n: number): Promise<{ perSec: number; cpuUsPerJob: number }> {
  const exporter = new InMemoryMetricExporter(AggregationTemporality.CUMULATIVE);
  const meters = arm === 'metrics' ? new MeterProvider({ readers: [new PeriodicExportingMetricReader({ exporter, exportIntervalMillis: 1_000 })] }) : undefined;
  const spans = new InMemorySpanExporter();
  const tracers =
    arm === 'traces'
      ? new BasicTracerProvider({
          sampler: new AlwaysOnSampler(),
          spanProcessors: [new BatchSpanProcessor(spans, { maxQueueSize: 100_000, maxExportBatchSize: 2_048 })],
        })
      : undefined;
  const router = new Router({
    shards: [{ id: 'redis', backend: new RedisBackend({ url: REDIS_URL, prefix }) }],
    telemetry: meters ? { meterProvider: meters } : {},
  });
  const storage = router.tenant(`bench${n}${arm}`);
  const result = await drain(storage, JOBS, 8, meters, tracers);
  await meters?.forceFlush();
  if (meters && exporter.getMetrics().length === 0) throw new Error('the SDK exported no metric');
  await meters?.shutdown();
  await tracers?.forceFlush();
  if (tracers && spans.getFinishedSpans().filter((x) => x.name === 'process default').length !== JOBS)
    throw new Error(`expected ${JOBS} consumer spans, got ${spans.getFinishedSpans().length} spans`);
  await tracers?.shutdown();
  await router.close();
  return result;
}

/** One run span's CPU (µs) with hot caches: the SDK's own work per span, and jobshard's around it, without a job. */
async function runSpanFloor(): Promise<number> {
  let exported = 0;
  const dropping: SpanExporter = {
    export: (batch: ReadableSpan[], done) => {
      exported += batch.length;
      done({ code: ExportResultCode.SUCCESS });
    },
    shutdown: async () => {},
  };
  const provider = new BasicTracerProvider({
    sampler: new AlwaysOnSampler(),
    spanProcessors: [new BatchSpanProcessor(dropping, { maxQueueSize: 100_000, maxExportBatchSize: 2_048 })],
  });
  const tracer = tracerFrom(provider);
  const parameters = { traceparent: '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01' };
  const N = 100_000;
  const perSpan: number[] = [];
  for (let round = 0; round < 5; round++) {
    const cpu0 = process.cpuUsage();
    for (let i = 0; i < N; i++) {
      const run = startRunSpan(tracer, 'default', parameters, {
        'messaging.message.id': `bench/${i}`,
        'jobshard.job.type': 'noop',
        'jobshard.job.attempt': 1,
        'jobshard.shard.id': 'redis',
      });
      if (run.context) context.with(run.context, () => undefined);
      succeeded(run.span);
      run.span.end();
      // Let the batch processor's timer export, as it does between jobs in a drain.
      if (i % 1_000 === 999) await new Promise((r) => setImmediate(r));
    }
    await provider.forceFlush();
    const cpu = process.cpuUsage(cpu0);
    perSpan.push((cpu.user + cpu.system) / N);
  }
  await provider.shutdown();
  if (exported !== 5 * N) throw new Error(`exported ${exported} spans, not ${5 * N}`);
  return median(perSpan.slice(1)); // the first round compiles
}

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2;
};

try {
  // Warm up every path (JIT, connections, the server) before measuring: the first rounds of each
  // are slower by up to half while the JIT compiles.
  const arms: Arm[] = ['none', 'metrics', 'traces'];
  for (let i = 0; i < 2; i++) for (const arm of arms) await round(arm, -1 - i);
  const results: Record<Arm, Array<{ perSec: number; cpuUsPerJob: number }>> = { none: [], metrics: [], traces: [] };
  for (let i = 0; i < ROUNDS; i++) for (const arm of arms) results[arm].push(await round(arm, i));
  type R = (typeof results)['none'];
  const rate = (rs: R) => median(rs.map((r) => r.perSec));
  const cpu = (rs: R) => median(rs.map((r) => r.cpuUsPerJob));
  const list = (rs: R, f: (r: R[number]) => number) => rs.map((r) => f(r).toFixed(0)).join(', ');
  const label: Record<Arm, string> = { none: 'without SDK   ', metrics: 'metrics SDK   ', traces: 'traces, all sampled' };
  console.log(`\nTelemetry overhead: ${JOBS} no-op jobs, router -> Redis, 8 workers, ${ROUNDS} interleaved rounds (medians)`);
  for (const arm of arms)
    console.log(
      `  ${label[arm].padEnd(20)} ${rate(results[arm]).toFixed(0).padStart(6)} jobs/s, ${cpu(results[arm]).toFixed(1)} µs CPU/job  (${list(results[arm], (r) => r.perSec)})`,
    );
  for (const arm of ['metrics', 'traces'] as const) {
    // Per round, against the no-SDK round next to it: the pairing cancels the machine's slow drifts.
    const losses = results[arm].map((r, i) => 1 - r.perSec / results.none[i]!.perSec).sort((a, b) => a - b);
    console.log(
      `  ${arm}: throughput loss ${((1 - rate(results[arm]) / rate(results.none)) * 100).toFixed(1)}% (paired rounds: median ${(median(losses) * 100).toFixed(1)}%, range ${(losses[0]! * 100).toFixed(1)}% to ${(losses.at(-1)! * 100).toFixed(1)}%), CPU overhead ${((cpu(results[arm]) / cpu(results.none) - 1) * 100).toFixed(1)}%`,
    );
  }
  const floor = await runSpanFloor();
  console.log(
    `  one run span alone, hot, in a tight loop: ${floor.toFixed(1)} µs CPU = ${((floor / cpu(results.none)) * 100).toFixed(1)}% of a job's ${cpu(results.none).toFixed(1)} µs without the SDK`,
  );
} finally {
  await deleteRedisPrefix(prefix);
}
