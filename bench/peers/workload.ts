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
}

const pause = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** `jobs` enqueued by CONCURRENCY producers, each awaiting its add before the next. Seconds taken. */
async function produce(s: Subject, jobs: number): Promise<number> {
  let next = 0;
  const t0 = performance.now();
  await Promise.all(Array.from({ length: CONCURRENCY }, async () => {
    while (next++ < jobs) await s.enqueue();
  }));
  return (performance.now() - t0) / 1000;
}

export async function runWorkload(s: Subject, o: WorkloadOptions): Promise<Figures> {
  let onJob: () => void = () => {};
  const handler = () => onJob();
  const countTo = (n: number) => new Promise<void>((resolve) => {
    let done = 0;
    onJob = () => {
      if (++done === n) resolve();
    };
  });

  // Warm-up: the JIT, connection pools and prepared statements, so no subject pays them in its figures.
  let stop = await s.start(handler);
  const warmed = countTo(o.warmupJobs);
  await produce(s, o.warmupJobs);
  await warmed;
  await stop();

  // 1. Enqueue throughput, no worker running.
  const enqueueSecs = await produce(s, o.jobs);

  // 2. Processing throughput: workers start on the full backlog; the clock stops at the last handler start.
  const drained = countTo(o.jobs);
  const t0 = performance.now();
  stop = await s.start(handler);
  await drained;
  const processSecs = (performance.now() - t0) / 1000;

  // 3. Enqueue-to-handler-start latency, one job at a time, workers idle.
  await pause(500);
  const samples: number[] = [];
  for (let i = 0; i < o.latencySamples; i++) {
    const started = new Promise<number>((resolve) => (onJob = () => resolve(performance.now())));
    const t = performance.now();
    await s.enqueue();
    samples.push((await started) - t);
    await pause(5);
  }
  await stop();
  samples.sort((a, b) => a - b);
  const at = (q: number) => samples[Math.min(samples.length - 1, Math.floor(samples.length * q))]!;
  return { enqueuePerSec: o.jobs / enqueueSecs, processPerSec: o.jobs / processSecs, p50Ms: at(0.5), p99Ms: at(0.99) };
}
