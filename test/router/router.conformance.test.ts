// The whole contract through the router, over mixed shards (memory, Postgres, Redis), tenants placed by hashing.
import test from 'ava';
import { runConformance } from '../conformance/index.js';
import { freshTenant, mixedRouter } from '../helpers/mixed-router.js';

const { router, cleanup } = mixedRouter();
runConformance(test, {
  name: 'router',
  storage: async () => router.tenant(freshTenant()),
  pair: async () => [router.tenant(freshTenant()), router.tenant(freshTenant())],
  teardown: cleanup,
});

test('router: fresh tenants land on every shard kind', (t) => {
  const shards = new Set(Array.from({ length: 60 }, () => router.shardFor(freshTenant()).shard));
  t.deepEqual([...shards].sort(), ['mem', 'pg', 'redis']);
});
