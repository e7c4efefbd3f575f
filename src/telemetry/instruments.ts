import { createNoopMeter, metrics, type Attributes, type Histogram, type Meter, type MeterProvider } from '@opentelemetry/api';
import { CounterSet } from './counter-set.js';

/** Sub-millisecond to multi-second, in seconds (the unit the semantic conventions use). */
export const DURATION_BUCKETS = [0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];

export const METER_NAME = 'jobshard';

/**
 * True when the meter can never record: no SDK was installed (the API hands
 * out no-op meters, and they stay no-op even if an SDK is installed later).
 * Instrumentation is then skipped altogether rather than run for nothing.
 */
export function isNoopMeter(meter: Meter): boolean {
  return meter.constructor === createNoopMeter().constructor;
}

export function meterFrom(provider?: MeterProvider): Meter {
  // Without an SDK installed the global provider is a no-op: recording costs next to nothing.
  return (provider ?? metrics.getMeterProvider()).getMeter(METER_NAME);
}

/** A duration histogram in seconds with the shared sub-millisecond to multi-second buckets. */
function secondsHistogram(meter: Meter, name: string, description: string): Histogram {
  return meter.createHistogram(name, { description, unit: 's', advice: { explicitBucketBoundaries: DURATION_BUCKETS } });
}

/** The storage-side instruments, one set per router. */
export interface StorageInstruments {
  operationDuration: Histogram;
  enqueued: CounterSet;
  fetched: CounterSet;
  acknowledged: CounterSet;
  redelivered: CounterSet;
  lockWait: Histogram;
  lockTimeouts: CounterSet;
}

export function storageInstruments(meter: Meter): StorageInstruments {
  return {
    operationDuration: secondsHistogram(meter, 'db.client.operation.duration', 'Duration of jobshard storage operations per shard and operation'),
    enqueued: new CounterSet(meter, 'messaging.client.sent.messages', { description: 'Jobs enqueued', unit: '{job}' }),
    fetched: new CounterSet(meter, 'messaging.client.consumed.messages', { description: 'Jobs fetched (delivered to a consumer)', unit: '{job}' }),
    acknowledged: new CounterSet(meter, 'jobshard.jobs.acknowledged', { description: 'Fetched jobs acknowledged (removed from their queue)', unit: '{job}' }),
    redelivered: new CounterSet(meter, 'jobshard.jobs.redelivered', {
      description: 'Jobs delivered again after their invisibility expired or a requeue',
      unit: '{job}',
    }),
    lockWait: secondsHistogram(meter, 'jobshard.lock.wait.duration', 'Time spent acquiring distributed locks (granted or not)'),
    lockTimeouts: new CounterSet(meter, 'jobshard.lock.timeouts', { description: 'Lock acquisitions that timed out', unit: '{lock}' }),
  };
}

/** The processing-side instruments (JobServer). */
export interface ProcessingInstruments {
  jobDuration: Histogram;
  processed: CounterSet;
  attempts: Histogram;
}

export function processingInstruments(meter: Meter): ProcessingInstruments {
  return {
    jobDuration: secondsHistogram(meter, 'jobshard.job.duration', 'Time from a worker taking a job to its outcome being written'),
    processed: new CounterSet(meter, 'jobshard.jobs.processed', { description: 'Job runs by outcome (succeeded, failed, retried, skipped)', unit: '{job}' }),
    attempts: meter.createHistogram('jobshard.job.attempts', {
      description: 'Attempt number of each job run (1 = first run)',
      unit: '{attempt}',
      advice: { explicitBucketBoundaries: [1, 2, 3, 4, 5, 7, 10, 15, 25] },
    }),
  };
}

export type { Attributes };
