// Real operations over mixed shards (memory, Postgres, Redis), read back through an in-memory
// OpenTelemetry reader: each instrument appears with the right shard attributes and counts.
import test from 'ava';
import { AggregationTemporality, MeterProvider, MetricReader, type DataPoint, type ResourceMetrics } from '@opentelemetry/sdk-metrics';
import { JobClient } from '../../src/processing/job-client.js';
import { JobServer } from '../../src/processing/job-server.js';
import { delay, enqueueJob } from '../conformance/helpers.js';
import { mixedRouter } from '../helpers/mixed-router.js';
import { ShardTelemetry } from '../../src/telemetry/shard-telemetry.js';

class TestReader extends MetricReader {
  protected async onForceFlush() {}
  protected async onShutdown() {}
}

function points(rm: ResourceMetrics, name: string): Array<DataPoint<unknown>> {
  return rm.scopeMetrics
    .flatMap((s) => s.metrics)
    .filter((m) => m.descriptor.name === name)
    .flatMap((m) => m.dataPoints as Array<DataPoint<unknown>>);
}
const sum = (ps: Array<DataPoint<unknown>>, where: Record<string, unknown>) =>
  ps
    .filter((p) => Object.entries(where).every(([k, v]) => p.attributes[k] === v))
    .reduce((a, p) => a + (typeof p.value === 'number' ? p.value : (p.value as { count: number }).count), 0);

test('storage metrics: per shard and backend, counts equal the operations done', async (t) => {
  const reader = new TestReader({ aggregationTemporalitySelector: () => AggregationTemporality.CUMULATIVE });
  const provider = new MeterProvider({ readers: [reader] });
  const tenants = { onmem: { shard: 'mem' }, onpg: { shard: 'pg' }, onredis: { shard: 'redis' } };
  const { router, cleanup } = mixedRouter(tenants, { telemetry: { meterProvider: provider } });
  t.teardown(cleanup);
  for (const tenant of Object.keys(tenants)) {
    const s = router.tenant(tenant);
    const client = new JobClient(s);
    // Both ways into a queue count as enqueues: in the creating write (the client's) and in a transaction.
    for (let i = 0; i < 3; i++) await client.enqueue('t', [i], { queue: 'q' });
    for (let i = 3; i < 5; i++) await enqueueJob(s, 'q', 't', [i]);
    const fetched = [await s.queues.fetch(['q']), await s.queues.fetch(['q']), await s.queues.fetch(['q'], { invisibilityTimeoutMs: 50 })];
    await fetched[0]!.ack();
    // Both ways to acknowledge count: the fetched job's ack, and a transaction's removeFromQueue.
    await s.transaction((tx) => tx.removeFromQueue(fetched[1]!));
    await delay(120);
    const again = await s.queues.fetch(['q']); // the third, re-delivered
    t.is(again.deliveries, 2);
    await again.requeue();
    for (let i = 0; i < 2; i++) await (await s.locks.acquire('l', { timeoutMs: 0 })).release();
    const held = await s.locks.acquire('l', { timeoutMs: 0 });
    await t.throwsAsync(s.locks.acquire('l', { timeoutMs: 20 }));
    await held.release();
  }
  const { resourceMetrics: rm, errors } = await reader.collect();
  t.deepEqual(errors, []);
  const kinds = { mem: 'memory', pg: 'postgres', redis: 'redis' };
  for (const [shard, kind] of Object.entries(kinds)) {
    const on = { 'jobshard.shard.id': shard, 'jobshard.backend': kind };
    t.is(sum(points(rm, 'messaging.client.sent.messages'), { ...on, 'messaging.destination.name': 'q' }), 5, `${shard} enqueued`);
    t.is(sum(points(rm, 'messaging.client.consumed.messages'), on), 4, `${shard} fetched`);
    t.is(sum(points(rm, 'jobshard.jobs.acknowledged'), on), 2, `${shard} acked`);
    t.is(sum(points(rm, 'jobshard.jobs.redelivered'), on), 1, `${shard} redelivered`);
    t.is(sum(points(rm, 'jobshard.lock.timeouts'), on), 1, `${shard} lock timeouts`);
    t.is(sum(points(rm, 'jobshard.lock.wait.duration'), on), 4, `${shard} lock acquisitions`);
    const commits = points(rm, 'db.client.operation.duration').filter(
      (p) => p.attributes['jobshard.shard.id'] === shard && p.attributes['db.operation.name'] === 'transaction.commit',
    );
    t.is(sum(commits, {}), 3, `${shard} commits`);
    t.is(sum(points(rm, 'db.client.operation.duration'), { ...on, 'db.operation.name': 'jobs.create' }), 5, `${shard} creates`);
    const h = commits[0]!.value as { sum: number; count: number };
    t.true(h.sum > 0 && h.sum / h.count < 1, `${shard} plausible commit durations (mean ${((h.sum / h.count) * 1000).toFixed(2)} ms)`);
    t.is(sum(points(rm, 'db.client.operation.duration'), { ...on, 'error.type': 'LOCK_TIMEOUT' }), 1);
    // Gauges, read once per shard per collection.
    t.is(sum(points(rm, 'jobshard.queue.depth'), { ...on, 'messaging.destination.name': 'q', 'jobshard.queue.state': 'waiting' }), 3, `${shard} waiting`);
    t.is(sum(points(rm, 'jobshard.queue.depth'), { ...on, 'messaging.destination.name': 'q', 'jobshard.queue.state': 'in_flight' }), 0, `${shard} in flight`);
    t.is(sum(points(rm, 'jobshard.shard.up'), on), 1);
    t.is(sum(points(rm, 'jobshard.shard.circuit.state'), on), 0);
    for (const p of points(rm, 'db.client.operation.duration').filter((x) => x.attributes['jobshard.shard.id'] === shard)) {
      t.is(p.attributes['jobshard.backend'], kind);
      t.is(p.attributes['jobshard.tenant'], undefined, 'no tenant attribute unless asked for');
    }
  }
  t.true(sum(points(rm, 'db.client.connection.count'), { 'jobshard.shard.id': 'pg' }) >= 1, 'pool connections reported for postgres');
  // Drain every queue: the depth series report 0 instead of disappearing.
  for (const tenant of Object.keys(tenants)) {
    const s = router.tenant(tenant);
    for (let f = await s.queues.tryFetch(['q']); f; f = await s.queues.tryFetch(['q'])) await f.ack();
  }
  const drained = (await reader.collect()).resourceMetrics;
  for (const shard of Object.keys(kinds)) {
    const depth = points(drained, 'jobshard.queue.depth').filter((p) => p.attributes['jobshard.shard.id'] === shard);
    t.is(depth.length, 2, `${shard}: waiting and in_flight series still there`);
    t.is(sum(depth, {}), 0);
  }
  t.is(sum(points(rm, 'jobshard.redis.connection.ready'), { 'jobshard.shard.id': 'redis' }), 1);
  await provider.shutdown();
});

test('tenant attribute: opt-in, capped per shard, the rest folded into other', async (t) => {
  const reader = new TestReader();
  const provider = new MeterProvider({ readers: [reader] });
  const names = ['ta', 'tb', 'tc', 'td'];
  const { router, cleanup } = mixedRouter(Object.fromEntries(names.map((n) => [n, { shard: 'mem' }])), {
    telemetry: { meterProvider: provider, tenantAttribute: true, maxTenantsPerShard: 2 },
  });
  t.teardown(cleanup);
  for (const n of names) await new JobClient(router.tenant(n)).enqueue('t', [], { queue: 'q' });
  const { resourceMetrics: rm } = await reader.collect();
  const sent = points(rm, 'messaging.client.sent.messages');
  t.deepEqual(sent.map((p) => [p.attributes['jobshard.tenant'], p.value]).sort(), [
    ['other', 2],
    ['ta', 1],
    ['tb', 1],
  ]);
  await provider.shutdown();
});

test('processing metrics: job duration, outcomes and attempts', async (t) => {
  const reader = new TestReader();
  const provider = new MeterProvider({ readers: [reader] });
  const { router, cleanup } = mixedRouter({ proc: { shard: 'redis' } });
  t.teardown(cleanup);
  const s = router.tenant('proc');
  const server = new JobServer(s, {
    meterProvider: provider,
    schedulerIntervalMs: 20,
    retry: { attempts: 2, baseDelayMs: 10, jitter: 0 },
    handlers: {
      ok: async () => {
        await delay(5);
      },
      bad: () => {
        throw new Error('x');
      },
    },
  });
  await server.start();
  const client = new JobClient(s);
  const ids = [await client.enqueue('ok', []), await client.enqueue('ok', []), await client.enqueue('bad', [])];
  while ((await Promise.all(ids.map(async (id) => (await s.jobs.get(id)).state))).some((st) => st !== 'Succeeded' && st !== 'Failed')) await delay(20);
  await server.stop();
  const { resourceMetrics: rm } = await reader.collect();
  const processed = points(rm, 'jobshard.jobs.processed');
  t.is(sum(processed, { 'jobshard.job.outcome': 'succeeded', 'jobshard.job.type': 'ok' }), 2);
  t.is(sum(processed, { 'jobshard.job.outcome': 'retried', 'jobshard.job.type': 'bad' }), 1);
  t.is(sum(processed, { 'jobshard.job.outcome': 'failed', 'jobshard.job.type': 'bad' }), 1);
  const attempts = points(rm, 'jobshard.job.attempts').find((p) => p.attributes['jobshard.job.outcome'] === 'failed')!.value as { sum: number; count: number };
  t.is(attempts.sum, 2, 'the final failure was attempt 2');
  const durations = points(rm, 'jobshard.job.duration').find((p) => p.attributes['jobshard.job.outcome'] === 'succeeded')!.value as {
    sum: number;
    count: number;
    min: number;
  };
  t.is(durations.count, 2);
  t.true(durations.min >= 0.004, `min ${durations.min}s covers the 5 ms handler`);
  t.is(processed[0]!.attributes['jobshard.server.id'], server.id);
  for (const p of [...processed, ...points(rm, 'jobshard.job.duration')]) {
    t.is(p.attributes['jobshard.shard.id'], 'redis', "processing metrics carry the shard of the job's queue");
    t.is(p.attributes['jobshard.backend'], 'redis');
  }
  await provider.shutdown();
});

test('no SDK installed: telemetry is not even installed (it could never record); with a provider it is', (t) => {
  t.false(new ShardTelemetry({}, (ns) => ns).enabled);
  const provider = new MeterProvider({ readers: [new TestReader()] });
  t.true(new ShardTelemetry({ meterProvider: provider }, (ns) => ns).enabled);
});

test('no SDK installed: metrics are a no-op and nothing breaks', async (t) => {
  const { router, cleanup } = mixedRouter({ plain: { shard: 'mem' } });
  t.teardown(cleanup);
  const id = await new JobClient(router.tenant('plain')).enqueue('t', []);
  t.is((await router.tenant('plain').jobs.get(id)).state, 'Enqueued');
});
