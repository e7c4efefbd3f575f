import { SlotTable } from '../shards/slot-table.js';
import type { ResolvedTenantMap } from './tenant-map.js';
import { unitKey, type Unit } from './unit.js';

/** tenant -> group -> its queues. */
export type GroupTable = ReadonlyMap<string, ReadonlyMap<string, readonly string[]>>;

/** What placement is made of: the slot table, the pins (unit key -> shard) and the queue groups. */
export interface PlacementRecord {
  table: SlotTable;
  pins: ReadonlyMap<string, string>;
  groups: GroupTable;
}

/**
 * Where each unit lives: its pin if there is one, else the slot table at the
 * hash of the unit's key. Immutable: a directory change builds a new one, so
 * a call that read one placement routes by it throughout. Lookups allocate
 * nothing apart from the key string, so they are cheap enough for every call.
 */
export class Placement {
  readonly table: SlotTable;
  readonly pins: ReadonlyMap<string, string>;
  readonly groups: GroupTable;
  readonly #groupOfQueue = new Map<string, Map<string, string>>();

  constructor(record: PlacementRecord) {
    this.table = record.table;
    this.pins = record.pins;
    this.groups = record.groups;
    for (const [tenant, groups] of record.groups) {
      const byQueue = new Map<string, string>();
      for (const [group, queues] of groups) for (const q of queues) byQueue.set(q, group);
      this.#groupOfQueue.set(tenant, byQueue);
    }
  }

  /** The placement a configuration alone gives: what the first router writes into an empty directory. */
  static fromConfig(map: ResolvedTenantMap): Placement {
    const pins = new Map<string, string>();
    const groups = new Map<string, Map<string, string[]>>();
    for (const [tenant, t] of map.tenants) {
      if (t.pin) pins.set(tenant, t.pin);
      if (t.groups.size === 0) continue;
      const g = new Map<string, string[]>();
      for (const [group, pin] of t.groups) {
        g.set(group, []);
        if (pin) pins.set(unitKey({ tenant, group }), pin);
      }
      for (const [queue, group] of t.groupOfQueue) g.get(group)!.push(queue);
      groups.set(tenant, g);
    }
    return new Placement({ table: SlotTable.build(map.shards.map((s) => ({ id: s.id, weight: s.weight ?? 1 }))), pins, groups });
  }

  shardOf(unit: Unit): string {
    return this.shardOfKey(unitKey(unit));
  }

  /** By unit key (`tenant` or `tenant:group`). */
  shardOfKey(key: string): string {
    return this.pins.get(key) ?? this.table.shardOf(key);
  }

  /** The queue group a tenant's queue belongs to, or null for the tenant's home. */
  groupOfQueue(tenant: string, queue: string): string | null {
    return this.#groupOfQueue.get(tenant)?.get(queue) ?? null;
  }

  /** Home first, then each queue group. */
  unitsOf(tenant: string): Unit[] {
    const groups = [...(this.groups.get(tenant)?.keys() ?? [])];
    return [{ tenant, group: null }, ...groups.map((group) => ({ tenant, group }))];
  }
}
