import type { NewState } from './job.js';
import type { StructureKind } from './data.js';
import type { FetchedJob } from './queue.js';

/**
 * A write-only batch. Methods only record the write (and validate it, throwing
 * InvalidArgumentError at once); nothing is visible until the transaction
 * commits, and then all of it is, or none of it (e.g. a JobNotFoundError on
 * one write discards every other write of the batch).
 */
export interface WriteTransaction {
  /** Append to the history and make it the current state. */
  setJobState(jobId: string, state: NewState): void;
  /** Append to the history without changing the current state. */
  addJobState(jobId: string, state: NewState): void;
  /** Sets one parameter of a job. */
  setJobParameter(jobId: string, name: string, value: string): void;
  /** The job, its parameters and history are deleted after ms. */
  expireJob(jobId: string, ms: number): void;
  /** Removes a job's expiry: it stays until deleted. */
  persistJob(jobId: string): void;
  /** Put the job at the tail of the queue; fetchable after commit. */
  enqueue(queue: string, jobId: string): void;
  /**
   * Acknowledge a fetched job with this transaction: its queue entry is removed at commit,
   * atomically with the other writes (a worker's outcome and its ack are one write). Fenced
   * by the delivery's token: if the lease was lost (it lapsed and the job was fetched again),
   * the commit throws LeaseLostError and writes nothing.
   */
  removeFromQueue(fetched: FetchedJob): void;

  /** Upsert fields. */
  hashSet(key: string, fields: Record<string, string>): void;
  /** Remove the whole hash. */
  hashDelete(key: string): void;
  /** Add a member, or update its score if present. */
  setAdd(key: string, member: string, score: number): void;
  /** Removes a member from a sorted set. */
  setRemove(key: string, member: string): void;
  /** Deletes a sorted set. */
  setDelete(key: string): void;
  /** Insert at the head (lists are newest first). */
  listInsert(key: string, value: string): void;
  /** Remove every occurrence of value. */
  listRemove(key: string, value: string): void;
  /** Keep only items start..end inclusive (newest first; end -1 = the last); the rest are dropped. */
  listTrim(key: string, start: number, end: number): void;
  /** Deletes a list. */
  listDelete(key: string): void;
  /** Add `by` (may be negative); optionally (re)set the counter's expiry. */
  counterIncrement(key: string, by?: number, options?: { expireInMs?: number }): void;
  /** Makes a structure expire in `ms`. */
  expire(kind: StructureKind, key: string, ms: number): void;
  /** Removes a structure's expiry. */
  persist(kind: StructureKind, key: string): void;
}

/** The recorded form of a transaction's writes, handed to a backend's commit. */
export type WriteOp =
  | { op: 'setJobState'; jobId: string; state: NewState }
  | { op: 'addJobState'; jobId: string; state: NewState }
  | { op: 'setJobParameter'; jobId: string; name: string; value: string }
  | { op: 'expireJob'; jobId: string; ms: number }
  | { op: 'persistJob'; jobId: string }
  | { op: 'enqueue'; queue: string; jobId: string }
  /** The delivery's queue and opaque token (a backend's LeasedEntry fields). */
  | { op: 'removeFromQueue'; queue: string; token: string }
  | { op: 'hashSet'; key: string; fields: Record<string, string> }
  | { op: 'hashDelete'; key: string }
  | { op: 'setAdd'; key: string; member: string; score: number }
  | { op: 'setRemove'; key: string; member: string }
  | { op: 'setDelete'; key: string }
  | { op: 'listInsert'; key: string; value: string }
  | { op: 'listRemove'; key: string; value: string }
  | { op: 'listTrim'; key: string; start: number; end: number }
  | { op: 'listDelete'; key: string }
  | { op: 'counterIncrement'; key: string; by: number; expireInMs: number | null }
  | { op: 'expire'; kind: StructureKind; key: string; ms: number }
  | { op: 'persist'; kind: StructureKind; key: string };

/** A write as a transaction records it: a removeFromQueue holds the FetchedJob until the layer that commits resolves it. */
export type RecordedOp = Exclude<WriteOp, { op: 'removeFromQueue' }> | { op: 'removeFromQueue'; fetched: FetchedJob };

/** Job ids a batch touches: a backend checks them all exist before applying anything. */
export function jobIdsOf(ops: readonly WriteOp[]): string[] {
  const ids = new Set<string>();
  for (const op of ops) if ('jobId' in op) ids.add(op.jobId);
  return [...ids];
}
