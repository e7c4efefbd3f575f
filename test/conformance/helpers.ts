import type { ExecutionContext } from 'ava';
import type { Storage } from '../../src/storage/storage.js';
import type { JsonValue } from '../../src/storage/json.js';

export const delay = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/** Create a job and enqueue it the way the processing core does: state + queue entry in one transaction. */
export async function enqueueJob(s: Storage, queue: string, type = 'test.job', args: JsonValue[] = []): Promise<string> {
  const id = await s.jobs.create({ type, args, queue, expireInMs: 3_600_000 });
  await s.transaction((tx) => {
    tx.setJobState(id, { name: 'Enqueued', data: { queue } });
    tx.enqueue(queue, id);
    tx.persistJob(id);
  });
  return id;
}

/** Enqueue in one write: the job is created already Enqueued and in its queue. */
export function createEnqueued(s: Storage, queue: string, type = 'test.job', args: JsonValue[] = []): Promise<string> {
  return s.jobs.create({ type, args, queue, state: { name: 'Enqueued', data: { queue } }, enqueue: true });
}

/** Assert the promise rejects with a jobshard error of this code; returns the error. */
export async function rejectsWithCode(t: ExecutionContext, promise: Promise<unknown> | (() => unknown), code: string): Promise<Error> {
  const err = await t.throwsAsync(async () => (typeof promise === 'function' ? promise() : promise));
  t.is((err as { code?: string } | undefined)?.code, code, `expected code ${code}, got ${String((err as Error | undefined)?.message)}`);
  return err as Error;
}

/** Fetch with a time limit; resolves null if nothing arrives in time. */
export async function fetchOrNull(s: Storage, queues: string[], ms: number, invisibilityTimeoutMs?: number, withJob?: boolean) {
  try {
    return await s.queues.fetch(queues, {
      signal: AbortSignal.timeout(ms),
      ...(invisibilityTimeoutMs ? { invisibilityTimeoutMs } : {}),
      ...(withJob ? { withJob } : {}),
    });
  } catch (err) {
    if ((err as Error).name === 'TimeoutError' || (err as Error).name === 'AbortError') return null;
    throw err;
  }
}
