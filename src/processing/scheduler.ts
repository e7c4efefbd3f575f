import { TRACEPARENT_PARAM, TRACESTATE_PARAM } from '../telemetry/tracing.js';
import { isJobshardError } from '../storage/errors.js';
import type { Storage } from '../storage/storage.js';
import { nextOccurrence } from './cron.js';
import { RECURRING_SET, recurringKey, SCHEDULE_SET, SCHEDULER_LOCK, STATE } from './states.js';

/**
 * Moves due scheduled and retrying jobs to their queues. The caller holds
 * the scheduler lock; `stillHeld` is checked before every move, so a server
 * whose lease lapsed stops at once and two servers never move the same job.
 * Each move (state, queue entry, removal from the schedule) is one transaction.
 */
export async function moveDueJobs(storage: Storage, now: number, stillHeld: () => boolean, batch = 100): Promise<number> {
  let moved = 0;
  for (;;) {
    const due = await storage.data.setFirstByScore(SCHEDULE_SET, -Infinity, now, batch);
    for (const id of due) {
      if (!stillHeld()) return moved;
      const job = await storage.jobs.get(id).catch(() => null);
      await storage.transaction((tx) => {
        tx.setRemove(SCHEDULE_SET, id);
        if (!job || job.state !== STATE.scheduled) return; // deleted or requeued meanwhile: just drop the entry
        tx.setJobState(id, { name: STATE.enqueued, reason: 'due', data: { queue: job.queue } });
        tx.enqueue(job.queue, id);
      });
      moved++;
    }
    if (due.length < batch) return moved;
  }
}

/**
 * Enqueues due occurrences of recurring jobs, one job per occurrence. First
 * the job is enqueued, then the definition advanced to its next occurrence
 * (two transactions, because for a tenant split into queue groups the job
 * and the definition may live on different shards): a crash in between
 * repeats that occurrence rather than losing it — at least once.
 */
export async function enqueueRecurring(storage: Storage, now: number, stillHeld: () => boolean, batch = 100): Promise<number> {
  let enqueued = 0;
  const due = await storage.data.setFirstByScore(RECURRING_SET, -Infinity, now, batch);
  for (const rid of due) {
    if (!stillHeld()) return enqueued;
    const def = await storage.data.hashGetAll(recurringKey(rid));
    const at = await storage.data.setScore(RECURRING_SET, rid);
    if (!def || at === null) {
      await storage.transaction((tx) => tx.setRemove(RECURRING_SET, rid));
      continue;
    }
    const id = await storage.jobs.create({
      type: def['type']!,
      args: JSON.parse(def['args']!),
      queue: def['queue']!,
      parameters: { ...carriedTrace(def), recurringJobId: rid, occurrence: String(at) },
      expireInMs: 30 * 86_400_000,
    });
    await storage.transaction((tx) => {
      tx.setJobState(id, { name: STATE.enqueued, reason: `recurring job '${rid}'`, data: { queue: def['queue']! } });
      tx.enqueue(def['queue']!, id);
      tx.persistJob(id);
    });
    const next = nextOccurrence(def['cron']!, Math.max(now, at), def['tz'] || undefined);
    await storage.transaction((tx) => {
      tx.setAdd(RECURRING_SET, rid, next);
      tx.hashSet(recurringKey(rid), { lastJobId: id, lastAt: String(at) });
    });
    enqueued++;
  }
  return enqueued;
}

/**
 * Moves a storage's due scheduled and retrying jobs and recurring occurrences under its scheduler
 * lock; does nothing when another server holds the lock (it is sweeping the same storage now).
 */
export async function sweepDue(storage: Storage): Promise<void> {
  const lock = await storage.locks.acquire(SCHEDULER_LOCK, { timeoutMs: 0, ttlMs: 10_000 }).catch((err) => {
    if (isJobshardError(err, 'LOCK_TIMEOUT')) return null;
    throw err;
  });
  if (!lock) return;
  try {
    const held = () => !lock.signal.aborted;
    await moveDueJobs(storage, Date.now(), held);
    await enqueueRecurring(storage, Date.now(), held);
  } finally {
    await lock.release();
  }
}

/** The trace context stored with a recurring job's definition, for its occurrences to carry. */
function carriedTrace(def: Record<string, string>): Record<string, string> {
  const out: Record<string, string> = {};
  if (def[TRACEPARENT_PARAM]) out[TRACEPARENT_PARAM] = def[TRACEPARENT_PARAM];
  if (def[TRACESTATE_PARAM]) out[TRACESTATE_PARAM] = def[TRACESTATE_PARAM];
  return out;
}
