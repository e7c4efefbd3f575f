// One process of a service fleet: a router over shared shards and a shared Postgres directory store.
// Usage: tsx fleet-router.ts '<json FleetConfig>'
// Prints "ready <epoch>", then "done <tenant> <jobId>" per job run (serve) and
// "epoch <n> <ms since the Unix epoch> <shard of each watched tenant, comma-separated>" per directory epoch adopted (watch),
// and "pinned <epoch>" once its pin (if any) is done.
import { pathToFileURL } from 'node:url';
import { JobServer } from '../../src/processing/job-server.js';
import { createRouter, type RouterConfig } from '../../src/router/router.js';

export interface FleetShard {
  id: string;
  redisPrefix?: string;
  pgSchema?: string;
  /** This shard's own Redis (instead of the fleet's `redis`), or a Redis Cluster by its seed nodes. */
  redisUrl?: string;
  redisCluster?: string[];
  /** This shard's own Postgres (instead of the fleet's `pg`). */
  pgUrl?: string;
}
export interface FleetConfig {
  pg: string;
  redis: string;
  shards: FleetShard[];
  /** Connections per Postgres shard (4 unless set): a fleet of many processes must stay under the server's max_connections. */
  pgPoolSize?: number;
  /** The directory store: a Postgres schema, or (when set) a Redis prefix. */
  directorySchema: string;
  directoryRedisPrefix?: string;
  /** The directory store's connection name (Redis CLIENT SETNAME), so a test can find and kill its connections. */
  directoryConnectionName?: string;
  push?: boolean;
  pollMs?: number;
  serve?: string[];
  watch?: string[];
  /** [unit, shard]: pinned after ready. */
  pin?: [string, string];
  /** The tenant map's tenants (weights, caps, pins). */
  tenants?: RouterConfig['tenants'];
}

export function fleetRouterConfig(cfg: FleetConfig): RouterConfig {
  return {
    shards: cfg.shards.map((s) => ({
      id: s.id,
      backend:
        s.redisPrefix !== undefined
          ? {
              redis: {
                // A slot with many keys takes seconds to migrate: calls wait it out (docs/backends.md).
                ...(s.redisCluster ? { cluster: s.redisCluster, clusterOptions: { maxRedirections: 100 } } : { url: s.redisUrl ?? cfg.redis }),
                prefix: s.redisPrefix,
                pollIntervalMs: 1_000,
              },
            }
          : { postgres: { connectionString: s.pgUrl ?? cfg.pg, schema: s.pgSchema!, poolSize: cfg.pgPoolSize ?? 4 } },
    })),
    ...(cfg.tenants ? { tenants: cfg.tenants } : {}),
    directory: {
      backend:
        cfg.directoryRedisPrefix !== undefined
          ? { redis: { url: cfg.redis, prefix: cfg.directoryRedisPrefix, redis: { connectionName: cfg.directoryConnectionName ?? 'jobshard-fleet' } } }
          : { postgres: { connectionString: cfg.pg, schema: cfg.directorySchema, poolSize: 2 } },
      ...(cfg.push !== undefined ? { push: cfg.push } : {}),
      ...(cfg.pollMs !== undefined ? { pollMs: cfg.pollMs } : {}),
    },
  };
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const cfg = JSON.parse(process.argv[2]!) as FleetConfig;
  const router = await createRouter(fleetRouterConfig(cfg));
  for (const tenant of cfg.serve ?? []) {
    const server = new JobServer(router.tenant(tenant), {
      queues: ['q'],
      workerCount: 1,
      heartbeatIntervalMs: 5_000,
      schedulerIntervalMs: 5_000,
      handlers: { work: async (_args, ctx) => void process.stdout.write(`done ${tenant} ${ctx.jobId}\n`) },
      onError: (err) => process.stderr.write(`server error ${tenant}: ${(err as Error).message}\n`),
    });
    await server.start();
  }
  let seen = router.directory.record.epoch;
  if (cfg.watch !== undefined) {
    const watched = cfg.watch;
    setInterval(() => {
      const epoch = router.directory.record.epoch;
      if (epoch !== seen) {
        seen = epoch;
        process.stdout.write(`epoch ${epoch} ${performance.timeOrigin + performance.now()} ${watched.map((t) => router.shardFor(t).shard).join(',')}\n`);
      }
    }, 1);
  }
  process.stdout.write(`ready ${seen}\n`);
  if (cfg.pin) {
    const { epoch } = await router.admin.pin(cfg.pin[0], cfg.pin[1]);
    process.stdout.write(`pinned ${epoch}\n`);
  }
}
