import { z } from 'zod';
import { SlotTable } from '../shards/slot-table.js';
import { Placement } from '../tenancy/placement.js';

/** A shard's state in the directory: `active`, or `draining` (on its way out: nothing may be placed on it). */
export type ShardState = 'active' | 'draining';

/**
 * The placement directory as stored: every process routes by the newest one
 * it has read. `epoch` grows by one with every change of where a unit lives;
 * shard states and weights change it too, so "same epoch" means "same
 * directory".
 */
export interface DirectoryRecord {
  epoch: number;
  /** Registered shards in registration order (the slot table's index order). */
  shards: Array<{ id: string; weight: number; state: ShardState }>;
  /** Ids removed from the fleet; a config that lists one again is refused. */
  removed: string[];
  /** The slot table as runs of [shard id, slot count] in slot order. */
  slots: Array<[string, number]>;
  /** unit key (tenant or tenant:group) -> shard. */
  pins: Record<string, string>;
  /** tenant -> group -> queues. */
  groups: Record<string, Record<string, string[]>>;
  /**
   * Ownership changes written to the directory whose shard markers may not
   * be set yet (the writer may have died between the two); any router finishes them.
   */
  flips: Array<{ unit: string; from: string; to: string; epoch: number }>;
  /** Moves under way (unit-move.ts), each phase written here before it acts, so any router can finish or undo one whose mover died. */
  moves: MoveRecord[];
  /** When this epoch was written (ms since the Unix epoch), for operators. */
  writtenAt: number;
}

/**
 * One unit's move. `copy`: the source is frozen and being copied (undone if
 * the mover dies: the freeze lapses and the target's partial copy is
 * cleared). `flip`: the directory names the target; the shard markers may be
 * unset. `cleanup`: the target owns the unit; the source's copy is removed.
 * `rollback`: a move in `copy` being undone; no flip can follow it.
 */
export interface MoveRecord {
  id: string;
  unit: string;
  from: string;
  to: string;
  phase: 'copy' | 'flip' | 'cleanup' | 'rollback';
  /** When the move began, and when it entered its phase (ms since the Unix epoch). */
  startedAt: number;
  phaseAt: number;
  /** How long the mover keeps the source frozen between renewals (ms). */
  freezeMs: number;
}

const ID = z.string().min(1).max(200);

export const directoryRecordSchema = z.object({
  epoch: z.number().int().positive(),
  shards: z.array(z.object({ id: ID, weight: z.number().positive().finite(), state: z.enum(['active', 'draining']) })).min(1),
  removed: z.array(ID),
  slots: z.array(z.tuple([ID, z.number().int().positive()])),
  pins: z.record(z.string(), ID),
  groups: z.record(z.string(), z.record(z.string(), z.array(z.string()))),
  flips: z.array(z.object({ unit: z.string(), from: ID, to: ID, epoch: z.number().int().positive() })),
  moves: z
    .array(
      z.object({
        id: z.string(),
        unit: z.string(),
        from: ID,
        to: ID,
        phase: z.enum(['copy', 'flip', 'cleanup', 'rollback']),
        startedAt: z.number(),
        phaseAt: z.number(),
        freezeMs: z.number().int().positive(),
      }),
    )
    .default([]),
  writtenAt: z.number(),
});

/** The placement a record describes. Throws on a record whose slot runs do not fit its shard list. */
export function placementOf(record: DirectoryRecord): Placement {
  const table = SlotTable.fromRuns(
    record.shards.map((s) => s.id),
    record.slots,
  );
  const groups = new Map(Object.entries(record.groups).map(([tenant, gs]) => [tenant, new Map(Object.entries(gs))]));
  return new Placement({ table, pins: new Map(Object.entries(record.pins)), groups });
}

/** The record of a placement built from configuration: epoch 1. */
export function recordOf(placement: Placement, weights: ReadonlyMap<string, number>): DirectoryRecord {
  const groups: DirectoryRecord['groups'] = {};
  for (const [tenant, gs] of placement.groups) groups[tenant] = Object.fromEntries([...gs].map(([g, qs]) => [g, [...qs]]));
  return {
    epoch: 1,
    shards: placement.table.shards.map((id) => ({ id, weight: weights.get(id) ?? 1, state: 'active' })),
    removed: [],
    slots: placement.table.runs(),
    pins: Object.fromEntries(placement.pins),
    groups,
    flips: [],
    moves: [],
    writtenAt: Date.now(),
  };
}
