// Traces from enqueue to handler across processes: this process enqueues inside spans of its own
// (an SDK with an in-memory exporter); a worker process with sdk-node runs the jobs through a Redis
// shard and exports its spans over OTLP/HTTP to a receiver here. One trace per job, as documented.
import test from 'ava';
import { SpanKind, trace } from '@opentelemetry/api';
import { InMemorySpanExporter, SimpleSpanProcessor } from '@opentelemetry/sdk-trace-base';
import { NodeTracerProvider } from '@opentelemetry/sdk-trace-node';
import { fileURLToPath } from 'node:url';
import { RedisBackend } from '../../src/backends/redis/redis-backend.js';
import { JobClient } from '../../src/processing/job-client.js';
import { createRouter } from '../../src/router/router.js';
import { otlpReceiver, type OtlpSpan } from '../helpers/otlp-receiver.js';
import { deleteRedisPrefix, freshPrefix, REDIS_URL } from '../helpers/servers.js';
import { spawnGuarded } from '../helpers/child.js';

const exporter = new InMemorySpanExporter();
const provider = new NodeTracerProvider({ spanProcessors: [new SimpleSpanProcessor(exporter)] });
provider.register(); // global tracer provider, W3C propagator and async context, as an application's SDK sets them

const attr = (s: OtlpSpan, key: string) => {
  const v = s.attributes.find((a) => a.key === key)?.value;
  return v?.stringValue ?? (v?.intValue !== undefined ? Number(v.intValue) : undefined);
};
// OTLP ids are hex in OTLP/JSON.
const OTLP_KIND = { CLIENT: 3, PRODUCER: 4, CONSUMER: 5 };
const OTLP_STATUS = { OK: 1, ERROR: 2 };

test('a job enqueued in one process and run in another yields one trace: request → send → process → handler span', async (t) => {
  t.timeout(90_000);
  const prefix = freshPrefix();
  const otlp = await otlpReceiver();
  const router = await createRouter({ shards: [{ id: 'redis-1', backend: new RedisBackend({ url: REDIS_URL, prefix }) }] });
  try {
    const storage = router.tenant('acme');
    const client = new JobClient(storage);
    const tracer = trace.getTracer('test-app');
    // 1. inside a request span; 2. a flaky one (retried); 3. no active span; 4. a malformed traceparent.
    const [okId, flakyId] = await tracer.startActiveSpan('GET /signup', async (request) => {
      const ids = [await client.enqueue('traced.ok', ['a'], { queue: 'traced' }), await client.enqueue('traced.flaky', ['b'], { queue: 'traced' })];
      request.end();
      return ids as [string, string];
    });
    const loneId = await client.enqueue('traced.ok', ['c'], { queue: 'traced' });
    const badId = await storage.jobs.create({
      type: 'traced.ok',
      args: ['d'],
      queue: 'traced',
      parameters: { traceparent: '00-zzzz-not-a-trace-01' },
      state: { name: 'Enqueued' },
      enqueue: true,
    });
    t.truthy((await storage.jobs.get(okId)).parameters['traceparent'], 'the producer context is stored with the job');

    const child = spawnGuarded(process.execPath, ['--import', 'tsx', fileURLToPath(new URL('../helpers/traced-worker.ts', import.meta.url))], {
      env: { ...process.env, OTEL_EXPORTER_OTLP_ENDPOINT: `http://127.0.0.1:${otlp.port}`, JOBSHARD_REDIS: REDIS_URL, JOBSHARD_PREFIX: prefix, JOBS: '4' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let output = '';
    child.stdout.on('data', (d) => (output += d));
    child.stderr.on('data', (d) => (output += d));
    const code = await new Promise<number | null>((r) => child.on('exit', r));
    t.is(code, 0, output);
    t.regex(output, /done 4/);

    const local = exporter.getFinishedSpans();
    const request = local.find((s) => s.name === 'GET /signup')!;
    const sends = local.filter((s) => s.name === 'send traced');
    t.is(sends.length, 3);
    for (const s of sends) t.is(s.kind, SpanKind.PRODUCER);
    const sendOf = (id: string) => sends.find((s) => s.attributes['messaging.message.id'] === id)!;
    t.is(sendOf(okId).parentSpanContext?.spanId, request.spanContext().spanId, 'send is a child of the request');
    t.is(sendOf(okId).attributes['jobshard.tenant'], 'acme');
    t.is(sendOf(okId).attributes['jobshard.shard.id'], 'redis-1');
    t.is(sendOf(loneId).parentSpanContext, undefined, 'no active span: the send starts its own trace');

    const remote = otlp.spans;
    const processes = remote.filter((s) => s.name === 'process traced');
    const runsOf = (id: string) => processes.filter((s) => attr(s, 'messaging.message.id') === id);
    // The run of the request's job: same trace, child of its send, with the documented attributes.
    const [okRun] = runsOf(okId);
    t.truthy(okRun, JSON.stringify(remote.map((s) => s.name)));
    t.is(okRun!.kind, OTLP_KIND.CONSUMER);
    t.is(okRun!.traceId, request.spanContext().traceId);
    t.is(okRun!.parentSpanId, sendOf(okId).spanContext().spanId);
    t.is(attr(okRun!, 'messaging.system'), 'jobshard');
    t.is(attr(okRun!, 'messaging.destination.name'), 'traced');
    t.is(attr(okRun!, 'jobshard.tenant'), 'acme');
    t.is(attr(okRun!, 'jobshard.shard.id'), 'redis-1');
    t.is(attr(okRun!, 'jobshard.job.type'), 'traced.ok');
    t.is(attr(okRun!, 'jobshard.job.attempt'), 1);
    t.is(okRun!.status?.code, OTLP_STATUS.OK);
    // The handler's own span is the run's child.
    const handlerSpans = remote.filter((s) => s.name === 'handler work' && s.traceId === okRun!.traceId);
    t.is(handlerSpans.length, 1);
    t.is(handlerSpans[0]!.parentSpanId, okRun!.spanId);

    // The retried job: two runs in the request's trace, the second linked to the first; the first failed.
    const flakyRuns = runsOf(flakyId).sort((a, b) => Number(attr(a, 'jobshard.job.attempt')) - Number(attr(b, 'jobshard.job.attempt')));
    t.is(flakyRuns.length, 2);
    t.deepEqual(
      flakyRuns.map((r) => attr(r, 'jobshard.job.attempt')),
      [1, 2],
    );
    for (const r of flakyRuns) t.is(r.traceId, request.spanContext().traceId);
    t.is(flakyRuns[0]!.status?.code, OTLP_STATUS.ERROR);
    t.true(
      (flakyRuns[0]!.events ?? []).some((e) => e.name === 'exception'),
      'a failure records an exception event',
    );
    t.is(flakyRuns[1]!.status?.code, OTLP_STATUS.OK);
    t.deepEqual(
      (flakyRuns[1]!.links ?? []).map((l) => l.spanId),
      [flakyRuns[0]!.spanId],
    );

    // No active span at enqueue: the run is in the send's own trace.
    t.is(runsOf(loneId)[0]!.traceId, sendOf(loneId).spanContext().traceId);
    // A malformed traceparent: the job still ran, in a trace of its own.
    const [badRun] = runsOf(badId);
    t.truthy(badRun);
    t.is(badRun!.parentSpanId ?? '', '');
    t.is((await storage.jobs.get(badId)).state, 'Succeeded');

    // Storage spans, with the shard.
    const storageSpans = remote.filter((s) => s.kind === OTLP_KIND.CLIENT && attr(s, 'db.operation.name') !== undefined);
    t.true(
      storageSpans.some((s) => s.name === 'queues.tryFetch'),
      [...new Set(storageSpans.map((s) => s.name))].join(', '),
    );
    t.true(storageSpans.some((s) => s.name === 'transaction.commit'));
    t.true(storageSpans.every((s) => attr(s, 'jobshard.shard.id') === 'redis-1'));
  } finally {
    otlp.close();
    await router.close();
    await deleteRedisPrefix(prefix);
  }
});

test('recurring and scheduled jobs carry the context of the code that scheduled them', async (t) => {
  const prefix = freshPrefix();
  const router = await createRouter({ shards: [{ id: 'redis-1', backend: new RedisBackend({ url: REDIS_URL, prefix }) }] });
  try {
    const storage = router.tenant('globex');
    const client = new JobClient(storage);
    const tracer = trace.getTracer('test-app');
    const { traceId, scheduledId } = await tracer.startActiveSpan('deploy', async (span) => {
      await client.addRecurring('nightly', '0 3 * * *', 'report', []);
      const id = await client.schedule('report', [], { delayMs: 60_000 });
      span.end();
      return { traceId: span.spanContext().traceId, scheduledId: id };
    });
    t.regex((await storage.jobs.get(scheduledId)).parameters['traceparent']!, new RegExp(`^00-${traceId}-`));
    // An occurrence created by the scheduler (here: triggered by the sweep as the server would) carries the registration's context.
    const { enqueueRecurring } = await import('../../src/processing/scheduler.js');
    await storage.transaction((tx) => tx.setAdd('recurring-jobs', 'nightly', Date.now() - 1));
    await enqueueRecurring(storage, Date.now(), () => true);
    const [occurrence] = await storage.monitoring.queueJobs('default');
    t.regex(occurrence!.parameters['traceparent']!, new RegExp(`^00-${traceId}-`));
    t.is(occurrence!.parameters['recurringJobId'], 'nightly');
  } finally {
    await router.close();
    await deleteRedisPrefix(prefix);
  }
});
