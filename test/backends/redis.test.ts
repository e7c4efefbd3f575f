import test from 'ava';
import { randomUUID } from 'node:crypto';
import { RedisBackend } from '../../src/backends/redis/redis-backend.js';
import { runConformance } from '../conformance/index.js';
import { deleteRedisPrefix, freshPrefix, REDIS_URL, TEST_POLL_MS } from '../helpers/servers.js';

// One key prefix for this file (deleted afterwards), one namespace per test.
const prefix = freshPrefix();
const backend = new RedisBackend({ url: REDIS_URL, prefix, pollIntervalMs: TEST_POLL_MS });
const fresh = () => backend.storage(`t-${randomUUID()}`);

runConformance(test, {
  name: 'redis',
  storage: async () => fresh(),
  pair: async () => [fresh(), fresh()],
  backend,
  teardown: async () => {
    await backend.close();
    await deleteRedisPrefix(prefix);
  },
});
