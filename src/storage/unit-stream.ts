/**
 * A unit's whole content as a backend-neutral stream: what a move copies from
 * one shard to another, whatever the backends. Every backend exports its own
 * layout into these items and imports them into its own layout, so a move
 * between any two backends needs no copier per pair. Times are ms since the
 * epoch; `expireAt` null means never.
 */
export type UnitItem = JobItem | EntryItem | HashItem | SetItem | ListItem | CounterItem | LockItem | ServerItem | GoneItem;

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
  /** The entry's identity at the source (its place in the queue there): a later copy of it replaces this one. */
  seq: string;
  jobId: string;
  deliveries: number;
  /** The live lease's deadline, or null when the entry is visible. */
  leaseUntil: number | null;
}

export interface HashItem {
  kind: 'hash';
  key: string;
  fields: Record<string, string>;
  expireAt: number | null;
}
export interface SetItem {
  kind: 'set';
  key: string;
  members: Array<[member: string, score: number]>;
  expireAt: number | null;
}
/** Newest first, as the DataStore reads lists. */
export interface ListItem {
  kind: 'list';
  key: string;
  values: string[];
  expireAt: number | null;
}
export interface CounterItem {
  kind: 'counter';
  key: string;
  value: number;
  expireAt: number | null;
}

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

/** In a delta (the changes since a copy): the thing `ref` names no longer exists at the source. */
export interface GoneItem {
  kind: 'gone';
  ref: string;
}

/**
 * What changed at the source while it was being copied, named so every
 * backend reads it back the same way (itemRef): `j:<job id>`,
 * `e:<queue>\u001f<seq>`, `h: z: l: c:<key>` for the structures, `k:<resource>`,
 * `s:<server id>`. Names never hold control characters, so \u001f separates.
 */
export type ItemRef = string;

export const SEP = '\u001f';

export function itemRef(item: Exclude<UnitItem, GoneItem>): ItemRef {
  switch (item.kind) {
    case 'job':
      return `j:${item.id}`;
    case 'entry':
      return `e:${item.queue}${SEP}${item.seq}`;
    case 'hash':
      return `h:${item.key}`;
    case 'set':
      return `z:${item.key}`;
    case 'list':
      return `l:${item.key}`;
    case 'counter':
      return `c:${item.key}`;
    case 'lock':
      return `k:${item.resource}`;
    case 'server':
      return `s:${item.id}`;
  }
}

/**
 * Writes a unit's copy into an empty namespace (see NamespaceDriver.beginImport):
 * first a whole export with `add`, then any number of deltas with `replace`,
 * then `finish`. It keeps what ties the copy to the source (ids it renamed,
 * the places of queue entries), so a delta's items replace their earlier copies.
 */
export interface UnitImport {
  add(items: readonly UnitItem[]): Promise<void>;
  /** Each item replaces its earlier copy (a queue entry keeps its place); a `gone` item removes it. */
  replace(items: readonly UnitItem[]): Promise<void>;
  /** Id counters above the imported ids, aliases, wake-ups. */
  finish(): Promise<void>;
}

/**
 * What a move's import session is fenced by: each call writes only while the target's ownership
 * record is the `moved` mark the move set at `epoch`, checked atomically with its writes; otherwise
 * it writes nothing and throws MoveAbortedError. A rollback re-marks the target at a later epoch
 * before clearing it, so a mover that stalled past its lock cannot write into a cleared target.
 */
export interface ImportFence {
  epoch: number;
}

/** Writes a whole export through an import session, then finishes it (what Backend.importUnit does on every backend). */
export async function importAll(session: UnitImport, batches: AsyncIterable<readonly UnitItem[]>): Promise<void> {
  for await (const batch of batches) await session.add(batch);
  await session.finish();
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

/**
 * The job ids an item says the unit's clients may hold: a job's own id, or the old ids in the alias
 * hash. A target draws its new ids above all of them: the aliases too, since a unit that left a
 * backend and came back (Redis → Postgres → Redis) brings its first ids only as aliases, and a
 * new job must not get one of them.
 */
export function heldIds(item: UnitItem): string[] {
  if (item.kind === 'job') return [item.id];
  if (item.kind === 'hash' && item.key === ALIAS_HASH) return Object.keys(item.fields);
  return [];
}
