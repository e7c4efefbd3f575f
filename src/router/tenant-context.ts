import type { JobRecord } from '../storage/job.js';
import type { Storage } from '../storage/storage.js';
import type { Placement } from '../tenancy/placement.js';
import { unitKey, type Unit } from '../tenancy/unit.js';
import type { Shard } from '../shards/shard.js';
import { decodeJobId, encodeJobId } from './job-id.js';

/** What every routed component of one tenant's storage shares: its units and how to reach them. */
export class TenantContext {
  readonly units: Unit[];
  readonly home: Unit;
  readonly #groups: Set<string>;

  constructor(
    readonly tenant: string,
    readonly placement: Placement,
    readonly shards: ReadonlyMap<string, Shard>,
  ) {
    this.units = placement.unitsOf(tenant);
    this.home = this.units[0]!;
    this.#groups = new Set(this.units.flatMap((u) => (u.group === null ? [] : [u.group])));
  }

  /** True when the tenant is split into queue groups (reads may need to merge units). */
  get split(): boolean {
    return this.units.length > 1;
  }

  shardOf(unit: Unit): Shard {
    return this.shards.get(this.placement.shardOf(unit))!;
  }

  storageOf(unit: Unit): Storage {
    return this.shardOf(unit).storage(unitKey(unit));
  }

  unitOfQueue(queue: string): Unit {
    return this.placement.unitOfQueue(this.tenant, queue);
  }

  decode(id: string): { unit: Unit; backendId: string } {
    return decodeJobId(this.tenant, id, (g) => this.#groups.has(g));
  }

  encode(unit: Unit, backendId: string): string {
    return encodeJobId(unit, backendId);
  }

  record(unit: Unit, rec: JobRecord): JobRecord {
    return { ...rec, id: encodeJobId(unit, rec.id) };
  }
}
