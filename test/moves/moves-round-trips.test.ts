// Tenants moved back and forth between a Postgres and a Redis shard, again and again, while jobs
// flow through them in one process: what a unit carries from one stay to the next (aliases, id
// counters, tracked changes) must add up. Moving tenants this way under load found three bugs: job
// ids handed out twice after Redis -> Postgres -> Redis, alias hashes too big for Redis's import,
// and a Postgres change lost to the catch-up (a Succeeded job arriving Processing without its entry).
// `npm run soak:moves` runs the same for longer, between any two kinds of shard.
import test from 'ava';
import { churnMoves } from '../helpers/moves-churn.js';

const MOVES = 16;

test('tenants moved back and forth between Postgres and Redis while jobs flow: every job Succeeded once enqueued, ids distinct and resolving', async (t) => {
  t.timeout(180_000);
  const r = await churnMoves({
    kinds: 'pr',
    rounds: MOVES,
    // Freezes of 1-3 s: short ones leave little slack at the flip.
    freezeMs: (i) => 1_000 + ((i * 700) % 2_000),
    restMs: () => 200,
    produceGapMs: 3,
    schedulerIntervalMs: 500,
    settleMs: 60_000,
  });
  t.log(`${r.moved.length} moves, ${r.notMade.length} not made (${r.moved.slice(-4).join(', ')}), ${r.enqueued} jobs`);
  // A move may be rolled back on a loaded machine: the unit stays where it was, which the counts cover too.
  t.deepEqual(
    r.notMade.filter((code) => code !== 'MOVE_ABORTED'),
    [],
    'every move not made was rolled back',
  );
  t.true(r.moved.length >= MOVES / 2, `${r.moved.length} of ${MOVES} moves done`);
  t.deepEqual(r.left, [], 'no job left Enqueued, Processing or Scheduled');
  t.is(r.distinctIds, r.enqueued, 'no job id handed out twice');
  t.is(r.notSucceeded, 0, 'every id handed out resolves to its job, Succeeded');
  t.is(r.succeeded, r.enqueued, 'as many jobs Succeeded as were enqueued');
});
