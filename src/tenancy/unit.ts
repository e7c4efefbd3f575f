/**
 * A placement unit: a tenant's home (group null), or one of its queue groups.
 * Each unit is one backend namespace on one shard.
 */
export interface Unit {
  tenant: string;
  group: string | null;
}

/** The backend namespace and placement key of a unit: `acme` or `acme:heavy` (tenant ids cannot contain ':'). */
export function unitKey(unit: Unit): string {
  return unit.group === null ? unit.tenant : `${unit.tenant}:${unit.group}`;
}

export function sameUnit(a: Unit, b: Unit): boolean {
  return a.tenant === b.tenant && a.group === b.group;
}
