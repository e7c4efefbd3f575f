// A dead shard: the dashboard still answers, marks the shard, and fails only that shard's tenants.
import test from 'ava';
import { MemoryBackend } from '../../src/backends/memory/memory-backend.js';
import { RedisBackend } from '../../src/backends/redis/redis-backend.js';
import { JobClient } from '../../src/processing/job-client.js';
import { Router } from '../../src/router/router.js';
import { freePort, PrivateRedis } from '../helpers/redis-server.js';
import { freshPrefix } from '../helpers/servers.js';
import { serveDashboard } from '../helpers/dashboard-fixture.js';

test('with one shard down, the overview and tenants pages render and say which shard failed; its tenants get 503', async (t) => {
  const redis = new PrivateRedis(await freePort());
  await redis.start();
  const router = new Router({
    shards: [
      { id: 'mem', backend: new MemoryBackend() },
      { id: 'cache', backend: new RedisBackend({ url: redis.url, prefix: freshPrefix(), connectTimeoutMs: 300 }) },
    ],
    tenants: { alive: { shard: 'mem' }, victim: { shard: 'cache' } },
    circuitBreaker: { failureThreshold: 1, openMs: 60_000 },
  });
  await router.open();
  const dash = await serveDashboard(router, { refreshMs: 100 });
  try {
    await new JobClient(router.tenant('alive')).enqueue('x', [], { queue: 'q' });
    await new JobClient(router.tenant('victim')).enqueue('x', [], { queue: 'q' });
    await redis.kill();
    await t.throwsAsync(router.tenant('victim').jobs.create({ type: 'x', args: [], queue: 'q' })); // opens the circuit
    const started = Date.now();
    const overview = await fetch(`${dash.url}/`);
    t.is(overview.status, 200);
    const body = await overview.text();
    t.regex(body, /<tr data-shard="cache" class="unhealthy">[\s\S]*?class="circuit open">open<[\s\S]*?class="error">/);
    t.regex(body, /<tr data-shard="mem" class="">[\s\S]*?data-k="waiting">1</);
    await new Promise((r) => setTimeout(r, 150));
    const tenants = await (await fetch(`${dash.url}/tenants`)).text();
    t.regex(tenants, /<tr data-tenant="alive">[\s\S]*?data-state="Enqueued">1</);
    const victim = await fetch(`${dash.url}/tenants/victim`);
    t.is(victim.status, 503);
    t.regex(await victim.text(), /shard &#39;cache&#39; is unavailable/);
    t.true(Date.now() - started < 10_000, 'a dead shard does not hang the pages');
  } finally {
    await dash.close();
    await router.close().catch(() => {});
    await redis.kill().catch(() => {});
  }
});
