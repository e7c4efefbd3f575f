// Where a Postgres job's cost goes, jobshard against graphile-worker. Run: npm run bench:pg-cost
// Each side drains a backlog of BENCH_JOBS (10,000) no-op jobs with the peer bench's settings
// (bench/peers: concurrency 32; jobshard with retentionMs 0 unless BENCH_WHICH names
// jobshard-kept), after a 2,000-job warm-up. Per job: the Node process's CPU, the CPU of every
// postgres process on this machine (/proc, so run it on a quiet machine with a local server), WAL
// bytes (pg_current_wal_lsn) and rows inserted, updated (HOT among them) and deleted
// (pg_stat_user_tables, read after the backends' statistics flush: 11 s idle).
// BENCH_WHICH=jobshard,graphile,jobshard,graphile (the default) alternates the sides.
import pg from 'pg';
import { PG_URL } from '../test/helpers/servers.js';
import { graphileWorker } from './peers/graphile-worker.js';
import { jobshardPostgres } from './peers/jobshard.js';
import { postgresCpuUs } from './lib/postgres-cpu.js';
const N = Number(process.env['BENCH_JOBS'] ?? 10_000);
const admin = new pg.Client({ connectionString: PG_URL });
await admin.connect();
const wal = async () => (await admin.query('SELECT pg_current_wal_lsn()::text AS l')).rows[0].l as string;
const walDiff = async (a: string, b: string) => Number((await admin.query('SELECT pg_wal_lsn_diff($1, $2) AS d', [b, a])).rows[0].d);
const rows = async () => {
  const r = await admin.query(
    'SELECT coalesce(sum(n_tup_ins),0)::float8 AS i, coalesce(sum(n_tup_upd),0)::float8 AS u, coalesce(sum(n_tup_del),0)::float8 AS d, coalesce(sum(n_tup_hot_upd),0)::float8 AS h FROM pg_stat_user_tables',
  );
  return r.rows[0] as { i: number; u: number; d: number; h: number };
};
const which = (process.env['BENCH_WHICH'] ?? 'jobshard,graphile,jobshard,graphile').split(',');
for (const w of which) {
  const subject = w === 'graphile' ? await graphileWorker(true) : w === 'jobshard-kept' ? jobshardPostgres('day') : jobshardPostgres('delete');
  for (let i = 0; i < 2000; i += 32) await Promise.all(Array.from({ length: 32 }, () => subject.enqueue()));
  let done = 0;
  let stop = await subject.start(() => void done++);
  while (done < 2000) await new Promise((r) => setTimeout(r, 10));
  await stop();
  for (let i = 0; i < N; i += 32) await Promise.all(Array.from({ length: 32 }, () => subject.enqueue()));
  await new Promise((r) => setTimeout(r, 11_000));
  const [r0, w0, p0, c0] = [await rows(), await wal(), postgresCpuUs(), process.cpuUsage()];
  done = 0;
  const t0 = performance.now();
  stop = await subject.start(() => void done++);
  while (done < N) await new Promise((r) => setTimeout(r, 5));
  const secs = (performance.now() - t0) / 1000;
  const c = process.cpuUsage(c0);
  const p1 = postgresCpuUs();
  const w1 = await wal();
  await new Promise((r) => setTimeout(r, 1500));
  await stop();
  await new Promise((r) => setTimeout(r, 11_000));
  const r1 = await rows();
  console.log(
    `${subject.name}: ${(N / secs).toFixed(0)} jobs/s; per job: Node CPU ${((c.user + c.system) / N).toFixed(1)} µs, Postgres CPU ${((p1 - p0) / N).toFixed(1)} µs, WAL ${((await walDiff(w0, w1)) / N).toFixed(0)} B, rows ins ${((r1.i - r0.i) / N).toFixed(2)} upd ${((r1.u - r0.u) / N).toFixed(2)} (HOT ${((r1.h - r0.h) / N).toFixed(2)}) del ${((r1.d - r0.d) / N).toFixed(2)}`,
  );
  await subject.close();
}
await admin.end();
