import type { ResolvedTenantMap } from '../tenancy/tenant-map.js';
import { unitKey } from '../tenancy/unit.js';
import type { DirectoryRecord } from './directory-record.js';

/** What a configuration asks of a stored directory. */
export interface Reconciled {
  /** Contradictions: the router refuses to start and writes nothing. */
  problems: string[];
  /** Shards in the config the directory does not know: registered owning no slots. */
  addShards: Array<{ id: string; weight: number }>;
  /** Tenants the directory knows nothing of, whose config pins or groups them: placed if their units are empty. */
  newTenants: Array<{ tenant: string; pins: Record<string, string>; groups: Record<string, string[]> }>;
}

/**
 * Compares a configuration with the stored directory. The directory wins
 * wherever the config is silent (no weight, no pin, no groups given); where
 * the config says something else, that is a problem to report, since acting
 * on it would route a unit away from its data.
 */
export function reconcile(config: ResolvedTenantMap, record: DirectoryRecord): Reconciled {
  const problems: string[] = [];
  const where = `the directory (epoch ${record.epoch})`;
  const stored = new Map(record.shards.map((s) => [s.id, s]));
  const configured = new Set(config.shards.map((s) => s.id));
  const addShards: Reconciled['addShards'] = [];

  for (const s of record.shards) {
    if (!configured.has(s.id))
      problems.push(
        `shard '${s.id}' is in ${where} but not in this config: every router needs every shard's backend (add it back; to retire a shard, drain it and removeShard)`,
      );
  }
  for (const s of config.shards) {
    const known = stored.get(s.id);
    if (record.removed.includes(s.id)) problems.push(`shard '${s.id}' was removed from ${where}; give a new shard a new id`);
    else if (!known) addShards.push({ id: s.id, weight: s.weight ?? 1 });
    else if (s.weight !== undefined && s.weight !== known.weight)
      problems.push(`shard '${s.id}' has weight ${s.weight} here but ${known.weight} in ${where} (change it with admin.setWeight, or leave weight out)`);
  }

  const newTenants: Reconciled['newTenants'] = [];
  for (const [tenant, t] of config.tenants) {
    const pins: Record<string, string> = {};
    if (t.pin) pins[tenant] = t.pin;
    for (const [group, pin] of t.groups) if (pin) pins[unitKey({ tenant, group })] = pin;
    const groups: Record<string, string[]> = {};
    for (const group of t.groups.keys()) groups[group] = [];
    for (const [queue, group] of t.groupOfQueue) groups[group]!.push(queue);

    const storedGroups = record.groups[tenant];
    const storedPins = Object.keys(record.pins).filter((k) => k === tenant || k.startsWith(`${tenant}:`));
    if (!storedGroups && storedPins.length === 0) {
      if (Object.keys(pins).length || t.groups.size) newTenants.push({ tenant, pins, groups });
      continue;
    }
    for (const [key, shard] of Object.entries(pins)) {
      const has = record.pins[key];
      if (has !== shard)
        problems.push(
          `unit '${key}' is pinned to '${shard}' here but ${has ? `to '${has}'` : 'not pinned'} in ${where} (use admin.pin or a move, then update the config)`,
        );
    }
    if (t.groups.size) {
      const a = JSON.stringify(sortedGroups(groups));
      const b = JSON.stringify(sortedGroups(storedGroups ?? {}));
      if (a !== b) problems.push(`tenant '${tenant}' has queue groups ${a} here but ${b} in ${where}`);
    }
  }
  return { problems, addShards, newTenants };
}

function sortedGroups(groups: Record<string, string[]>): Array<[string, string[]]> {
  return Object.entries(groups)
    .map(([g, qs]) => [g, [...qs].sort()] as [string, string[]])
    .sort((x, y) => (x[0] < y[0] ? -1 : 1));
}
