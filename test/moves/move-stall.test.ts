// A mover that stalls (its event loop blocked) past its lock in the middle of the copy: a router
// rolls the move back meanwhile; when the mover goes on, its import is fenced (ImportFence), so
// nothing lands on the cleared target, and the unit moves there later as usual.
import test from 'ava';
import { createRouter } from '../../src/router/router.js';
import { kill, startChild } from '../helpers/child.js';
import { fleetRouterConfig, type FleetConfig } from '../helpers/fleet-router.js';
import { freshTenant } from '../helpers/mixed-router.js';
import type { MoveFleetArgs } from '../helpers/move-fleet.js';
import { deleteRedisPrefix, dropSchema, freshPrefix, freshSchema, PG_URL, REDIS_URL } from '../helpers/servers.js';

const JOBS = 3_000;
// The mover's lock lapses 2 s into its stall (freezeMs is its lease); it goes on after 10 s.
const FREEZE_MS = 2_000;
const PARK_MS = 10_000;

for (const [from, to] of [
  ['a', 'c'],
  ['c', 'a'],
] as const) {
  const kinds = { a: 'redis', c: 'postgres' };
  test(`a mover stalled mid-copy ${kinds[from]} → ${kinds[to]} while a router rolls its move back writes nothing to the target when it goes on`, async (t) => {
    t.timeout(120_000);
    const schema = freshSchema();
    const dirSchema = freshSchema();
    const prefix = freshPrefix();
    const fleet: FleetConfig = {
      pg: PG_URL,
      redis: REDIS_URL,
      shards: [
        { id: 'a', redisPrefix: prefix },
        { id: 'c', pgSchema: schema },
      ],
      directorySchema: dirSchema,
      pollMs: 200,
      pgPoolSize: 2,
    };
    const admin = await createRouter(fleetRouterConfig(fleet));
    let mover: Awaited<ReturnType<typeof startChild>> | undefined;
    try {
      let tn = freshTenant();
      while (admin.shardFor(tn).shard !== from) tn = freshTenant();
      const s = admin.tenant(tn);
      for (let i = 0; i < JOBS; i += 500)
        await Promise.all(
          Array.from({ length: 500 }, (_, j) => s.jobs.create({ type: 'x', args: [i + j], queue: 'q', enqueue: true, state: { name: 'Enqueued' } })),
        );
      const src = admin.shards.get(from)!.backend;
      const dst = admin.shards.get(to)!.backend;

      const args: MoveFleetArgs = { role: 'mover', fleet, tenants: [tn], moves: [[tn, to]], parkAt: 'copy', freezeMs: FREEZE_MS, parkMs: PARK_MS };
      mover = await startChild('../helpers/move-fleet.ts', [JSON.stringify(args)], /parked copy/, 60_000);
      const parkedAt = Date.now();
      t.true(await dst.hasData(tn), 'the mover had copied a batch when it stalled');
      const markedAt = await dst.ownership(tn);
      // Its lock lapses; this router (by its own polling, or this call) takes the move for dead and rolls it back.
      await new Promise((r) => setTimeout(r, FREEZE_MS + 500));
      while ((await admin.admin.moves()).length > 0) {
        await admin.admin.resumeMoves();
        await new Promise((r) => setTimeout(r, 50));
      }
      t.true(Date.now() - parkedAt < PARK_MS - 1_000, 'the rollback finished while the mover was still stalled (else this run checks nothing)');
      t.false(await dst.hasData(tn));
      const remark = await dst.ownership(tn);
      t.true(
        remark.state === 'moved' && markedAt.state === 'moved' && remark.epoch > markedAt.epoch,
        `re-marked above the move's mark: ${JSON.stringify([markedAt, remark])}`,
      );

      // The mover goes on, meets the fence and gives up.
      const out = mover.output;
      const deadline = Date.now() + 30_000;
      while (!/move failed/.test(out()) && mover.child.exitCode === null && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
      t.regex(out(), /resumed/);
      t.regex(out(), /move failed .*(no longer this move's|rolled back by another router)/);
      t.false(await dst.hasData(tn), 'nothing landed on the target after the rollback');
      t.deepEqual(await dst.ownership(tn), remark, "the stalled mover's own late mark did not replace the rollback's");

      // The unit is whole on its source, writable and untracked, and moves to the target as usual.
      await admin.admin.directory();
      t.is(admin.shardFor(tn).shard, from);
      t.is((await src.ownership(tn)).state, 'active');
      t.is((await s.monitoring.stateCounts())['Enqueued'], JOBS);
      await s.jobs.create({ type: 'x', args: ['after'], queue: 'q', enqueue: true, state: { name: 'Enqueued' } });
      t.deepEqual(await src.takeChanges(tn), [], 'change tracking is off');
      await admin.admin.moveUnit(tn, to, { copyShare: 1 }).done;
      t.is(admin.shardFor(tn).shard, to);
      t.is((await admin.tenant(tn).monitoring.stateCounts())['Enqueued'], JOBS + 1);
      t.false(await src.hasData(tn));
    } finally {
      if (mover) await kill(mover.child);
      await admin.close();
      await dropSchema(schema);
      await dropSchema(dirSchema);
      await deleteRedisPrefix(prefix);
    }
  });
}
