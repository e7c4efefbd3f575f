import { SLOT_COUNT, SlotTable, quotasFor } from '../shards/slot-table.js';
import { InvalidArgumentError } from '../storage/errors.js';
import type { Backend } from '../storage/storage.js';
import { placementOf, type DirectoryRecord } from './directory-record.js';
import type { Directory } from './directory.js';
import { moveUnit, type MoveOptions, type MoveProgress, type UnitMoveResult } from './unit-move.js';

/** Namespaces that are units (tenant ids have no '.', so reserved namespaces such as the directory's are not). */
const UNIT_KEY = /^[^.]+$/;

/** Every unit holding data, by the shard it is placed on (units found on another shard's backend are strays). */
export async function unitsWithData(dir: Directory, record: DirectoryRecord): Promise<{ placed: Map<string, string>; strays: string[] }> {
  const placement = placementOf(record);
  const seen = new Map<Backend, string[]>();
  for (const s of record.shards) {
    const b = dir.backends(s.id);
    if (!b || seen.has(b)) continue;
    seen.set(
      b,
      (await b.units()).filter((u) => UNIT_KEY.test(u)),
    );
  }
  const placed = new Map<string, string>();
  const strays: string[] = [];
  for (const [backend, units] of seen) {
    for (const unit of units) {
      const shard = placement.shardOfKey(unit);
      if (dir.backends(shard) === backend) placed.set(unit, shard);
      else if ((await backend.ownership(unit)).state !== 'moved') strays.push(unit);
    }
  }
  return { placed, strays };
}

export interface SlotMoveResult {
  slots: number;
  to: string;
  epoch: number;
  units: UnitMoveResult[];
  /** Units first written in a moving slot by a router that had not seen the new epoch, moved after the flip. */
  latecomers: string[];
  /** Units found with data on both sides after the flip (written by stale routers on both); left for an operator. */
  split: string[];
}

export function checkSlots(slots: unknown): number[] {
  if (!Array.isArray(slots) || slots.length === 0) throw new InvalidArgumentError('slots must be a non-empty array of slot numbers');
  const out = new Set<number>();
  for (const s of slots) {
    if (typeof s !== 'number' || !Number.isInteger(s) || s < 0 || s >= SLOT_COUNT)
      throw new InvalidArgumentError(`a slot is an integer from 0 to ${SLOT_COUNT - 1}, got ${String(s)}`);
    out.add(s);
  }
  return [...out].sort((a, b) => a - b);
}

const pinTo = (next: DirectoryRecord, unit: string, to: string) => {
  next.pins[unit] = to;
};

/**
 * Moves every unit of `slots` to `to`, one at a time (each pinned there as it
 * lands), then gives the slots to `to` in one directory write that drops
 * those pins. Slots that hold no unit move by that write alone. A unit first
 * written in one of the slots by a router still on the old epoch is found by
 * a second look after `settleMs` and moved too.
 */
export async function moveSlots(
  dir: Directory,
  slots: number[],
  to: string,
  options: MoveOptions,
  progress: MoveProgress,
  settleMs: number,
): Promise<SlotMoveResult> {
  const wanted = new Set(slots);
  const inSlots = async () => {
    const { placed } = await unitsWithData(dir, dir.record);
    const pins = dir.record.pins;
    return [...placed].filter(([unit, shard]) => shard !== to && pins[unit] === undefined && wanted.has(SlotTable.slotOf(unit)));
  };
  await dir.refresh();
  const units = await inSlots();
  progress.unitsTotal += units.length;
  options.onProgress?.(progress);
  const results: UnitMoveResult[] = [];
  for (const [unit] of units) results.push(await moveUnit(dir, unit, to, options, progress, pinTo));
  const moved = new Set(results.map((r) => r.unit));
  const record = await dir.write((next) => {
    const table = placementOf(next).table.reassign(slots, to);
    next.slots = table.runs();
    for (const unit of moved) if (next.pins[unit] === to) delete next.pins[unit];
    return true;
  });

  // Routers learn the new epoch within their poll interval; a unit one of them created meanwhile sits on the old shard.
  const latecomers: string[] = [];
  const split: string[] = [];
  await new Promise((r) => setTimeout(r, settleMs));
  const old = new Set(units.map(([, shard]) => shard));
  for (const s of placementOf(record).table.shards) if (s !== to) old.add(s);
  for (const shard of old) {
    const backend = dir.backends(shard);
    if (!backend || backend === dir.backends(to)) continue;
    for (const unit of (await backend.units()).filter((u) => UNIT_KEY.test(u) && wanted.has(SlotTable.slotOf(u)) && !moved.has(u))) {
      if (dir.record.pins[unit] !== undefined || (await backend.ownership(unit)).state === 'moved') continue;
      if (await dir.backends(to)!.hasData(unit)) {
        split.push(unit);
        continue;
      }
      progress.unitsTotal++;
      // Placed on `to` already; its data is on `shard`. Moving it pins nothing (the table names `to`).
      results.push(await moveUnit(dir, unit, to, options, progress, () => {}, shard));
      latecomers.push(unit);
    }
  }
  return { slots: slots.length, to, epoch: dir.record.epoch, units: results, latecomers, split };
}

export interface RebalanceTransfer {
  from: string;
  to: string;
  /** Slots that hold no unit: they move by a directory write alone. */
  emptySlots: number[];
  /** Slots with units, and those units: each is copied. */
  unitSlots: number[];
  units: string[];
}

export interface RebalancePlan {
  epoch: number;
  shards: Array<{ id: string; weight: number; state: string; slots: number; target: number }>;
  transfers: RebalanceTransfer[];
  /** Units that would be copied in all. */
  unitsToMove: number;
  /** Shards off their target by fewer slots than this were left alone. */
  thresholdSlots: number;
}

/**
 * Plans slot transfers toward each active shard's share by weight (draining
 * shards aim for none). A shard within `thresholdSlots` of its target gives
 * and takes nothing. Donors give slots that hold no unit first (free to
 * move), then the slots with the fewest units, so as few units as needed move.
 */
export async function planRebalance(dir: Directory, thresholdSlots: number): Promise<RebalancePlan> {
  await dir.refresh();
  const record = dir.record;
  const table = placementOf(record).table;
  const counts = table.counts();
  const active = record.shards.filter((s) => s.state === 'active');
  if (active.length === 0) throw new InvalidArgumentError('no active shard to place slots on');
  const quotas = quotasFor(active.map((s) => ({ id: s.id, weight: s.weight })));
  const target = new Map(record.shards.map((s) => [s.id, 0]));
  active.forEach((s, i) => target.set(s.id, quotas[i]!));

  const { placed } = await unitsWithData(dir, record);
  const unitsBySlot = new Map<number, string[]>();
  for (const [unit] of placed) {
    if (record.pins[unit] !== undefined) continue; // a pinned unit does not move with its slot
    const slot = SlotTable.slotOf(unit);
    unitsBySlot.set(slot, [...(unitsBySlot.get(slot) ?? []), unit]);
  }

  const draining = new Set(record.shards.filter((s) => s.state === 'draining').map((s) => s.id));
  const surplus = new Map<string, number>();
  const deficit = new Map<string, number>();
  for (const s of record.shards) {
    const d = (counts.get(s.id) ?? 0) - target.get(s.id)!;
    if (d > 0 && (d >= thresholdSlots || draining.has(s.id))) surplus.set(s.id, d);
    if (d < 0 && -d >= thresholdSlots) deficit.set(s.id, -d);
  }
  // Draining shards must empty even when no shard is far enough below its target: spread what they give.
  const give = [...surplus.values()].reduce((a, b) => a + b, 0);
  let take = [...deficit.values()].reduce((a, b) => a + b, 0);
  if (give > take) {
    for (const s of active) {
      const d = target.get(s.id)! - (counts.get(s.id) ?? 0);
      if (d > 0 && !deficit.has(s.id)) deficit.set(s.id, d);
    }
    take = [...deficit.values()].reduce((a, b) => a + b, 0);
  }
  const transfers: RebalanceTransfer[] = [];
  for (const [from, extra] of surplus) {
    const owned = table.slotsOf(from).sort((a, b) => (unitsBySlot.get(a)?.length ?? 0) - (unitsBySlot.get(b)?.length ?? 0) || a - b);
    let left = Math.min(extra, take);
    let at = 0;
    for (const [to, need] of deficit) {
      if (left <= 0) break;
      const n = Math.min(need, left);
      if (n <= 0) continue;
      const slots = owned.slice(at, at + n);
      at += n;
      left -= n;
      deficit.set(to, need - n);
      take -= n;
      const emptySlots = slots.filter((s) => !unitsBySlot.has(s));
      const unitSlots = slots.filter((s) => unitsBySlot.has(s));
      transfers.push({ from, to, emptySlots, unitSlots, units: unitSlots.flatMap((s) => unitsBySlot.get(s)!) });
    }
  }
  return {
    epoch: record.epoch,
    shards: record.shards.map((s) => ({ id: s.id, weight: s.weight, state: s.state, slots: counts.get(s.id) ?? 0, target: target.get(s.id)! })),
    transfers,
    unitsToMove: transfers.reduce((a, t) => a + t.units.length, 0),
    thresholdSlots,
  };
}

/** Runs a plan: every transfer's empty slots in one directory write, then each transfer's unit slots by moveSlots. */
export async function runRebalance(
  dir: Directory,
  plan: RebalancePlan,
  options: MoveOptions,
  progress: MoveProgress,
  settleMs: number,
): Promise<SlotMoveResult[]> {
  const empties = plan.transfers.filter((t) => t.emptySlots.length > 0);
  if (empties.length > 0) {
    const { placed } = await unitsWithData(dir, dir.record);
    await dir.write((next) => {
      const taken = new Set([...placed.keys()].filter((u) => next.pins[u] === undefined).map((u) => SlotTable.slotOf(u)));
      if (next.epoch !== plan.epoch)
        throw new InvalidArgumentError(`the directory changed since the plan was made (epoch ${plan.epoch}, now ${next.epoch}); plan again`);
      let table = placementOf(next).table;
      for (const t of empties) {
        // Checked again under the lock: a slot that gained a unit since the plan moves with its data below.
        const free = t.emptySlots.filter((s) => !taken.has(s));
        table = table.reassign(free, t.to);
      }
      next.slots = table.runs();
      return true;
    });
  }
  const out: SlotMoveResult[] = [];
  for (const t of plan.transfers) {
    const slots = [...t.unitSlots];
    if (slots.length === 0) continue;
    out.push(await moveSlots(dir, slots, t.to, options, progress, settleMs));
  }
  return out;
}
