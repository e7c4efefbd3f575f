import { InvalidArgumentError } from '../storage/errors.js';
import type { FetchedJob, FetchOptions, QueueStore } from '../storage/queue.js';
import { checkQueues } from '../storage/validate.js';
import { sameUnit, type Unit } from '../tenancy/unit.js';
import { RoutedFetchedJob } from './routed-fetched-job.js';
import type { TenantContext } from './tenant-context.js';

interface Run {
  unit: Unit;
  queues: string[];
}

/**
 * Fetch over queues that may live in several units (queue groups on other
 * shards). One unit: the backend's own fetch. Several: one non-blocking pass
 * in the caller's priority order, then a wait on all units at once; a job
 * that a lower-priority unit hands out in the same instant as the winner is
 * requeued, keeping its place. (With setState, such a job keeps the state its
 * fetch gave it: a worker's Processing mark, taken again when it is fetched.)
 */
export class RoutedQueues implements QueueStore {
  constructor(readonly ctx: TenantContext) {}

  #runs(queues: string[]): Run[] {
    const runs: Run[] = [];
    for (const q of queues) {
      const unit = this.ctx.unitOfQueue(q);
      const last = runs.at(-1);
      if (last && sameUnit(last.unit, unit)) last.queues.push(q);
      else runs.push({ unit, queues: [q] });
    }
    return runs;
  }

  #wrap(unit: Unit, f: FetchedJob): FetchedJob {
    return new RoutedFetchedJob(f, this.ctx, unit, this.ctx.encode(unit, f.jobId), f.job && this.ctx.record(unit, f.job));
  }

  async tryFetch(queues: readonly string[], options: Omit<FetchOptions, 'signal'> = {}): Promise<FetchedJob | null> {
    const waiting = this.ctx.ready();
    if (waiting) await waiting;
    if (!this.ctx.split) {
      // One unit: its storage checks the queues.
      const f = await this.ctx.on(this.ctx.home, (s) => s.queues.tryFetch(queues, options));
      return f && this.#wrap(this.ctx.home, f);
    }
    for (const run of this.#runs(checkQueues(queues))) {
      const f = await this.ctx.on(run.unit, (s) => s.queues.tryFetch(run.queues, options));
      if (f) return this.#wrap(run.unit, f);
    }
    return null;
  }

  async fetch(queues: readonly string[], options: FetchOptions = {}): Promise<FetchedJob> {
    const waiting = this.ctx.ready();
    if (waiting) await waiting;
    const runs = this.#runs(checkQueues(queues));
    if (runs.length === 1) {
      const run = runs[0]!;
      return this.#wrap(run.unit, await this.ctx.on(run.unit, (s) => s.queues.fetch(run.queues, options)));
    }
    const { signal, ...rest } = options;
    if (signal !== undefined && !(signal instanceof AbortSignal)) throw new InvalidArgumentError('signal must be an AbortSignal');
    signal?.throwIfAborted();
    const first = await this.tryFetch(queues, rest);
    if (first) return first;

    // Wait on every unit at once; the first job wins.
    const byUnit: Run[] = [];
    for (const run of runs) {
      const same = byUnit.find((r) => sameUnit(r.unit, run.unit));
      if (same) same.queues.push(...run.queues);
      else byUnit.push({ unit: run.unit, queues: [...run.queues] });
    }
    const stop = new AbortController();
    const onAbort = () => stop.abort(signal!.reason);
    signal?.addEventListener('abort', onAbort, { once: true });
    const attempts = byUnit.map((run) =>
      this.ctx
        .storageOf(run.unit)
        .queues.fetch(run.queues, { ...rest, signal: stop.signal })
        .then((f) => this.#wrap(run.unit, f)),
    );
    try {
      const winner = await Promise.race(attempts);
      stop.abort();
      const results = await Promise.allSettled(attempts);
      for (const r of results) if (r.status === 'fulfilled' && r.value !== winner) await r.value.requeue().catch(() => {});
      return winner;
    } catch (err) {
      stop.abort();
      await Promise.allSettled(attempts.map(async (a) => (await a).requeue()));
      throw err;
    } finally {
      signal?.removeEventListener('abort', onAbort);
    }
  }
}
