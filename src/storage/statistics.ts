/**
 * The processing core counts outcomes in counters named here, and every
 * backend's `monitoring.statistics()` reads them back, so statistics need no
 * backend-specific storage.
 */
export type StatisticKind = 'succeeded' | 'failed' | 'deleted';

export const STATS_DAY_RETENTION_MS = 31 * 24 * 3600_000;
export const STATS_HOUR_RETENTION_MS = 2 * 24 * 3600_000;

export function dayPeriod(at: Date): string {
  return at.toISOString().slice(0, 10);
}

export function hourPeriod(at: Date): string {
  return at.toISOString().slice(0, 13);
}

export interface StatsKeys {
  readonly total: string;
  readonly day: string;
  readonly hour: string;
}

/** The keys change once an hour; formatting the dates for every job showed up in profiles (~2% of a drain). */
const lastKeys = new Map<StatisticKind, { hour: number; keys: StatsKeys }>();

/** The counter keys of an outcome at a time: the total, its day and its hour. */
export function statsKeys(kind: StatisticKind, at: Date): StatsKeys {
  const hour = Math.floor(at.getTime() / 3_600_000);
  const last = lastKeys.get(kind);
  if (last?.hour === hour) return last.keys;
  const keys = Object.freeze({
    total: `stats:${kind}`,
    day: `stats:${kind}:${dayPeriod(at)}`,
    hour: `stats:${kind}:${hourPeriod(at)}`,
  });
  lastKeys.set(kind, { hour, keys });
  return keys;
}
