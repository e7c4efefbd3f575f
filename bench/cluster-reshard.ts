// Resharding a Redis Cluster while jobs run. Run: npm run bench:reshard (RESHARD_JOBS, RESHARD_ROUNDS)
// A private 3-master cluster; RESHARD_JOBS jobs over 30 tenants; a JobServer drains them while
// `redis-cli --cluster reshard` moves 5,461 slots between masters. Per round it counts jobs lost
// (never run), runs beyond the first, and jobs left in a state other than Succeeded once the
// drain is done, with the server's errors. Exits 1 if any job is lost or left behind.
// test/backends/redis-cluster-reshard.test.ts runs a short version in npm test.
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { RedisBackend } from '../src/backends/redis/redis-backend.js';
import { JobClient } from '../src/processing/job-client.js';
import { JobServer } from '../src/processing/job-server.js';
import { Router } from '../src/router/router.js';
import { PrivateRedisCluster } from '../test/helpers/redis-cluster.js';

const run = promisify(execFile);
const JOBS = Number(process.env['RESHARD_JOBS'] ?? 20_000);
const ROUNDS = Number(process.env['RESHARD_ROUNDS'] ?? 3);
process.env['JOBSHARD_ALLOW_REDIS_WITHOUT_AOF'] = '1';

async function round(): Promise<{ lost: number; duplicates: number; left: Record<string, number>; errors: string[]; reshardMs: number; ranDuring: number }> {
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
        while (next < JOBS) {
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
      workerCount: 8,
      invisibilityTimeoutMs: 5_000,
      onError: (err) => errors.push(String(err).slice(0, 200)),
      handlers: {
        work: async (_args, ctx) => {
          await new Promise((r) => setTimeout(r, 3));
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
    const started = Date.now();
    const ranBefore = runs.size;
    await run(
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
    const reshardMs = Date.now() - started;
    const ranDuring = runs.size - ranBefore;
    // Past every lease: a job whose outcome was not written comes back and runs again.
    for (const deadline = Date.now() + 30_000; Date.now() < deadline;) {
      const counts = await router.admin.tenantCounts(tenants);
      if (runs.size === jobs.size && Object.values(counts).every((c) => Object.keys(c).every((s) => s === 'Succeeded'))) break;
      await new Promise((r) => setTimeout(r, 200));
    }
    await server.stop();
    const left: Record<string, number> = {};
    for (const c of Object.values(await router.admin.tenantCounts(tenants)))
      for (const [s, n] of Object.entries(c)) if (s !== 'Succeeded') left[s] = (left[s] ?? 0) + n;
    return {
      lost: [...jobs].filter((k) => !runs.has(k)).length,
      duplicates: [...runs.values()].reduce((a, n) => a + n - 1, 0),
      left,
      errors,
      reshardMs,
      ranDuring,
    };
  } finally {
    await router.close().catch(() => {});
    client.disconnect();
    await cluster.stop();
  }
}

let broken = false;
for (let i = 0; i < ROUNDS; i++) {
  const r = await round();
  console.log(
    `round ${i + 1}: ${JOBS} jobs, reshard ${r.reshardMs} ms with ${r.ranDuring} runs during it; lost ${r.lost}, runs beyond the first ${r.duplicates}, left ${JSON.stringify(r.left)}, server errors ${r.errors.length}${r.errors.length ? `: ${r.errors.slice(0, 3).join(' | ')}` : ''}`,
  );
  if (r.lost > 0 || Object.keys(r.left).length > 0) broken = true;
}
process.exitCode = broken ? 1 : 0;
