// A move's counts reach other readers: the mover publishes them beside the directory record, and
// admin.moves() and the dashboard's placement page show them while the move runs.
import test from 'ava';
import { PostgresBackend } from '../../src/backends/postgres/postgres-backend.js';
import { RedisBackend } from '../../src/backends/redis/redis-backend.js';
import { Router } from '../../src/router/router.js';
import { serveDashboard } from '../helpers/dashboard-fixture.js';
import { deleteRedisPrefix, dropSchema, freshPrefix, freshSchema, PG_URL, REDIS_URL } from '../helpers/servers.js';

test('while a unit moves, admin.moves() and the placement page show its jobs copied; after it, no move', async (t) => {
  t.timeout(100_000);
  const schema = freshSchema();
  const prefix = freshPrefix();
  const router = new Router({
    shards: [
      { id: 'pg', backend: new PostgresBackend({ connectionString: PG_URL, schema, poolSize: 8 }) },
      { id: 'redis', backend: new RedisBackend({ url: REDIS_URL, prefix }) },
    ],
    tenants: { big: { shard: 'pg' } },
  });
  const dash = await serveDashboard(router, { refreshMs: 100 });
  try {
    await router.open();
    const storage = router.tenant('big');
    for (let i = 0; i < 40; i++) {
      await Promise.all(
        Array.from({ length: 100 }, (_, j) => storage.jobs.create({ type: 'x', args: [i * 100 + j], queue: 'q', state: { name: 'Enqueued' }, enqueue: true })),
      );
    }
    // A small share of the copy before the freeze keeps the copy phase long enough to be seen.
    const move = router.admin.moveUnit('big', 'redis', { copyShare: 0.05 });
    let seenByAdmin = 0;
    let seenOnPage = 0;
    let finished = false;
    void move.done.finally(() => (finished = true)).catch(() => {});
    while (!finished) {
      const [m] = await router.admin.moves();
      if (m?.progress) seenByAdmin = Math.max(seenByAdmin, m.progress.jobsCopied);
      const page = await (await fetch(`${dash.url}/placement`)).text();
      const onPage = /<tr data-move="[^"]+">[\s\S]*?data-k="jobsCopied">(\d+)</.exec(page);
      if (onPage) seenOnPage = Math.max(seenOnPage, Number(onPage[1]));
      await new Promise((r) => setTimeout(r, 30));
    }
    const result = await move.done;
    t.is(result.jobs, 4_000);
    t.true(seenByAdmin > 0, 'admin.moves() showed jobs copied while the move ran');
    t.true(seenOnPage > 0, 'the placement page showed jobs copied while the move ran');
    t.true(seenByAdmin <= 4_000 && seenOnPage <= 4_000);
    t.deepEqual(await router.admin.moves(), []);
    await new Promise((r) => setTimeout(r, 150));
    t.regex(await (await fetch(`${dash.url}/placement`)).text(), /id="no-moves"/);
  } finally {
    await dash.close();
    await router.close();
    await dropSchema(schema);
    await deleteRedisPrefix(prefix);
  }
});
