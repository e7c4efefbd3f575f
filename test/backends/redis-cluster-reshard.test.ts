// Resharding a Redis Cluster while jobs run: `redis-cli --cluster reshard` moves a third of the
// slots (and the namespaces in them) from one master to another during a drain, so the scripts meet
// MOVED, ASK and TRYAGAIN. Every job runs, none is left Enqueued or Processing, none fails.
import test from 'ava';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { RedisBackend } from '../../src/backends/redis/redis-backend.js';
import { JobClient } from '../../src/processing/job-client.js';
import { JobServer } from '../../src/processing/job-server.js';
import { Router } from '../../src/router/router.js';
import { PrivateRedisCluster } from '../helpers/redis-cluster.js';

const run = promisify(execFile);

test('a drain over 30 tenants survives moving 5,461 slots between masters: none lost, none stuck, no error', async (t) => {
  t.timeout(110_000);
  const cluster = new PrivateRedisCluster();
  await cluster.start();
  const client = cluster.client();
  const router = new Router({ shards: [{ id: 'cluster', backend: new RedisBackend({ client, prefix: 'reshard:' }) }] });
  try {
    await router.open();
    const tenants = Array.from({ length: 30 }, (_, i) => `t${i}`);
    const jobs = new Set<string>();
    let next = 0;
    await Promise.all(
      Array.from({ length: 16 }, async () => {
        while (next < 5_000) {
          const i = next++;
          const tenant = tenants[i % tenants.length]!;
          jobs.add(`${tenant}/${await new JobClient(router.tenant(tenant)).enqueue('work', [i], { queue: 'q' })}`);
        }
      }),
    );
    const runs = new Map<string, number>();
    const errors: string[] = [];
    const server = new JobServer(router, {
      queues: ['q'],
      workerCount: 4,
      retry: { attempts: 1 },
      onError: (err) => errors.push(String(err)),
      handlers: {
        work: async (_args, ctx) => {
          await new Promise((r) => setTimeout(r, 6)); // slow enough that the drain outlasts the reshard
          const k = `${ctx.tenant}/${ctx.jobId}`;
          runs.set(k, (runs.get(k) ?? 0) + 1);
        },
      },
    });
    const nodes = (await run('redis-cli', ['-p', String(cluster.ports[0]), 'cluster', 'nodes'])).stdout
      .trim()
      .split('\n')
      .map((l) => l.split(' '));
    const idOf = (port: number) => nodes.find((n) => n[1]!.startsWith(`127.0.0.1:${port}@`))![0]!;
    await server.start();
    const reshard = run(
      'redis-cli',
      [
        '--cluster',
        'reshard',
        `127.0.0.1:${cluster.ports[0]}`,
        '--cluster-from',
        idOf(cluster.ports[0]!),
        '--cluster-to',
        idOf(cluster.ports[1]!),
        '--cluster-slots',
        '5461',
        '--cluster-yes',
      ],
      { maxBuffer: 64 << 20 },
    );
    const ranWhenStarted = runs.size;
    const ranWhenResharded = await reshard.then(() => runs.size);
    for (const deadline = Date.now() + 60_000; runs.size < jobs.size && Date.now() < deadline;) await new Promise((r) => setTimeout(r, 50));
    await server.stop();
    t.log(`${ranWhenStarted} then ${ranWhenResharded} of ${jobs.size} jobs had run when the reshard started and finished`);
    t.true(ranWhenResharded > ranWhenStarted && ranWhenStarted < jobs.size, 'jobs ran while the slots moved');
    t.deepEqual(
      [...jobs].filter((k) => !runs.has(k)),
      [],
      'no job lost',
    );
    const counts = await router.admin.tenantCounts(tenants);
    t.is(
      Object.values(counts).reduce((a, c) => a + (c['Enqueued'] ?? 0) + (c['Processing'] ?? 0) + (c['Failed'] ?? 0), 0),
      0,
      'none stuck or failed',
    );
    t.is(
      Object.values(counts).reduce((a, c) => a + (c['Succeeded'] ?? 0), 0),
      jobs.size,
    );
    t.deepEqual(errors, []);
  } finally {
    await router.close().catch(() => {});
    client.disconnect();
    await cluster.stop();
  }
});
