import { RedisBackend } from '../../src/backends/redis/redis-backend.js';
import { JobClient } from '../../src/processing/job-client.js';
import { JobServer } from '../../src/processing/job-server.js';
import { Router } from '../../src/router/router.js';
import type { PrivateRedisCluster } from './redis-cluster.js';

export interface ReshardDrainOptions {
  jobs: number;
  tenants: number;
  /** Key prefix of this run, so runs on one cluster do not meet. */
  prefix: string;
  invisibilityTimeoutMs: number;
  pollIntervalMs?: number;
  /** How long each job's handler takes. */
  handlerMs: number;
  /** Slots moved from the first master to the second while the jobs drain. */
  slots: number;
}

export interface ReshardDrainResult {
  jobs: Set<string>;
  /** Runs per job, by "<tenant>/<job id>". */
  runs: Map<string, number>;
  /** Errors the server survived. */
  errors: string[];
  reshardMs: number;
  /** Jobs first run while the slots moved. */
  ranDuring: number;
  /** Jobs in a state other than Succeeded after the drain, by state. */
  left: Record<string, number>;
}

/**
 * Enqueues `jobs` jobs round-robin over `tenants` tenants of a router on the cluster, starts one
 * JobServer for them all, and moves `slots` slots between two masters while it drains them. Waits
 * past the leases for every job to run and succeed (at most 30 s), then reports what happened.
 * `npm run bench:reshard` and test/backends/redis-cluster-reshard.test.ts both run it.
 */
export async function drainDuringReshard(cluster: PrivateRedisCluster, o: ReshardDrainOptions): Promise<ReshardDrainResult> {
  const client = cluster.client();
  const router = new Router({
    shards: [{ id: 'cluster', backend: new RedisBackend({ client, prefix: o.prefix, ...(o.pollIntervalMs ? { pollIntervalMs: o.pollIntervalMs } : {}) }) }],
  });
  try {
    await router.open();
    const tenants = Array.from({ length: o.tenants }, (_, i) => `t${i}`);
    const jobs = new Set<string>();
    let next = 0;
    await Promise.all(
      Array.from({ length: 16 }, async () => {
        while (next < o.jobs) {
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
      invisibilityTimeoutMs: o.invisibilityTimeoutMs,
      onError: (err) => errors.push(String(err).slice(0, 200)),
      handlers: {
        work: async (_args, ctx) => {
          await new Promise((r) => setTimeout(r, o.handlerMs));
          const k = `${ctx.tenant}/${ctx.jobId}`;
          runs.set(k, (runs.get(k) ?? 0) + 1);
        },
      },
    });
    await server.start();
    const started = Date.now();
    const ranBefore = runs.size;
    await cluster.reshard(0, 1, o.slots);
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
    return { jobs, runs, errors, reshardMs, ranDuring, left };
  } finally {
    await router.close().catch(() => {});
    client.disconnect();
  }
}
