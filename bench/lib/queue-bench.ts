// The storage-level queue benchmark shared by every backend: enqueue
// throughput, fetch+ack throughput at several consumer counts, and
// enqueue-to-fetch latency. Prints figures; asserts nothing.
import type { Storage } from '../../src/storage/storage.js';

export interface QueueBenchResult {
  enqueuePerSec: number;
  fetchAck: Array<{ consumers: number; perSec: number }>;
  latency: { p50: number; p99: number; samples: number };
}

export async function enqueueOne(s: Storage, queue: string): Promise<string> {
  const id = await s.jobs.create({ type: 'bench.noop', args: [], queue });
  await s.transaction((tx) => {
    tx.setJobState(id, { name: 'Enqueued' });
    tx.enqueue(queue, id);
  });
  return id;
}

async function timed(fn: () => Promise<void>): Promise<number> {
  const t0 = performance.now();
  await fn();
  return (performance.now() - t0) / 1000;
}

export async function runQueueBench(
  fresh: () => Storage,
  opts: { jobs: number; producers: number; consumerCounts: number[]; latencySamples: number },
): Promise<QueueBenchResult> {
  // 1. Enqueue throughput.
  const s1 = fresh();
  let next = 0;
  const enqueueSecs = await timed(async () => {
    await Promise.all(
      Array.from({ length: opts.producers }, async () => {
        while (next++ < opts.jobs) await enqueueOne(s1, 'bench');
      }),
    );
  });
  const enqueuePerSec = opts.jobs / enqueueSecs;

  // 2. Fetch + ack throughput: a fresh backlog per consumer count.
  const fetchAck: QueueBenchResult['fetchAck'] = [];
  for (const consumers of opts.consumerCounts) {
    const s = consumers === opts.consumerCounts[0] ? s1 : fresh();
    if (s !== s1) {
      let n = 0;
      await Promise.all(
        Array.from({ length: opts.producers }, async () => {
          while (n++ < opts.jobs) await enqueueOne(s, 'bench');
        }),
      );
    }
    // The clock stops when the last job is acknowledged; consumers still waiting in fetch are
    // then released. (Letting them wait out a timeout would add an idle tail to the figure.)
    let done = 0;
    const stop = new AbortController();
    // One shared signal, as a worker pool has (a safety timer instead of a timeout per fetch).
    const safety = setTimeout(() => stop.abort(), 120_000);
    const t0 = performance.now();
    let secs = 0;
    await Promise.all(
      Array.from({ length: consumers }, async () => {
        while (!stop.signal.aborted) {
          const f = await s.queues.fetch(['bench'], { signal: stop.signal }).catch(() => null);
          if (!f) break;
          await f.ack();
          if (++done === opts.jobs) {
            secs = (performance.now() - t0) / 1000;
            stop.abort();
          }
        }
      }),
    );
    clearTimeout(safety);
    if (done !== opts.jobs) throw new Error(`fetched ${done} of ${opts.jobs}`);
    fetchAck.push({ consumers, perSec: opts.jobs / secs });
  }

  // 3. Latency: an idle consumer is already waiting when each job is enqueued.
  const s3 = fresh();
  const samples: number[] = [];
  for (let i = 0; i < opts.latencySamples; i++) {
    const waiting = s3.queues.fetch(['latency'], { signal: AbortSignal.timeout(5_000) });
    await new Promise((r) => setTimeout(r, 2));
    const id = await s3.jobs.create({ type: 'bench.noop', args: [], queue: 'latency' });
    const t0 = performance.now();
    await s3.transaction((tx) => {
      tx.setJobState(id, { name: 'Enqueued' });
      tx.enqueue('latency', id);
    });
    const f = await waiting;
    samples.push(performance.now() - t0);
    await f.ack();
  }
  samples.sort((a, b) => a - b);
  const pct = (p: number) => samples[Math.min(samples.length - 1, Math.floor(p * samples.length))]!;
  return { enqueuePerSec, fetchAck, latency: { p50: pct(0.5), p99: pct(0.99), samples: samples.length } };
}

export function printQueueBench(label: string, r: QueueBenchResult): void {
  const rows: Array<[string, string]> = [
    ['enqueue (jobs/s)', r.enqueuePerSec.toFixed(0)],
    ...r.fetchAck.map((f): [string, string] => [`fetch+ack, ${f.consumers} consumer(s) (jobs/s)`, f.perSec.toFixed(0)]),
    [`enqueue-commit-to-fetch latency p50 (ms, ${r.latency.samples} samples)`, r.latency.p50.toFixed(2)],
    ['enqueue-commit-to-fetch latency p99 (ms)', r.latency.p99.toFixed(2)],
  ];
  const width = Math.max(...rows.map(([k]) => k.length));
  console.log(`\n${label}`);
  for (const [k, v] of rows) console.log(`  ${k.padEnd(width)}  ${v.padStart(9)}`);
}
