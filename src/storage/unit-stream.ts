/**
 * A unit's whole content as a backend-neutral stream: what a move copies from
 * one shard to another, whatever the backends. Every backend exports its own
 * layout into these items and imports them into its own layout, so a move
 * between any two backends needs no copier per pair. Times are ms since the
 * epoch; `expireAt` null means never.
 */
export type UnitItem = JobItem | EntryItem | HashItem | SetItem | ListItem | CounterItem | LockItem | ServerItem;

export interface ItemState {
  name: string;
  reason: string | null;
  data: Record<string, string>;
  at: number;
}

export interface JobItem {
  kind: 'job';
  /** The backend's id. A target that cannot keep it records an alias (ALIAS_HASH). */
  id: string;
  type: string;
  /** The arguments' JSON text exactly as the client validated it. */
  argsJson: string;
  queue: string;
  createdAt: number;
  expireAt: number | null;
  parameters: Record<string, string>;
  /** Oldest first. */
  history: ItemState[];
  /** The current state, or null for a job created without one. */
  current: ItemState | null;
}

/** A queue entry. Items of one queue come in FIFO order. */
export interface EntryItem {
  kind: 'entry';
  queue: string;
  jobId: string;
  deliveries: number;
  /** The live lease's deadline, or null when the entry is visible. */
  leaseUntil: number | null;
}

export interface HashItem { kind: 'hash'; key: string; fields: Record<string, string>; expireAt: number | null }
export interface SetItem { kind: 'set'; key: string; members: Array<[member: string, score: number]>; expireAt: number | null }
/** Newest first, as the DataStore reads lists. */
export interface ListItem { kind: 'list'; key: string; values: string[]; expireAt: number | null }
export interface CounterItem { kind: 'counter'; key: string; value: number; expireAt: number | null }

export interface LockItem {
  kind: 'lock';
  resource: string;
  /** The last token granted: the target's next grant is above it. */
  fence: number;
  /** The live grant, if any: its holder keeps it on the target. */
  holder: { token: number; leaseUntil: number } | null;
}

export interface ServerItem {
  kind: 'server';
  id: string;
  queues: string[];
  workerCount: number;
  startedAt: number;
  heartbeatAt: number;
}

/**
 * A hash of the unit (field: a job id the unit's clients may hold, value: the
 * id the job has here) written by a target that gives imported jobs new ids.
 * It moves with the unit like any hash; the router resolves ids through it
 * when a shard does not know one.
 */
export const ALIAS_HASH = 'jobshard.aliases';

/** Items per batch of an export (and of the import calls a move makes). */
export const EXPORT_BATCH = 500;

/** The numeric part of a job id ("42", or "42.<tag>" on Redis), or 0: targets start their own ids above it. */
export function idNumber(id: string): number {
  const m = /^(\d+)/.exec(id);
  return m ? Number(m[1]) : 0;
}
