// Processing through the router, for tenants split into queue groups on other shards
// (home on Postgres, the 'default' queue's group on Redis, 'critical' on memory).
import test from 'ava';
import { mixedRouter } from '../helpers/mixed-router.js';
import { processingSuite } from './suite.js';

// One tenant per test of the suite, with room for more.
const ids = Array.from({ length: 40 }, (_, i) => `proc${i}`);
const { router, cleanup } = mixedRouter(
  Object.fromEntries(
    ids.map((id) => [
      id,
      {
        shard: 'pg',
        queueGroups: { bulk: { queues: ['default'], shard: 'redis' }, urgent: { queues: ['critical'], shard: 'mem' } },
      },
    ]),
  ),
);
test.after.always(cleanup);
let next = 0;
processingSuite(test, 'router', async () => router.tenant(ids[next++]!));
