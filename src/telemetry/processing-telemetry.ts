import type { Attributes, MeterProvider } from '@opentelemetry/api';
import { isNoopMeter, meterFrom, processingInstruments } from './instruments.js';

export interface JobOutcome {
  type: string;
  queue: string;
  attempt: number;
  outcome: string;
  durationMs: number;
}

/**
 * Records one job run: duration, outcome and attempt number, labelled with the
 * server, type, queue and (when `locate` knows it) the shard and backend kind.
 */
export function processingRecorder(
  serverId: string,
  provider?: MeterProvider,
  locate?: (queue: string) => { shard: string; backend: string } | undefined,
): (e: JobOutcome) => void {
  const meter = meterFrom(provider);
  // No SDK: nothing could ever be recorded (isNoopMeter), so no labels are looked up a run.
  if (isNoopMeter(meter)) return () => {};
  const inst = processingInstruments(meter);
  const cache = new Map<string, Attributes>();
  return (e) => {
    const key = `${e.type}\u0000${e.queue}\u0000${e.outcome}`;
    let attrs = cache.get(key);
    if (!attrs) {
      attrs = { 'jobshard.server.id': serverId, 'jobshard.job.type': e.type, 'messaging.destination.name': e.queue, 'jobshard.job.outcome': e.outcome };
      const where = e.queue ? locate?.(e.queue) : undefined;
      if (where) Object.assign(attrs, { 'jobshard.shard.id': where.shard, 'jobshard.backend': where.backend });
      // Not located yet (the directory still loading): labelled without the shard this once, asked again next time.
      if (where || !locate) cache.set(key, attrs);
    }
    inst.processed.add(key, attrs);
    if (e.outcome === 'skipped') return;
    inst.jobDuration.record(e.durationMs / 1000, attrs);
    inst.attempts.record(e.attempt, attrs);
  };
}
