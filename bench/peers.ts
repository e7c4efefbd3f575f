// Peer benchmark. Run: npm run bench:peers (needs the local Postgres and Redis of the tests).
// The same workload for jobshard and for BullMQ, graphile-worker and pg-boss, against the same
// servers, in one run: enqueue throughput (32 producers), processing throughput (drain with
// concurrency 32) and enqueue-to-handler-start latency (single jobs, idle workers).
// Prints one table and writes it to bench/RESULTS.md.
import { writeFileSync } from 'node:fs';
import { cpus } from 'node:os';
import { bullmq } from './peers/bullmq.js';
import { graphileWorker } from './peers/graphile-worker.js';
import { jobshardPostgres, jobshardRedis, jobshardRouted } from './peers/jobshard.js';
import { pgBoss } from './peers/pg-boss.js';
import { renderResults, type Row } from './peers/report.js';
import type { Subject } from './peers/subject.js';
import { runWorkload, WorkloadTimeout } from './peers/workload.js';
import { serverVersions } from './peers/server-versions.js';

const options = {
  jobs: Number(process.env['BENCH_JOBS'] ?? 10_000),
  latencySamples: Number(process.env['BENCH_LATENCY_SAMPLES'] ?? 200),
  warmupJobs: 1_000,
};
const only = process.env['BENCH_ONLY']?.split(',');

const subjects: Array<[string, () => Subject | Promise<Subject>]> = [
  ['jobshard-redis', jobshardRedis],
  ['bullmq', bullmq],
  ['jobshard-postgres', jobshardPostgres],
  ['graphile-worker', () => graphileWorker(true)],
  ['graphile-worker-defaults', () => graphileWorker(false)],
  ['pg-boss', pgBoss],
  ['jobshard-routed', jobshardRouted],
];

const rows: Row[] = [];
for (const [key, make] of subjects) {
  if (only && !only.includes(key)) continue;
  const s = await make();
  process.stderr.write(`${s.name} on ${s.server}... `);
  try {
    rows.push({ subject: s, figures: await runWorkload(s, options) });
    process.stderr.write('done\n');
  } catch (err) {
    if (!(err instanceof WorkloadTimeout)) throw err;
    rows.push({ subject: s, figures: null, failure: err.message });
    process.stderr.write(`timed out: ${err.message}\n`);
  } finally {
    // A subject stuck in its own wait must not hang the run either.
    await Promise.race([s.close(), new Promise((r) => setTimeout(r, 10_000).unref())]);
  }
}

const text = renderResults(rows, {
  date: new Date().toISOString().slice(0, 10),
  machine: `${cpus().length} cores (${cpus()[0]?.model.trim() ?? 'unknown CPU'}), Node ${process.version}`,
  servers: await serverVersions(),
  command: 'npm run bench:peers',
  options,
});
console.log(text);
if (!only) writeFileSync(new URL('./RESULTS.md', import.meta.url), text);
process.exit(0);
