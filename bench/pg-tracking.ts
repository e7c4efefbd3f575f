// What a move's change tracking costs the other tenants of a Postgres shard.
// Run: npm run bench:pg-tracking   (TRACKING_PAIRS=n rounds, TRACKING_WINDOW_MS per side)
//
// Four tenants loop enqueue → fetch → ack on one schema while a fifth unit's tracking is, in turn:
// off; on (the triggers as migration 0022 makes them, calling the function only for rows whose
// namespace hashes to a tracked unit's); and on with the triggers as they were before 0022 (every
// row of every unit calling the function). Prints each side's rate and its ratio to the window off
// before it, as median (range) over the rounds.
import pg from 'pg';
import { PostgresBackend } from '../src/backends/postgres/postgres-backend.js';
import { dropSchema, freshSchema, PG_URL } from '../test/helpers/servers.js';
import { median } from './lib/median.js';

const PAIRS = Number(process.env['TRACKING_PAIRS'] ?? 8);
const WINDOW_MS = Number(process.env['TRACKING_WINDOW_MS'] ?? 2_000);
const TABLES = ['jobs', 'queue_entries', 'hashes', 'sets', 'lists', 'counters', 'locks', 'servers'];
/** The trigger before migration 0022: one a table, no WHEN clause. */
const UNFILTERED = (table: string) =>
  `CREATE TRIGGER jobshard_track AFTER INSERT OR UPDATE OR DELETE ON ${table} FOR EACH ROW EXECUTE FUNCTION jobshard_track()`;
const DROP_FILTERED = (table: string) => `DROP TRIGGER IF EXISTS jobshard_track_write ON ${table}; DROP TRIGGER IF EXISTS jobshard_track_delete ON ${table}`;

const schema = freshSchema();
const backend = new PostgresBackend({ connectionString: PG_URL, schema, poolSize: 8 });
const admin = new pg.Client({ connectionString: PG_URL });
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
try {
  await backend.open();
  await admin.connect();
  await admin.query(`SET search_path TO ${schema}`);
  await backend.storage('moving').jobs.create({ type: 'x', args: [], queue: 'q', state: { name: 'Enqueued' }, enqueue: true });

  let done = 0;
  let stopped = false;
  const loops = ['o1', 'o2', 'o3', 'o4'].map(async (tn) => {
    const s = backend.storage(tn);
    while (!stopped) {
      await s.jobs.create({ type: 'other', args: [], queue: 'o', state: { name: 'Enqueued' }, enqueue: true });
      await (await s.queues.tryFetch(['o']))?.ack();
      done++;
    }
  });
  const window = async () => {
    await sleep(200); // the DDL's lock waits settle
    done = 0;
    const t0 = performance.now();
    await sleep(WINDOW_MS);
    return done / ((performance.now() - t0) / 1000);
  };
  const sides = { off: [] as number[], filtered: [] as number[], unfiltered: [] as number[] };
  const ratios = { filtered: [] as number[], unfiltered: [] as number[] };
  await sleep(1_000);
  for (let i = 0; i < PAIRS; i++) {
    // The two tracked sides alternate which goes first, each after its own window off.
    for (const side of i % 2 === 0 ? (['filtered', 'unfiltered'] as const) : (['unfiltered', 'filtered'] as const)) {
      await backend.trackChanges('moving', false);
      const off = await window();
      await backend.trackChanges('moving', true);
      if (side === 'unfiltered') for (const t of TABLES) await admin.query(`${DROP_FILTERED(t)}; ${UNFILTERED(t)}`);
      const on = await window();
      if (side === 'unfiltered') for (const t of TABLES) await admin.query(`DROP TRIGGER jobshard_track ON ${t}`);
      sides.off.push(off);
      sides[side].push(on);
      ratios[side].push(on / off);
    }
  }
  await backend.trackChanges('moving', false);
  stopped = true;
  await Promise.all(loops);
  const range = (xs: number[], digits: number) => `${median(xs).toFixed(digits)} (${Math.min(...xs).toFixed(digits)}–${Math.max(...xs).toFixed(digits)})`;
  console.log(`Other tenants' enqueue+fetch+ack a second on one Postgres schema, ${PAIRS} rounds of ${WINDOW_MS} ms windows:`);
  console.log(`  tracking off:                         ${range(sides.off, 0)}`);
  console.log(`  another unit tracked (0022 triggers):  ${range(sides.filtered, 0)}; to the window off before it ${range(ratios.filtered, 2)}`);
  console.log(`  another unit tracked (before 0022):    ${range(sides.unfiltered, 0)}; to the window off before it ${range(ratios.unfiltered, 2)}`);
} finally {
  await admin.end().catch(() => {});
  await backend.close();
  await dropSchema(schema);
}
