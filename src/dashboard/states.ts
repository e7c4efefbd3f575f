import { STATE } from '../processing/states.js';

/** The states the dashboard lists jobs by, in a job's usual order of life. */
export const STATE_NAMES: readonly string[] = [STATE.enqueued, STATE.scheduled, STATE.processing, STATE.succeeded, STATE.failed, STATE.deleted];
