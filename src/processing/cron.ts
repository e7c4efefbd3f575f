import { CronExpressionParser } from 'cron-parser';
import { InvalidArgumentError } from '../storage/errors.js';

/** Next occurrence strictly after `after`, in ms. 5 fields (minutes) or 6 (seconds first). */
export function nextOccurrence(cron: string, after: number, tz?: string): number {
  try {
    return CronExpressionParser.parse(cron, { currentDate: new Date(after), ...(tz ? { tz } : {}) })
      .next()
      .getTime();
  } catch (err) {
    throw new InvalidArgumentError(`cron expression ${JSON.stringify(cron)} is not valid: ${(err as Error).message}`, { cause: err });
  }
}
