// The Postgres table layout against a prototype of the one-row hot path (issue 24). Run: npm run bench:pg-layout
// Each side drains BENCH_JOBS (20,000) no-op jobs with the peer bench's settings (JobServer 32
// workers, prefetch 64, retentionMs 0) after a 3,000-job warm-up, in a fresh schema; the sides
// alternate BENCH_ROUNDS (4) times in one process. Sides (BENCH_SIDES, comma-separated):
//   today            the shipped migrations;
//   one-row          the same plus bench/sql/one-row-hot-path.sql: the queue entry in the job's
//                    row (what it leaves out is listed in that file), the backlog's entries moved
//                    into their rows before the drain;
//   *-no-state-index either, without jobs_by_state (an upper bound of that index's cost);
//   fetch-0018       the shipped migrations with jobshard_fetch put back as migration 0018 left it
//                    (before 0020: a UUID lease token, the new state read from its JSON per job;
//                    and before 0021: planned on every call);
//   fetch-0020       the same with jobshard_fetch as migration 0020 left it (planned on every call);
//   fetch-no-mark    the shipped migrations with bench/sql/fetch-no-mark.sql: the fetch leaves its
//                    jobs unmarked (an upper bound of the mark's cost; it breaks the contract).
// Per drain: jobs/s, this process's CPU a job and every postgres process's (bench/lib/postgres-cpu.ts).
import { readFileSync } from 'node:fs';
import { adminQuery, dropSchema, freshSchema, PG_URL } from '../test/helpers/servers.js';
import { loadBuild } from './peers/jobshard-build.js';
import { postgresCpuUs } from './lib/postgres-cpu.js';

const { JobClient, JobServer, PostgresBackend } = await loadBuild();
const N = Number(process.env['BENCH_JOBS'] ?? 20_000);
const ROUNDS = Number(process.env['BENCH_ROUNDS'] ?? 4);
const SIDES = (process.env['BENCH_SIDES'] ?? 'today,one-row').split(',');
const ONE_ROW = readFileSync(new URL('./sql/one-row-hot-path.sql', import.meta.url), 'utf8');
const migration = (file: string) => readFileSync(new URL(`../src/backends/postgres/sql/migrations/${file}`, import.meta.url), 'utf8');
const EARLIER_FETCH: Record<string, string> = {
  'fetch-0018': migration('0018-fetch-state-from-input.sql'),
  'fetch-0020': migration('0020-lean-fetch.sql'),
  'fetch-no-mark': readFileSync(new URL('./sql/fetch-no-mark.sql', import.meta.url), 'utf8'),
};
const KNOWN = ['today', 'one-row', 'today-no-state-index', 'one-row-no-state-index', 'fetch-0018', 'fetch-0020', 'fetch-no-mark'];
for (const side of SIDES) if (!KNOWN.includes(side)) throw new Error(`unknown side ${side}; known: ${KNOWN.join(', ')}`);

async function drain(side: string, schema: string, storage: ReturnType<InstanceType<typeof PostgresBackend>['storage']>, n: number) {
  const client = new JobClient(storage);
  for (let k = 0; k < n; k += 32) await Promise.all(Array.from({ length: Math.min(32, n - k) }, () => client.enqueue('noop', [])));
  if (side.startsWith('one-row')) {
    await adminQuery(`WITH e AS (DELETE FROM ${schema}.queue_entries RETURNING *)
      UPDATE ${schema}.jobs j SET q_name = e.queue, q_pos = e.seq FROM e WHERE j.id = e.job_id`);
  }
  await adminQuery(`VACUUM ANALYZE ${schema}.jobs`);
  await adminQuery(`VACUUM ANALYZE ${schema}.queue_entries`);
  let done = 0;
  let finished!: () => void;
  const all = new Promise<void>((r) => (finished = r));
  const server = new JobServer(storage, {
    workerCount: 32,
    prefetch: 64,
    retentionMs: 0,
    handlers: { noop: () => void (++done === n && finished()) },
  });
  const [c0, p0, t0] = [process.cpuUsage(), postgresCpuUs(), performance.now()];
  await server.start();
  await all;
  const secs = (performance.now() - t0) / 1000;
  const [c, p] = [process.cpuUsage(c0), postgresCpuUs() - p0];
  await server.stop();
  const left = (await adminQuery<{ n: string }>(`SELECT count(*) AS n FROM ${schema}.jobs`))[0]!.n;
  if (Number(left) !== 0) throw new Error(`${side}: ${left} jobs left after the drain`);
  return { perSec: n / secs, nodeUs: (c.user + c.system) / n, pgUs: p / n };
}

const results = new Map<string, Array<{ perSec: number; nodeUs: number; pgUs: number }>>();
for (let round = 1; round <= ROUNDS; round++) {
  for (const side of SIDES) {
    const schema = freshSchema();
    const backend = new PostgresBackend({ connectionString: PG_URL, schema, poolSize: 10 });
    try {
      await backend.open();
      if (side.startsWith('one-row')) await adminQuery(`SET search_path = ${schema};\n${ONE_ROW}`);
      const earlier = EARLIER_FETCH[side];
      if (earlier) await adminQuery(`SET search_path = ${schema};\n${earlier}`);
      if (side.endsWith('no-state-index')) await adminQuery(`DROP INDEX ${schema}.jobs_by_state`);
      const storage = backend.storage('bench');
      await drain(side, schema, storage, 3_000);
      const r = await drain(side, schema, storage, N);
      results.set(side, [...(results.get(side) ?? []), r]);
      console.log(
        `round ${round} ${side.padEnd(24)} ${r.perSec.toFixed(0).padStart(6)} jobs/s  Node CPU ${r.nodeUs.toFixed(1)} µs  Postgres CPU ${r.pgUs.toFixed(1)} µs a job`,
      );
    } finally {
      await backend.close();
      await dropSchema(schema);
    }
  }
}
const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return (s[Math.floor((s.length - 1) / 2)]! + s[Math.ceil((s.length - 1) / 2)]!) / 2;
};
const base = results.get(SIDES[0]!)!;
for (const side of SIDES.slice(1)) {
  const ratios = results.get(side)!.map((r, i) => r.perSec / base[i]!.perSec);
  console.log(`${side} / ${SIDES[0]}, jobs/s by round: ${ratios.map((x) => x.toFixed(2)).join(', ')} (median ${median(ratios).toFixed(2)})`);
}
for (const side of SIDES) {
  const rs = results.get(side)!;
  console.log(
    `${side}: median ${median(rs.map((r) => r.perSec)).toFixed(0)} jobs/s, Node ${median(rs.map((r) => r.nodeUs)).toFixed(1)} µs, Postgres ${median(rs.map((r) => r.pgUs)).toFixed(1)} µs a job`,
  );
}
