// One server per process over every tenant: 2,000 tenants on 2 Redis and 2 Postgres shards, two processes.
import test from 'ava';
import type { ChildProcess } from 'node:child_process';
import { JobClient } from '../../src/processing/job-client.js';
import { createRouter } from '../../src/router/router.js';
import { kill, startChild } from '../helpers/child.js';
import { fleetRouterConfig, type FleetConfig } from '../helpers/fleet-router.js';
import { deleteRedisPrefix, dropSchema, freshPrefix, freshSchema, PG_URL, REDIS_URL } from '../helpers/servers.js';

test('2,000 tenants on 2 Redis and 2 Postgres shards, served by two processes of one server each: every job run, each under its own tenant', async (t) => {
  const schemas = [freshSchema(), freshSchema(), freshSchema()];
  const prefixes = [freshPrefix(), freshPrefix()];
  const cfg: FleetConfig = {
    pg: PG_URL,
    redis: REDIS_URL,
    directorySchema: schemas[2]!,
    shards: [
      { id: 'r1', redisPrefix: prefixes[0]! },
      { id: 'r2', redisPrefix: prefixes[1]! },
      { id: 'p1', pgSchema: schemas[0]! },
      { id: 'p2', pgSchema: schemas[1]! },
    ],
  };
  const router = await createRouter(fleetRouterConfig(cfg));
  const children: ChildProcess[] = [];
  const outputs: Array<() => string> = [];
  try {
    const tenants = Array.from({ length: 2_000 }, (_, i) => `fleet${i}`);
    const perShard = new Map<string, number>();
    for (const tn of tenants) perShard.set(router.shardFor(tn).shard, (perShard.get(router.shardFor(tn).shard) ?? 0) + 1);
    const ids = new Map<string, string>();
    // Half before the servers start, half while they run.
    const enqueue = async (list: string[]) => {
      for (let i = 0; i < list.length; i += 100) {
        await Promise.all(list.slice(i, i + 100).map(async (tn) => ids.set(await new JobClient(router.tenant(tn)).enqueue('work', [tn], { queue: 'q' }), tn)));
      }
    };
    await enqueue(tenants.slice(0, 1_000));
    for (let i = 0; i < 2; i++) {
      const c = await startChild('./pool-server.ts', [JSON.stringify(cfg)], /ready/, 60_000);
      children.push(c.child);
      outputs.push(c.output);
    }
    await enqueue(tenants.slice(1_000));
    const runs = () => outputs.flatMap((o) => [...o().matchAll(/^done (\S+) (\S+) (\S+)$/gm)].map((m) => ({ ctx: m[1]!, arg: m[2]!, id: m[3]! })));
    const deadline = Date.now() + 90_000;
    while (new Set(runs().map((r) => r.id)).size < ids.size && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
    const all = runs();
    const distinct = new Set(all.map((r) => r.id));
    t.log(
      `tenants per shard ${JSON.stringify(Object.fromEntries(perShard))}; runs ${all.length}, distinct ${distinct.size}; by process ${outputs.map((o) => (o().match(/^done /gm) ?? []).length).join(' / ')}`,
    );
    t.is(distinct.size, 2_000, 'every job ran');
    t.deepEqual(
      [...ids.keys()].filter((id) => !distinct.has(id)),
      [],
      'none lost',
    );
    t.deepEqual(
      all.filter((r) => r.ctx !== r.arg || ids.get(r.id) !== r.ctx),
      [],
      'each under its own tenant',
    );
    t.true(
      outputs.every((o) => /^done /m.test(o())),
      'both processes served',
    );
    t.true([...perShard.values()].every((n) => n > 0));
  } finally {
    await Promise.all(children.map(kill));
    await router.close();
    for (const s of schemas) await dropSchema(s);
    for (const p of prefixes) await deleteRedisPrefix(p);
  }
});
