import type { NewState } from '../storage/job.js';
import type { FetchedJob } from '../storage/queue.js';
import type { Storage } from '../storage/storage.js';
import type { LazyAbort } from './lazy-abort.js';
import { STATE } from './states.js';

/**
 * A run's Processing state, written only if the run lasts (JobServerOptions.markProcessingAfterMs).
 *
 * Marking every job at its fetch is a write of the job per run; most jobs of a busy server finish
 * in milliseconds, and their outcome writes the job again anyway. Deferred, a short run's
 * Processing state goes into its outcome's commit (one write of the job, with both history
 * entries) and a long run is marked once it has run `afterMs`, so it still shows as Processing.
 */
export class ProcessingMark {
  readonly #state: NewState;
  #timer: ReturnType<typeof setTimeout> | undefined;
  /** The mark's commit once started: true when it landed. */
  #write: Promise<boolean> | null = null;

  constructor(storage: Storage, fetched: FetchedJob, serverId: string, afterMs: number, abort: LazyAbort) {
    // When the run started: the state's own time is that of the commit that writes it.
    this.#state = { name: STATE.processing, data: { serverId, startedAt: String(Date.now()) } };
    this.#timer = setTimeout(() => {
      this.#timer = undefined;
      // Aborted: its lease is lost, or stop() requeues it; a mark now would land on a job no longer ours.
      if (abort.aborted) return;
      this.#write = storage
        .transaction((tx) => tx.setJobState(fetched.jobId, this.#state))
        .then(
          () => true,
          () => false,
        );
    }, afterMs);
  }

  get state(): NewState {
    return this.#state;
  }

  /** The run is over: no mark starts from here on. */
  settle(): void {
    clearTimeout(this.#timer);
    this.#timer = undefined;
  }

  /**
   * Before the run's next write of its job (the outcome, or a requeue): waits for a mark in
   * flight, so that it cannot land after that write. True when the mark was not written, and the
   * outcome must write the Processing state itself.
   */
  async unwritten(): Promise<boolean> {
    this.settle();
    return this.#write === null || !(await this.#write);
  }
}
