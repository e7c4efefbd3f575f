// The whole conformance suite on a real three-master Redis Cluster, through an ioredis Cluster client:
// each namespace's keys share a hash tag, so every multi-key script runs on one node.
import test from 'ava';
import { randomUUID } from 'node:crypto';
import { RedisBackend } from '../../src/backends/redis/redis-backend.js';
import { runConformance } from '../conformance/index.js';
import { PrivateRedisCluster } from '../helpers/redis-cluster.js';
import { TEST_POLL_MS } from '../helpers/servers.js';

const cluster = new PrivateRedisCluster();
await cluster.start();
const client = cluster.client();
const backend = new RedisBackend({ client, prefix: 'jobshard:', pollIntervalMs: TEST_POLL_MS });
const fresh = () => backend.storage(`t-${randomUUID()}`);

test('cluster: namespaces spread over all three masters', async (t) => {
  for (let i = 0; i < 30; i++) {
    const s = fresh();
    await s.transaction((tx) => tx.counterIncrement('c', 1));
  }
  const perNode = await Promise.all(client.nodes('master').map((n) => n.dbsize()));
  t.is(perNode.length, 3);
  t.true(
    perNode.every((n) => n > 0),
    `keys per master: ${perNode.join(', ')}`,
  );
});

runConformance(test, {
  name: 'redis-cluster',
  storage: async () => fresh(),
  pair: async () => [fresh(), fresh()],
  backend,
  teardown: async () => {
    await backend.close();
    client.disconnect();
    await cluster.stop();
  },
});
