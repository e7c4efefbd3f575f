// The whole contract through the router for tenants split into queue groups on other shards:
// home on Postgres, group 'heavy' on Redis, group 'light' on memory. The queues the suite uses
// are spread so that priority order, tryFetch, monitoring merges and transactions cross units.
import test from 'ava';
import { runConformance } from '../conformance/index.js';
import { mixedRouter } from '../helpers/mixed-router.js';

const heavy = ['many', 'fifo', 'low', 'redeliver', 'place', 'alpha', 'try-b', 'shared-stop', 'q1'];
const light = ['extend', 'wake', 'q-other', 'vis', 'idle'];
const ids = Array.from({ length: 200 }, (_, i) => `split${i}`);
const tenants = Object.fromEntries(
  ids.map((id) => [
    id,
    {
      shard: 'pg',
      queueGroups: { heavy: { queues: heavy, shard: 'redis' }, light: { queues: light, shard: 'mem' } },
    },
  ]),
);
const { router, cleanup } = mixedRouter(tenants);
let next = 0;
const fresh = () => router.tenant(ids[next++]!);

runConformance(test, {
  name: 'router-split',
  storage: async () => fresh(),
  pair: async () => [fresh(), fresh()],
  teardown: cleanup,
});

test('router-split: placement follows the pins', (t) => {
  const p = router.shardFor('split0');
  t.is(p.shard, 'pg');
  t.deepEqual(p.groups.map((g) => [g.group, g.shard]).sort(), [
    ['heavy', 'redis'],
    ['light', 'mem'],
  ]);
});
