// End to end through a receiver nobody here wrote: Debian's Prometheus scrapes the OpenTelemetry
// Prometheus exporter of the running example service, and Prometheus's HTTP API returns per-shard
// series with the expected shard ids.
import test from 'ava';
import { type ChildProcess } from 'node:child_process';
import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { freePort } from '../helpers/redis-server.js';
import { deleteRedisPrefix, dropSchema, freshPrefix, freshSchema, PG_URL, REDIS_URL } from '../helpers/servers.js';
import { spawnGuarded } from '../helpers/child.js';

function waitForLine(child: ChildProcess, re: RegExp, ms: number): Promise<void> {
  return new Promise((resolve, reject) => {
    let out = '';
    const timer = setTimeout(() => reject(new Error(`no ${re} within ${ms} ms: ${out}`)), ms);
    const on = (d: Buffer) => {
      out += d;
      if (re.test(out)) {
        clearTimeout(timer);
        resolve();
      }
    };
    child.stdout?.on('data', on);
    child.stderr?.on('data', on);
  });
}

async function query(port: number, promql: string): Promise<Array<{ metric: Record<string, string>; value: [number, string] }>> {
  const res = await fetch(`http://127.0.0.1:${port}/api/v1/query?query=${encodeURIComponent(promql)}`);
  const body = (await res.json()) as { status: string; data: { result: Array<{ metric: Record<string, string>; value: [number, string] }> } };
  return body.status === 'success' ? body.data.result : [];
}

test('Prometheus scrapes the example service and serves per-shard series', async (t) => {
  const [exporterPort, promPort] = [await freePort(), await freePort()];
  const schema = freshSchema();
  const prefix = freshPrefix();
  const dir = await mkdtemp(join(tmpdir(), 'jobshard-prom-'));
  await writeFile(
    join(dir, 'prometheus.yml'),
    [
      'global:',
      '  scrape_interval: 1s',
      'scrape_configs:',
      '  - job_name: jobshard-example',
      '    static_configs:',
      `      - targets: ['127.0.0.1:${exporterPort}']`,
    ].join('\n'),
  );
  const app = spawnGuarded(process.execPath, ['--import', 'tsx', fileURLToPath(new URL('../../examples/metrics-app.ts', import.meta.url))], {
    env: {
      ...process.env,
      JOBSHARD_PROMETHEUS_PORT: String(exporterPort),
      JOBSHARD_PG: PG_URL,
      JOBSHARD_REDIS: REDIS_URL,
      JOBSHARD_SCHEMA: schema,
      JOBSHARD_PREFIX: prefix,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const prometheus = spawnGuarded(
    'prometheus',
    [`--config.file=${join(dir, 'prometheus.yml')}`, `--storage.tsdb.path=${join(dir, 'data')}`, `--web.listen-address=127.0.0.1:${promPort}`],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  );
  try {
    await waitForLine(app, /metrics-app running/, 30_000);
    await waitForLine(prometheus, /Server is ready to receive web requests/, 30_000);
    let sent: Awaited<ReturnType<typeof query>> = [];
    for (let i = 0; i < 60 && new Set(sent.map((r) => r.metric['jobshard_shard_id'])).size < 3; i++) {
      await new Promise((r) => setTimeout(r, 500));
      sent = await query(promPort, 'sum by (jobshard_shard_id, jobshard_backend) (messaging_client_sent_messages_total)');
    }
    t.deepEqual(sent.map((r) => [r.metric['jobshard_shard_id'], r.metric['jobshard_backend']]).sort(), [
      ['mem-1', 'memory'],
      ['pg-1', 'postgres'],
      ['redis-1', 'redis'],
    ]);
    for (const r of sent) t.true(Number(r.value[1]) > 0, `${r.metric['jobshard_shard_id']} counted enqueues`);
    const up = await query(promPort, 'jobshard_shard_up');
    t.deepEqual(up.map((r) => [r.metric['jobshard_shard_id'], r.value[1]]).sort(), [
      ['mem-1', '1'],
      ['pg-1', '1'],
      ['redis-1', '1'],
    ]);
    const latency = await query(promPort, 'sum by (jobshard_shard_id) (db_client_operation_duration_count)');
    t.deepEqual(latency.map((r) => r.metric['jobshard_shard_id']).sort(), ['mem-1', 'pg-1', 'redis-1']);
  } finally {
    prometheus.kill('SIGTERM');
    app.kill('SIGTERM');
    await new Promise((r) => app.once('exit', r));
    await dropSchema(schema);
    await deleteRedisPrefix(prefix);
  }
});
