// End to end: the example service, set up with @opentelemetry/sdk-node from the standard
// OTEL_EXPORTER_OTLP_ENDPOINT variable, exports OTLP over HTTP to a receiver on loopback,
// which finds per-shard series for every shard id.
import test from 'ava';
import { otlpReceiver, type OtlpSpan } from '../helpers/otlp-receiver.js';
import { runTs } from '../helpers/run-ts.js';
import { fileURLToPath } from 'node:url';
import { deleteRedisPrefix, dropSchema, freshPrefix, freshSchema, PG_URL, REDIS_URL } from '../helpers/servers.js';

test('OTLP/HTTP export from an sdk-node application carries per-shard series', async (t) => {
  const receiver = await otlpReceiver();
  const { bodies, contentTypes, port } = receiver;
  const schema = freshSchema();
  const prefix = freshPrefix();
  try {
    const exit = await runTs(fileURLToPath(new URL('../../examples/metrics-app.ts', import.meta.url)), [], {
      env: {
        ...process.env,
        OTEL_EXPORTER_OTLP_ENDPOINT: `http://127.0.0.1:${port}`,
        OTEL_METRIC_EXPORT_INTERVAL: '300',
        RUN_MS: '1500',
        JOBSHARD_PG: PG_URL,
        JOBSHARD_REDIS: REDIS_URL,
        JOBSHARD_SCHEMA: schema,
        JOBSHARD_PREFIX: prefix,
      },
    });
    t.is(exit.code, 0, exit.out + exit.err);
    t.true(bodies.length >= 2, `${bodies.length} exports received`);
    t.deepEqual([...contentTypes], ['application/json']);
    const metrics = bodies.flatMap((b) =>
      b.resourceMetrics.flatMap((r) => r.scopeMetrics.filter((s) => s.scope.name === 'jobshard').flatMap((s) => s.metrics)),
    );
    const shardsOf = (name: string) =>
      new Set(
        metrics
          .filter((m) => m.name === name)
          .flatMap((m) => [...(m.sum?.dataPoints ?? []), ...(m.gauge?.dataPoints ?? []), ...(m.histogram?.dataPoints ?? [])])
          .map((p) => p.attributes.find((a) => a.key === 'jobshard.shard.id')?.value.stringValue),
      );
    for (const name of ['messaging.client.sent.messages', 'messaging.client.consumed.messages', 'db.client.operation.duration', 'jobshard.queue.depth']) {
      t.deepEqual([...shardsOf(name)].sort(), ['mem-1', 'pg-1', 'redis-1'], name);
    }
    const service = bodies[0]!.resourceMetrics[0]!.resource.attributes.find((a) => a.key === 'service.name')?.value.stringValue;
    t.is(service, 'jobshard-metrics-app');
    t.true(
      metrics.some((m) => m.name === 'jobshard.jobs.processed'),
      'processing metrics exported too',
    );
  } finally {
    receiver.close();
    await dropSchema(schema);
    await deleteRedisPrefix(prefix);
  }
});

test("examples/microservices: each service process exports its metrics and traces over OTLP; a job's trace runs api → mailer", async (t) => {
  const receiver = await otlpReceiver();
  const { bodies, spans, port } = receiver;
  const namespace = freshSchema();
  try {
    const exit = await runTs(
      fileURLToPath(new URL('../../examples/microservices/demo.ts', import.meta.url)),
      ['--postgres', PG_URL, '--redis', REDIS_URL, '--jobs', '200', '--namespace', namespace, '--keep-namespace', '1'],
      { env: { ...process.env, OTEL_EXPORTER_OTLP_ENDPOINT: `http://127.0.0.1:${port}`, OTEL_METRIC_EXPORT_INTERVAL: '300' } },
    );
    t.is(exit.code, 0, exit.out + exit.err);
    const services = new Set(bodies.map((b) => b.resourceMetrics[0]!.resource.attributes.find((a) => a.key === 'service.name')?.value.stringValue));
    for (const s of ['jobshard-api', 'jobshard-mailer', 'jobshard-reports', 'jobshard-demo'])
      t.true(services.has(s), `${s} exported (got ${[...services].join(', ')})`);
    const shards = new Set(
      bodies
        .flatMap((b) => b.resourceMetrics.flatMap((r) => r.scopeMetrics.flatMap((s) => s.metrics)))
        .filter((m) => m.name === 'messaging.client.sent.messages')
        .flatMap((m) => m.sum?.dataPoints ?? [])
        .map((p) => p.attributes.find((a) => a.key === 'jobshard.shard.id')?.value.stringValue),
    );
    t.deepEqual([...shards].sort(), ['pg-1', 'redis-1']);

    // One trace per request: api's request span → its send span → the mailer's process span → the handler's span.
    const byId = new Map(spans.map((s) => [s.spanId, s]));
    const runs = spans.filter((s) => s.name === 'process emails' && s.service === 'jobshard-mailer');
    t.true(runs.length > 0, `mailer spans: ${[...new Set(spans.map((s) => `${s.service}:${s.name}`))].join(', ')}`);
    const run = runs[0]!;
    const send = byId.get(run.parentSpanId!)!;
    t.is(send?.name, 'send emails');
    t.is(send.service, 'jobshard-api');
    t.is(send.traceId, run.traceId);
    const request = byId.get(send.parentSpanId!)!;
    t.is(request?.name, 'POST /emails');
    t.is(request.service, 'jobshard-api');
    const work = spans.filter((s) => s.parentSpanId === run.spanId);
    t.deepEqual(
      work.map((s) => [s.name, s.service]),
      [['email.send work', 'jobshard-mailer']],
    );
    // The trace, as a tree with offsets from its start (what docs show).
    const depth = (s: OtlpSpan): number => (s.parentSpanId && byId.has(s.parentSpanId) ? 1 + depth(byId.get(s.parentSpanId)!) : 0);
    const trace = spans.filter((s) => s.traceId === run.traceId).sort((a, b) => depth(a) - depth(b));
    const t0 = BigInt(trace[0]!.startTimeUnixNano);
    t.log(
      `\n${trace.map((s) => `${'  '.repeat(depth(s))}${s.name} [${s.service}] +${Number(BigInt(s.startTimeUnixNano) - t0) / 1e6} ms, ${Number(BigInt(s.endTimeUnixNano) - BigInt(s.startTimeUnixNano)) / 1e6} ms`).join('\n')}`,
    );
  } finally {
    receiver.close();
    await dropSchema(namespace);
    const { Redis } = await import('ioredis');
    const r = new Redis(REDIS_URL);
    const keys = await r.keys(`${namespace}:*`);
    if (keys.length) await r.del(...keys);
    r.disconnect();
  }
});
