// One table with every figure, and jobshard's ratio to the best peer on the same server kind.
import type { Subject } from './subject.js';
import type { Figures, WorkloadOptions } from './workload.js';

export interface Row {
  subject: Subject;
  /** Each figure's median over the rounds; null when the subject did not finish the workload in time (see failure). */
  figures: Figures | null;
  /** Every round's figures. */
  spread?: Figures[];
  failure?: string;
}

/** Each figure's median (of an even count, the mean of the middle two). */
export function median(runs: Figures[]): Figures {
  const mid = (f: (r: Figures) => number) => {
    const v = runs.map(f).sort((a, b) => a - b);
    const h = Math.floor(v.length / 2);
    return v.length % 2 ? v[h]! : (v[h - 1]! + v[h]!) / 2;
  };
  return { enqueuePerSec: mid((r) => r.enqueuePerSec), processPerSec: mid((r) => r.processPerSec), p50Ms: mid((r) => r.p50Ms), p99Ms: mid((r) => r.p99Ms) };
}

const range = (values: number[]) => `${num(Math.min(...values))}–${num(Math.max(...values))}`;

const num = (n: number) => (n >= 100 ? Math.round(n).toLocaleString('en-US') : n.toFixed(2));
const x = (n: number) => `${n.toFixed(2)}x`;

/** A jobshard row over the best peer on its server: throughput ratios above 1 and a latency ratio below 1 favour jobshard. */
function ratios(row: Row, peers: Row[]): string {
  const same = peers.filter((p) => p.subject.server === row.subject.server && p.figures);
  if (same.length === 0) return 'no peer on this server kind';
  const best = (f: (r: Figures) => number, higher: boolean) => same.map((p) => f(p.figures!)).reduce((a, b) => (higher ? Math.max(a, b) : Math.min(a, b)));
  const f = row.figures!;
  return (
    `enqueue ${x(f.enqueuePerSec / best((r) => r.enqueuePerSec, true))}, process ${x(f.processPerSec / best((r) => r.processPerSec, true))}, ` +
    `p50 latency ${x(f.p50Ms / best((r) => r.p50Ms, false))} the peer's`
  );
}

export function renderResults(
  rows: Row[],
  meta: { date: string; machine: string; servers: string; command: string; keys: string[]; options: WorkloadOptions },
): string {
  const peers = rows.filter((r) => !r.subject.name.startsWith('jobshard'));
  const lines = [
    '# jobshard vs BullMQ, graphile-worker and pg-boss',
    '',
    `Measured ${meta.date} on ${meta.machine}; ${meta.servers}, local, shared by every system.`,
    `Reproduce: \`${meta.command}\` (BENCH_JOBS, BENCH_LATENCY_SAMPLES, BENCH_WARMUP, BENCH_ROUNDS and BENCH_ONLY=key,key adjust it; keys: ${meta.keys.join(', ')}).`,
    '',
    `Each system ran the workload ${meta.options.rounds} times, the order rotated each round; the table shows each figure's median, ` +
      'the ranges over the rounds follow it. Compare systems within one run, not across runs: this machine is shared, and the same system ' +
      'can be a third faster or slower from one run to the next.',
    '',
    `Workload: ${meta.options.jobs.toLocaleString('en-US')} no-op jobs enqueued by 32 concurrent producers; the same jobs drained by workers ` +
      `with concurrency 32 (started on the full backlog); then ${meta.options.latencySamples} single jobs, each timed from the start of its enqueue ` +
      `to the start of its handler with idle workers. Each system first runs ${meta.options.warmupJobs.toLocaleString('en-US')} jobs to warm up.`,
    '',
    '| system | server | enqueue jobs/s | process jobs/s | latency p50 ms | latency p99 ms | jobshard / best peer on this server |',
    '|---|---|---:|---:|---:|---:|---|',
    ...rows.map((r) =>
      r.figures
        ? `| ${r.subject.name} | ${r.subject.server} | ${num(r.figures.enqueuePerSec)} | ${num(r.figures.processPerSec)} | ` +
          `${num(r.figures.p50Ms)} | ${num(r.figures.p99Ms)} | ${r.subject.name.startsWith('jobshard') ? ratios(r, peers) : ''} |`
        : `| ${r.subject.name} | ${r.subject.server} | — | — | — | — | did not finish: ${r.failure} |`,
    ),
    '',
    'Ranges over the rounds (enqueue, process jobs/s; p50 ms):',
    '',
    ...rows
      .filter((r) => r.spread)
      .map(
        (r) =>
          `- ${r.subject.name} (${r.subject.server}): enqueue ${range(r.spread!.map((f) => f.enqueuePerSec))}, ` +
          `process ${range(r.spread!.map((f) => f.processPerSec))}, p50 ${range(r.spread!.map((f) => f.p50Ms))}.`,
      ),
    '',
    'How each is configured:',
    '',
    ...rows.map((r) => `- ${r.subject.name} (${r.subject.server}): ${r.subject.config}.`),
    '',
  ];
  return lines.join('\n');
}
