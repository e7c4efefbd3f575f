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

export function statsKeys(kind: StatisticKind, at: Date): { total: string; day: string; hour: string } {
  return {
    total: `stats:${kind}`,
    day: `stats:${kind}:${dayPeriod(at)}`,
    hour: `stats:${kind}:${hourPeriod(at)}`,
  };
}
