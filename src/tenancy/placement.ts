import { SlotTable } from '../shards/slot-table.js';
import type { ResolvedTenantMap } from './tenant-map.js';
import { unitKey, type Unit } from './unit.js';

/**
 * Where each unit lives: a pin from the tenant map if there is one, else the
 * slot table at the hash of the unit's key. Pure and allocation-free apart
 * from the key string, so lookups are cheap enough for every call.
 */
export class Placement {
  readonly table: SlotTable;
  readonly #map: ResolvedTenantMap;

  constructor(map: ResolvedTenantMap) {
    this.#map = map;
    this.table = SlotTable.build(map.shards.map((s) => ({ id: s.id, weight: s.weight })));
  }

  shardOf(unit: Unit): string {
    const t = this.#map.tenants.get(unit.tenant);
    if (t) {
      const pin = unit.group === null ? t.pin : t.groups.get(unit.group);
      if (pin) return pin;
    }
    return this.table.shardOf(unitKey(unit));
  }

  /** The unit a tenant's queue belongs to: its group's, or the tenant's home. */
  unitOfQueue(tenant: string, queue: string): Unit {
    return { tenant, group: this.#map.tenants.get(tenant)?.groupOfQueue.get(queue) ?? null };
  }

  /** Home first, then each queue group. */
  unitsOf(tenant: string): Unit[] {
    const groups = [...(this.#map.tenants.get(tenant)?.groups.keys() ?? [])];
    return [{ tenant, group: null }, ...groups.map((group) => ({ tenant, group }))];
  }
}
