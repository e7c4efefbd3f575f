// jobshard on one Redis shard, one Postgres shard, or routed over 2 Redis + 2 Postgres shards.
import type { Backend, Storage } from '../../src/index.js';
import { loadBuild } from './jobshard-build.js';
import { deleteRedisPrefix, dropSchema, freshPrefix, freshSchema, PG_URL, REDIS_URL } from '../../test/helpers/servers.js';
import { CONCURRENCY, type Subject } from './subject.js';

const { JobClient, JobServer, PostgresBackend, RedisBackend, Router } = await loadBuild();

/**
 * How long succeeded jobs are kept. 0 deletes each as it succeeds, as BullMQ's removeOnComplete (set
 * in its subject) and graphile-worker do: like for like. The default keeps them a day, with their
 * history, which the peers do not.
 */
export type Retention = 'delete' | 'day';

const RETENTION: Record<Retention, { retentionMs: number; name: string; config: string }> = {
  delete: { retentionMs: 0, name: 'jobshard', config: "retentionMs 0 (each job deleted as it succeeds, like the peers' removal on completion)" },
  day: { retentionMs: 86_400_000, name: 'jobshard, jobs kept', config: 'default retentionMs: succeeded jobs kept a day with their state history' },
};

/**
 * prefetch, the setting for many short jobs in docs/processing.md (as graphile-worker's local
 * queue, set in its subject from its performance page): each server may hold twice its worker count.
 */
const PREFETCH_PER_WORKER = 2;

/**
 * markProcessingAfterMs, the other setting for many short jobs: a no-op run writes its
 * Processing state with its outcome, one write of the job instead of two (docs/processing.md).
 */
const MARK_PROCESSING_AFTER_MS = 100;

/** One JobClient and one JobServer per storage; producers and workers spread evenly over the storages. */
function subject(retention: Retention, server: Subject['server'], config: string, storages: Storage[], close: () => Promise<void>): Subject {
  const { retentionMs, name, config: kept } = RETENTION[retention];
  const clients = storages.map((s) => new JobClient(s));
  let next = 0;
  return {
    name,
    server,
    config: `${config}; markProcessingAfterMs ${MARK_PROCESSING_AFTER_MS}; ${kept}; run from its build (dist/, as the package ships, like the peers' published JavaScript)`,
    enqueue: async () => {
      await clients[next++ % clients.length]!.enqueue('noop', []);
    },
    async start(onJob) {
      const workerCount = CONCURRENCY / storages.length;
      const servers = storages.map(
        (s) =>
          new JobServer(s, {
            workerCount,
            prefetch: PREFETCH_PER_WORKER * workerCount,
            markProcessingAfterMs: MARK_PROCESSING_AFTER_MS,
            retentionMs,
            handlers: { noop: () => onJob() },
          }),
      );
      await Promise.all(servers.map((s) => s.start()));
      return async () => {
        await Promise.all(servers.map((s) => s.stop()));
      };
    },
    close,
  };
}

export function jobshardRedis(retention: Retention): Subject {
  const prefix = freshPrefix();
  const backend = new RedisBackend({ url: REDIS_URL, prefix });
  return subject(
    retention,
    'redis',
    'JobServer workerCount 32, prefetch 64; one ioredis connection (pipelined) plus one for wake-ups',
    [backend.storage('bench')],
    async () => {
      await backend.close();
      await deleteRedisPrefix(prefix);
    },
  );
}

export function jobshardPostgres(retention: Retention): Subject {
  const schema = freshSchema();
  const backend = new PostgresBackend({ connectionString: PG_URL, schema, poolSize: 10 });
  return subject(
    retention,
    'postgres',
    'JobServer workerCount 32, prefetch 64; pool of 10 (batched calls need few connections); LISTEN/NOTIFY wake-ups',
    [backend.storage('bench')],
    async () => {
      await backend.close();
      await dropSchema(schema);
    },
  );
}

/** Four tenants, each pinned to its own shard, each with a quarter of the producers and workers. */
export function jobshardRouted(): Subject {
  const prefixes = [freshPrefix(), freshPrefix()];
  const schemas = [freshSchema(), freshSchema()];
  const router = new Router({
    shards: [
      { id: 'redis-1', backend: new RedisBackend({ url: REDIS_URL, prefix: prefixes[0] }) as Backend },
      { id: 'redis-2', backend: new RedisBackend({ url: REDIS_URL, prefix: prefixes[1] }) as Backend },
      { id: 'pg-1', backend: new PostgresBackend({ connectionString: PG_URL, schema: schemas[0]!, poolSize: 10 }) as Backend },
      { id: 'pg-2', backend: new PostgresBackend({ connectionString: PG_URL, schema: schemas[1]!, poolSize: 10 }) as Backend },
    ],
    tenants: { acme: { shard: 'redis-1' }, globex: { shard: 'redis-2' }, initech: { shard: 'pg-1' }, umbrella: { shard: 'pg-2' } },
  });
  return subject(
    'delete',
    '2 redis + 2 postgres',
    'Router, 4 tenants pinned one per shard; a JobServer of 8 workers (prefetch 16) per tenant; jobs spread evenly',
    ['acme', 'globex', 'initech', 'umbrella'].map((t) => router.tenant(t)),
    async () => {
      await router.close();
      for (const p of prefixes) await deleteRedisPrefix(p!);
      for (const s of schemas) await dropSchema(s!);
    },
  );
}
