// The one workload every subject runs, in the same order and with the same counts.
import { CONCURRENCY, type Subject } from './subject.js';

export interface Figures {
  enqueuePerSec: number;
  processPerSec: number;
  p50Ms: number;
  p99Ms: number;
}

export interface WorkloadOptions {
  jobs: number;
  latencySamples: number;
  warmupJobs: number;
  /** How many times the whole set of systems runs (reported as medians). */
  rounds: number;
}

const pause = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Every wait is bounded, so a subject that loses a job fails its row instead of hanging the run. */
const PHASE_MS = Number(process.env['BENCH_PHASE_TIMEOUT_MS'] ?? 180_000);
const SAMPLE_MS = 10_000;

export class WorkloadTimeout extends Error {}

/** `what` is read when the time runs out, so it can say how far the phase got. */
async function bounded<T>(p: Promise<T>, what: () => string, ms = PHASE_MS): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new WorkloadTimeout(`${what()} did not finish within ${ms / 1000} s`)), ms);
  });
  try {
    return await Promise.race([p, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

/** `jobs` enqueued by CONCURRENCY producers, each awaiting its add before the next. Seconds taken. */
async function produce(s: Subject, jobs: number): Promise<number> {
  let next = 0;
  const t0 = performance.now();
  await Promise.all(
    Array.from({ length: CONCURRENCY }, async () => {
      while (next++ < jobs) await s.enqueue();
    }),
  );
  return (performance.now() - t0) / 1000;
}

export async function runWorkload(s: Subject, o: WorkloadOptions): Promise<Figures> {
  let onJob: () => void = () => {};
  const handler = () => onJob();
  let counted = 0;
  const countTo = (n: number) =>
    new Promise<void>((resolve) => {
      counted = 0;
      onJob = () => {
        if (++counted === n) resolve();
      };
    });

  // Warm-up: the JIT, connection pools and prepared statements, so no subject pays them in its figures.
  let stop = await s.start(handler);
  const warmed = countTo(o.warmupJobs);
  await bounded(produce(s, o.warmupJobs), () => 'warm-up enqueue');
  await bounded(warmed, () => `warm-up (${counted} of ${o.warmupJobs} jobs ran)`);
  await bounded(stop(), () => 'stopping the workers');

  // 1. Enqueue throughput, no worker running.
  const enqueueSecs = await bounded(produce(s, o.jobs), () => 'enqueue');

  // 2. Processing throughput: workers start on the full backlog; the clock stops at the last handler start.
  const drained = countTo(o.jobs);
  const t0 = performance.now();
  stop = await s.start(handler);
  await bounded(drained, () => `processing (${counted} of ${o.jobs} jobs ran)`);
  const processSecs = (performance.now() - t0) / 1000;

  // 3. Enqueue-to-handler-start latency, one job at a time, workers idle.
  await pause(500);
  const samples: number[] = [];
  for (let i = 0; i < o.latencySamples; i++) {
    const started = new Promise<number>((resolve) => (onJob = () => resolve(performance.now())));
    const t = performance.now();
    await bounded(s.enqueue(), () => `latency sample ${i + 1}'s enqueue`, SAMPLE_MS);
    samples.push((await bounded(started, () => `latency sample ${i + 1}`, SAMPLE_MS)) - t);
    await pause(5);
  }
  await bounded(stop(), () => 'stopping the workers');
  samples.sort((a, b) => a - b);
  const at = (q: number) => samples[Math.min(samples.length - 1, Math.floor(samples.length * q))]!;
  return { enqueuePerSec: o.jobs / enqueueSecs, processPerSec: o.jobs / processSecs, p50Ms: at(0.5), p99Ms: at(0.99) };
}
