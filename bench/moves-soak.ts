// Moves soak: tenants moved back and forth between two shards again and again while jobs flow
// through them, then every job counted. Run: npm run soak:moves
//   MOVES_SOAK_KINDS   two letters, the shards' kinds: p(ostgres), r(edis), m(emory); default pr
//   MOVES_SOAK_ROUNDS  moves made, tenants in turn (default 30)
//   MOVES_SOAK_GROUPS=1  each tenant also has a queue group (queue q2) moved on its own
//   MOVES_SOAK_POOL=1  one JobServer over the router (the many-tenant server) instead of one per tenant
// Prints every move, then: jobs enqueued and Succeeded, distinct ids, jobs run twice, outcomes other
// than succeeded, and each job left Enqueued, Processing or Scheduled with its history. Exits 1 if a
// job is left, an id was handed out twice, or counts differ. test/moves/moves-round-trips.test.ts
// runs a short form of it in `npm test` (both are test/helpers/moves-churn.ts).
import { churnMoves } from '../test/helpers/moves-churn.js';

const kinds = process.env['MOVES_SOAK_KINDS'] ?? 'pr';
const rounds = Number(process.env['MOVES_SOAK_ROUNDS'] ?? 30);
const groups = process.env['MOVES_SOAK_GROUPS'] === '1';
const pool = process.env['MOVES_SOAK_POOL'] === '1';

const r = await churnMoves({
  kinds,
  rounds,
  groups,
  pool,
  // Freezes of 1-3 s: short ones leave little slack at the flip.
  freezeMs: () => 1_000 + Math.floor(Math.random() * 2_000),
  restMs: () => 300 + Math.random() * 700,
  produceGapMs: 2,
  schedulerIntervalMs: 1_000,
  settleMs: 30_000,
  log: (line) => console.log(line),
});
console.log(
  `\n${kinds}${groups ? ' with queue groups' : ''}${pool ? ', one server over the router' : ''}: ${rounds} moves in ${r.seconds.toFixed(1)} s; ` +
    `${r.enqueued} jobs enqueued, ${r.succeeded} Succeeded, ${r.distinctIds} distinct ids, ${r.notSucceeded} ids not resolving to a Succeeded job, ` +
    `${r.ranTwice} run twice, ${r.otherOutcomes.length} other outcomes (${r.otherOutcomes.slice(0, 3).join(', ') || 'none'})`,
);
for (const s of r.left) console.log(`left: ${s}`);
for (const e of r.workerErrors.slice(0, 5)) console.log(`worker error: ${e}`);
process.exit(r.left.length > 0 || r.distinctIds !== r.enqueued || r.succeeded !== r.enqueued ? 1 : 0);
