import { randomBytes } from 'node:crypto';
import { MemoryBackend } from '../../src/backends/memory/memory-backend.js';
import { PostgresBackend } from '../../src/backends/postgres/postgres-backend.js';
import { RedisBackend } from '../../src/backends/redis/redis-backend.js';
import { Router, type RouterConfig } from '../../src/router/router.js';
import { deleteRedisPrefix, dropSchema, freshPrefix, freshSchema, PG_URL, REDIS_URL, TEST_POLL_MS } from './servers.js';

export const freshTenant = (p = 't') => `${p}${randomBytes(6).toString('hex')}`;

/** A router over one memory, one Postgres and one Redis shard (fresh schema and prefix), and its cleanup. */
export function mixedRouter(tenants: RouterConfig['tenants'] = {}, extra: Partial<RouterConfig> = {}) {
  const schema = freshSchema();
  const prefix = freshPrefix();
  const router = new Router({
    shards: [
      { id: 'mem', backend: new MemoryBackend({ pollIntervalMs: TEST_POLL_MS }) },
      { id: 'pg', backend: new PostgresBackend({ connectionString: PG_URL, schema, poolSize: 10 }) },
      { id: 'redis', backend: new RedisBackend({ url: REDIS_URL, prefix, pollIntervalMs: TEST_POLL_MS }) },
    ],
    tenants,
    ...extra,
  });
  const cleanup = async () => {
    await router.close();
    await dropSchema(schema);
    await deleteRedisPrefix(prefix);
  };
  return { router, cleanup, schema, prefix };
}
