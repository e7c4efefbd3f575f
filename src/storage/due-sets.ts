/** Sorted set of job ids waiting for a time (scheduled and retrying jobs), scored by due time (ms). */
export const SCHEDULE_SET = 'schedule';
/** Sorted set of recurring job ids scored by their next occurrence (ms); each has a hash `recurring-job:<id>`. */
export const RECURRING_SET = 'recurring-jobs';

/**
 * The sorted sets whose members fall due at their score (ms since 1970). Every
 * backend indexes the namespaces that hold a member of one of them
 * (Backend.unitsWithDue), so a server over many units finds due work with one
 * call per backend instead of reading every unit.
 */
export const DUE_SETS: readonly string[] = Object.freeze([SCHEDULE_SET, RECURRING_SET]);
