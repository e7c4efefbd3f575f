import test from 'ava';
import { randomUUID } from 'node:crypto';
import { RedisBackend } from '../../src/backends/redis/redis-backend.js';
import { deleteRedisPrefix, freshPrefix, REDIS_URL } from '../helpers/servers.js';
import { processingSuite } from './suite.js';

const prefix = freshPrefix();
const backend = new RedisBackend({ url: REDIS_URL, prefix });
test.after.always(async () => {
  await backend.close();
  await deleteRedisPrefix(prefix);
});
processingSuite(test, 'redis', async () => backend.storage(`p-${randomUUID()}`));
