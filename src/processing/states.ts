/** The state names the processing core writes; monitoring lists jobs by them. */
export const STATE = {
  scheduled: 'Scheduled',
  enqueued: 'Enqueued',
  processing: 'Processing',
  succeeded: 'Succeeded',
  failed: 'Failed',
  deleted: 'Deleted',
} as const;

/**
 * The states a worker runs a fetched job from: waiting, or left Processing by a worker that died.
 * The fetch's mark takes only these (JobServer), and a deferred mark's runner checks them itself.
 */
export const RUNNABLE_STATES = Object.freeze([STATE.enqueued, STATE.processing] as const);

// The storage contract defines them: backends index the units with due members (Backend.unitsWithDue).
export { RECURRING_SET, SCHEDULE_SET } from '../storage/due-sets.js';
export const recurringKey = (id: string) => `recurring-job:${id}`;
/** The lock under which due jobs and occurrences are moved, so two servers never move the same one. */
export const SCHEDULER_LOCK = 'jobshard:scheduler';
/** Parameter holding how many attempts failed so far. */
export const RETRY_PARAM = 'retryCount';
