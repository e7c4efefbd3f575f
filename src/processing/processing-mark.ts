import type { NewState } from '../storage/job.js';
import type { FetchedJob } from '../storage/queue.js';
import type { Storage } from '../storage/storage.js';
import type { LazyAbort } from './lazy-abort.js';
import { STATE } from './states.js';

/**
 * The Processing marks of a server's runs, written only for runs that last
 * (JobServerOptions.markProcessingAfterMs).
 *
 * Marking every job at its fetch is a write of the job per run; most jobs of a busy server finish
 * in milliseconds, and their outcome writes the job again anyway. Deferred, a short run's
 * Processing state goes into its outcome's commit (one write of the job, with both history
 * entries) and a long run is marked once it has run `afterMs`, so it still shows as Processing.
 *
 * One timer for all runs, not one each: every run waits the same time, so the runs waiting are
 * in the order their marks fall due.
 */
export class ProcessingMarks {
  /** Runs not yet marked, in the order they started (and so fall due). */
  readonly #waiting = new Set<ProcessingMark>();
  /** Every run whose outcome or requeue has not started yet, for requeue() to find its mark. */
  readonly #byJob = new Map<FetchedJob, ProcessingMark>();
  #timer: ReturnType<typeof setTimeout> | undefined;

  constructor(
    readonly afterMs: number,
    readonly serverId: string,
  ) {}

  /** A run starts: it is marked in afterMs unless its outcome comes first. */
  start(storage: Storage, fetched: FetchedJob, abort: LazyAbort): ProcessingMark {
    const mark = new ProcessingMark(this, storage, fetched, abort, performance.now() + this.afterMs);
    this.#waiting.add(mark);
    this.#byJob.set(fetched, mark);
    if (!this.#timer) this.#arm(this.afterMs);
    return mark;
  }

  /** The run is over: no mark starts from here on. */
  settle(mark: ProcessingMark): void {
    this.#waiting.delete(mark);
  }

  /**
   * Before the run's next write of its job (the outcome, or a requeue): no mark starts from here
   * on, and one in flight is waited for, so that it cannot land after that write. True when the
   * mark was not written, and the outcome must write the Processing state itself.
   */
  unwritten(mark: ProcessingMark): boolean | Promise<boolean> {
    this.#waiting.delete(mark);
    this.#byJob.delete(mark.fetched);
    // Answered at once when no mark started: most runs are shorter than afterMs.
    return mark.write === null ? true : mark.write.then(notLanded);
  }

  /** The mark of a fetched job whose outcome has not started, if any. */
  of(fetched: FetchedJob): ProcessingMark | undefined {
    return this.#byJob.get(fetched);
  }

  #arm(ms: number): void {
    this.#timer = setTimeout(() => this.#due(), ms);
    // A run still going keeps the process up; a lone timer must not.
    this.#timer.unref();
  }

  #due(): void {
    this.#timer = undefined;
    const now = performance.now();
    for (const mark of this.#waiting) {
      if (mark.due > now) return this.#arm(mark.due - now);
      this.#waiting.delete(mark);
      // Aborted: its lease is lost, or stop() requeues it; a mark now would land on a job no longer ours.
      if (!mark.abort.aborted) mark.write = mark.storage.transaction((tx) => tx.setJobState(mark.fetched.jobId, mark.state)).then(yes, no);
    }
  }
}

const yes = () => true;
const no = () => false;
const notLanded = (landed: boolean) => !landed;

/** One run's deferred mark. */
export class ProcessingMark {
  /** When the run started, as the Processing state's data says. */
  readonly #startedAt = Date.now();
  #state: NewState | undefined;
  /** The mark's commit once started: true when it landed. */
  write: Promise<boolean> | null = null;

  constructor(
    readonly marks: ProcessingMarks,
    readonly storage: Storage,
    readonly fetched: FetchedJob,
    readonly abort: LazyAbort,
    readonly due: number,
  ) {}

  /** The run's Processing state: its time is that of the commit that writes it, so its data says when the run started. */
  get state(): NewState {
    return (this.#state ??= { name: STATE.processing, data: { serverId: this.marks.serverId, startedAt: String(this.#startedAt) } });
  }
}
