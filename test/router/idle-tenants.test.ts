// A process that has served many tenants keeps nothing for the idle ones: the router's, the
// shards' and the backends' per-tenant objects are held only while in use (storage/weak-cache.ts).
import test from 'ava';
import { collect } from '../helpers/gc.js';
import { PostgresBackend } from '../../src/backends/postgres/postgres-backend.js';
import { RedisBackend } from '../../src/backends/redis/redis-backend.js';
import { JobClient } from '../../src/processing/job-client.js';
import { createRouter, type Router } from '../../src/router/router.js';
import type { FetchedJob } from '../../src/storage/queue.js';
import { deleteRedisPrefix, dropSchema, freshPrefix, freshSchema, PG_URL, REDIS_URL } from '../helpers/servers.js';

const prefix = freshPrefix();
const schema = freshSchema();
let router: Router;
test.before(async () => {
  router = await createRouter({
    shards: [
      { id: 'redis', backend: new RedisBackend({ url: REDIS_URL, prefix }) },
      { id: 'pg', backend: new PostgresBackend({ connectionString: PG_URL, schema, poolSize: 4 }) },
    ],
  });
});
test.after.always(async () => {
  await router?.close();
  await deleteRedisPrefix(prefix);
  await dropSchema(schema);
});

/** Enqueues one job for each tenant and runs it through fetch and its outcome commit, as a server does. */
async function serveOnce(tenants: string[]): Promise<void> {
  for (let i = 0; i < tenants.length; i += 100) {
    await Promise.all(
      tenants.slice(i, i + 100).map(async (tn) => {
        await new JobClient(router.tenant(tn)).enqueue('work', [], { queue: 'q' });
        const fetched = (await router.tenant(tn).queues.tryFetch(['q']))!;
        await router.tenant(tn).transaction((tx) => tx.removeFromQueue(fetched));
      }),
    );
  }
}

test.serial('tenants served once leave about nothing behind once idle; a storage still held stays the same object', async (t) => {
  const held = router.tenant('held');
  await serveOnce(['warm-up']);
  await collect();
  const before = process.memoryUsage().heapUsed;
  const tenants = Array.from({ length: 2_000 }, (_, i) => `idle${i}`);
  await serveOnce(tenants);
  await collect();
  const perTenant = (process.memoryUsage().heapUsed - before) / tenants.length;
  t.log(`retained per idle tenant: ${(perTenant / 1024).toFixed(2)} KB`);
  // About 10 KB each when every layer kept its objects for good; well under 1 KB measured now.
  t.true(perTenant < 3 * 1024, `${perTenant} bytes per idle tenant`);
  t.is(router.tenant('held'), held, 'a storage in use is not replaced');
  t.is(await held.queues.tryFetch(['q']), null);
});

test.serial("a delivery whose tenant's storages were all collected while its job ran is still acknowledged, and an extended lease still holds", async (t) => {
  for (const tn of ['lease-a', 'lease-b', 'lease-c', 'lease-d']) {
    const id = await new JobClient(router.tenant(tn)).enqueue('work', [], { queue: 'q' });
    // Only the delivery is kept: every storage object of the tenant is free to go.
    const fetched: FetchedJob = (await router.tenant(tn).queues.tryFetch(['q'], { invisibilityTimeoutMs: 60_000 }))!;
    t.is(fetched.jobId, id);
    await collect();
    await fetched.extend();
    await collect();
    await router.tenant(tn).transaction((tx) => tx.removeFromQueue(fetched));
    t.deepEqual(
      (await router.tenant(tn).monitoring.queues()).filter((q) => q.waiting + q.inFlight > 0),
      [],
      `${tn} (on ${router.shardFor(tn).shard}): acknowledged, nothing left waiting or in flight`,
    );
  }
  t.is(new Set(['lease-a', 'lease-b', 'lease-c', 'lease-d'].map((tn) => router.shardFor(tn).shard)).size, 2, 'both backends');
});
