// Peer benchmark. Run: npm run bench:peers (needs the local Postgres and Redis of the tests).
// The same workload for jobshard and for BullMQ, graphile-worker and pg-boss, against the same
// servers, in one run: enqueue throughput (32 producers), processing throughput (drain with
// concurrency 32) and enqueue-to-handler-start latency (single jobs, idle workers).
// Every system runs BENCH_ROUNDS times (3), the order rotated each round, and the table shows each
// figure's median: on a shared machine one run of a system can be a third off its next.
// Prints one table and writes it to bench/RESULTS.md.
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { cpus } from 'node:os';
import { bullmq } from './peers/bullmq.js';
import { graphileWorker } from './peers/graphile-worker.js';
import { jobshardPostgres, jobshardRedis, jobshardRouted } from './peers/jobshard.js';
import { pgBoss } from './peers/pg-boss.js';
import { median, renderResults, type Row } from './peers/report.js';
import type { Subject } from './peers/subject.js';
import { runWorkload, WorkloadTimeout, type Figures } from './peers/workload.js';
import { serverVersions } from './peers/server-versions.js';

const options = {
  jobs: Number(process.env['BENCH_JOBS'] ?? 10_000),
  latencySamples: Number(process.env['BENCH_LATENCY_SAMPLES'] ?? 200),
  warmupJobs: Number(process.env['BENCH_WARMUP'] ?? 3_000),
  rounds: Number(process.env['BENCH_ROUNDS'] ?? 3),
};
const only = process.env['BENCH_ONLY']?.split(',');

const subjects: Array<[string, () => Subject | Promise<Subject>]> = [
  ['jobshard-redis', () => jobshardRedis('delete')],
  ['jobshard-redis-kept', () => jobshardRedis('day')],
  ['bullmq', bullmq],
  ['jobshard-postgres', () => jobshardPostgres('delete')],
  ['jobshard-postgres-kept', () => jobshardPostgres('day')],
  ['graphile-worker', () => graphileWorker(true)],
  ['graphile-worker-defaults', () => graphileWorker(false)],
  ['pg-boss', pgBoss],
  ['jobshard-routed', jobshardRouted],
];

const chosen = subjects.filter(([key]) => !only || only.includes(key));
const runs = new Map<string, { subject: Subject; figures: Figures[]; failure?: string }>();
for (let round = 0; round < options.rounds; round++) {
  // Rotated, so no system always runs first (coldest) or right after the same neighbour.
  const order = chosen.map((_, i) => chosen[(i + round) % chosen.length]!);
  for (const [key, make] of order) {
    const earlier = runs.get(key);
    if (earlier?.failure) {
      // Not made again: making a subject sets up its schema, prefix and connections.
      process.stderr.write(
        `round ${round + 1}/${options.rounds}: ${earlier.subject.name} on ${earlier.subject.server}... skipped: it timed out in an earlier round\n`,
      );
      continue;
    }
    const s = await make();
    const run = earlier ?? { subject: s, figures: [] };
    runs.set(key, run);
    process.stderr.write(`round ${round + 1}/${options.rounds}: ${s.name} on ${s.server}... `);
    try {
      const f = await runWorkload(s, options);
      run.figures.push(f);
      // Each round's figures with the time it ended: a slow round can then be matched with what the
      // servers logged (a checkpoint, say), and with the other systems' rounds around it.
      process.stderr.write(
        `done at ${new Date().toISOString().slice(11, 19)}: enqueue ${Math.round(f.enqueuePerSec)}/s, process ${Math.round(f.processPerSec)}/s, p50 ${f.p50Ms.toFixed(2)} ms\n`,
      );
    } catch (err) {
      if (!(err instanceof WorkloadTimeout)) throw err;
      run.failure = err.message;
      process.stderr.write(`timed out: ${err.message}\n`);
    } finally {
      // A subject stuck in its own wait must not hang the run either.
      await Promise.race([s.close(), new Promise((r) => setTimeout(r, 10_000).unref())]);
    }
  }
}
const rows: Row[] = chosen.map(([key]) => {
  const run = runs.get(key)!;
  return run.failure
    ? { subject: run.subject, figures: null, failure: run.failure }
    : { subject: run.subject, figures: median(run.figures), spread: run.figures };
});

const RESULTS = new URL('./RESULTS.md', import.meta.url);
const START = '<!-- bench:peers start: this part is rewritten by each run -->';
const END = '<!-- bench:peers end -->';
/** The peers' table replaces only its own part of bench/RESULTS.md: the other benchmarks' records stay. */
function withPeers(file: string, table: string): string {
  const part = `${START}\n${table.trimEnd()}\n${END}`;
  const from = file.indexOf(START);
  const to = file.indexOf(END);
  if (from >= 0 && to > from) return file.slice(0, from) + part + file.slice(to + END.length);
  return `${part}\n\n${file}`;
}

const text = renderResults(rows, {
  date: new Date().toISOString().slice(0, 10),
  machine: `${cpus().length} cores (${cpus()[0]?.model.trim() ?? 'unknown CPU'}), Node ${process.version}`,
  servers: await serverVersions(),
  command: 'npm run bench:peers',
  keys: subjects.map(([key]) => key),
  options,
});
console.log(text);
if (!only) writeFileSync(RESULTS, withPeers(existsSync(RESULTS) ? readFileSync(RESULTS, 'utf8') : '', text));
process.exit(0);
