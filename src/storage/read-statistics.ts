import type { DataStore } from './data.js';
import type { Statistics, StatisticsPoint } from './monitoring.js';
import { dayPeriod, hourPeriod } from './statistics.js';

export async function readStatistics(data: DataStore, days: number, hours: number, now: Date): Promise<Statistics> {
  const count = (key: string) => data.counterGet(key);
  const dayPeriods = Array.from({ length: days }, (_, i) => dayPeriod(new Date(now.getTime() - (days - 1 - i) * 86_400_000)));
  const hourPeriods = Array.from({ length: hours }, (_, i) => hourPeriod(new Date(now.getTime() - (hours - 1 - i) * 3_600_000)));
  const point = async (period: string): Promise<StatisticsPoint> => ({
    period,
    succeeded: await count(`stats:succeeded:${period}`),
    failed: await count(`stats:failed:${period}`),
  });
  const [succeeded, failed, deleted, perDay, perHour] = await Promise.all([
    count('stats:succeeded'),
    count('stats:failed'),
    count('stats:deleted'),
    Promise.all(dayPeriods.map(point)),
    Promise.all(hourPeriods.map(point)),
  ]);
  return { succeeded, failed, deleted, perDay, perHour };
}
