// Shared by the processing benchmarks: a backlog of no-op jobs, drained by a JobServer.
import type { MeterProvider, TracerProvider } from '@opentelemetry/api';
import { JobClient } from '../../src/processing/job-client.js';
import { JobServer, type JobServerOptions } from '../../src/processing/job-server.js';
import type { Storage } from '../../src/storage/storage.js';

/** Enqueues `jobs` no-op jobs (16 producers), then times a JobServer of `workers` draining them; jobs/s. */
export async function drainRate(storage: Storage, jobs: number, workers: number, meterProvider?: MeterProvider, server: ServerKnobs = {}): Promise<number> {
  return (await drain(storage, jobs, workers, meterProvider, undefined, server)).perSec;
}

/** JobServer options a benchmark may set besides the workers (the peers' settings: prefetch 64, retentionMs 0). */
export type ServerKnobs = Pick<JobServerOptions, 'prefetch' | 'retentionMs'>;

/** As drainRate, with this process's CPU time per job over the drain (user + system, µs). */
export async function drain(
  storage: Storage,
  jobs: number,
  workers: number,
  meterProvider?: MeterProvider,
  tracerProvider?: TracerProvider,
  knobs: ServerKnobs = {},
): Promise<{ perSec: number; cpuUsPerJob: number }> {
  const client = new JobClient(storage, tracerProvider ? { tracerProvider } : {});
  let next = 0;
  await Promise.all(
    Array.from({ length: 16 }, async () => {
      while (next++ < jobs) await client.enqueue('noop', []);
    }),
  );
  let done = 0;
  let finished!: () => void;
  const all = new Promise<void>((r) => (finished = r));
  const server = new JobServer(storage, {
    workerCount: workers,
    ...knobs,
    ...(meterProvider ? { meterProvider } : {}),
    ...(tracerProvider ? { tracerProvider } : {}),
    handlers: {
      noop: () => {
        if (++done === jobs) finished();
      },
    },
  });
  const t0 = performance.now();
  const cpu0 = process.cpuUsage();
  await server.start();
  await all;
  const perSec = jobs / ((performance.now() - t0) / 1000);
  const cpu = process.cpuUsage(cpu0);
  await server.stop();
  return { perSec, cpuUsPerJob: (cpu.user + cpu.system) / jobs };
}
