/** The state names the processing core writes; monitoring lists jobs by them. */
export const STATE = {
  scheduled: 'Scheduled',
  enqueued: 'Enqueued',
  processing: 'Processing',
  succeeded: 'Succeeded',
  failed: 'Failed',
  deleted: 'Deleted',
} as const;

/** Sorted set of job ids waiting for a time (scheduled and retrying jobs), scored by due time (ms). */
export const SCHEDULE_SET = 'schedule';
/** Sorted set of recurring job ids scored by their next occurrence (ms); each has a hash `recurring-job:<id>`. */
export const RECURRING_SET = 'recurring-jobs';
export const recurringKey = (id: string) => `recurring-job:${id}`;
/** The lock under which due jobs and occurrences are moved, so two servers never move the same one. */
export const SCHEDULER_LOCK = 'jobshard:scheduler';
/** Parameter holding how many attempts failed so far. */
export const RETRY_PARAM = 'retryCount';
