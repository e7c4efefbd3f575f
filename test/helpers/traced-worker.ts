// A worker process with an OpenTelemetry SDK (sdk-node, spans exported over OTLP/HTTP to
// OTEL_EXPORTER_OTLP_ENDPOINT): a JobServer over a router with one Redis shard runs jobs until
// JOBS jobs are done, then flushes its spans and exits. Storage spans are on.
// Job types: traced.ok (opens a span of its own), traced.flaky (fails its first attempt).
import { trace } from '@opentelemetry/api';
import { OTLPTraceExporter } from '@opentelemetry/exporter-trace-otlp-http';
import { NodeSDK } from '@opentelemetry/sdk-node';

const sdk = new NodeSDK({ serviceName: 'traced-worker', traceExporter: new OTLPTraceExporter(), instrumentations: [] });
sdk.start();
// Imported after the SDK starts, as an application does.
const { createRouter, JobServer, RedisBackend } = await import('../../src/index.js');

const router = await createRouter({
  shards: [{ id: 'redis-1', backend: new RedisBackend({ url: process.env['JOBSHARD_REDIS']!, prefix: process.env['JOBSHARD_PREFIX']!, pollIntervalMs: 50 }) }],
  telemetry: { storageSpans: true },
});
const expected = Number(process.env['JOBS']);
const app = trace.getTracer('traced-worker-app');
let done = 0;
let finish!: () => void;
const finished = new Promise<void>((r) => (finish = r));
const server = new JobServer(router, {
  queues: ['traced'],
  workerCount: 2,
  schedulerIntervalMs: 100,
  discoveryIntervalMs: 100,
  retry: { attempts: 2, baseDelayMs: 50, jitter: 0 },
  handlers: {
    'traced.ok': async () => {
      await app.startActiveSpan('handler work', async (span) => {
        await new Promise((r) => setTimeout(r, 5));
        span.end();
      });
    },
    'traced.flaky': (_args, ctx) => {
      if (ctx.attempt === 1) throw new Error('first attempt fails');
    },
  },
  onJobDone: (event) => {
    if (event.outcome === 'retried') return;
    if (++done === expected) finish();
  },
});
await server.start();
console.log('ready');
await finished;
await server.stop();
await router.close();
await sdk.shutdown();
console.log(`done ${done}`);
