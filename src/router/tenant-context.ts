import type { JobRecord } from '../storage/job.js';
import type { Storage } from '../storage/storage.js';
import type { Placement } from '../tenancy/placement.js';
import type { Unit } from '../tenancy/unit.js';
import type { Shard } from '../shards/shard.js';
import { decodeJobId, encodeJobId } from './job-id.js';
import type { UnitRoute } from './unit-route.js';

/**
 * What every routed component of one tenant's storage shares: its units and
 * how to reach them. Units follow the directory: they are re-derived when a
 * new placement is adopted.
 */
export class TenantContext {
  readonly home: Unit;
  #seen: Placement | null = null;
  #units: Unit[] = [];
  #groups = new Set<string>();

  constructor(
    readonly tenant: string,
    readonly route: UnitRoute,
  ) {
    this.home = { tenant, group: null };
  }

  get placement(): Placement {
    const p = this.route.directory.placement;
    if (p !== this.#seen) {
      this.#seen = p;
      this.#units = p.unitsOf(this.tenant);
      this.#groups = new Set(this.#units.flatMap((u) => (u.group === null ? [] : [u.group])));
    }
    return p;
  }

  get units(): Unit[] {
    this.placement;
    return this.#units;
  }

  /** True when the tenant is split into queue groups (reads may need to merge units). */
  get split(): boolean {
    return this.units.length > 1;
  }

  /** Resolves once the directory is loaded; null when it already is (no await on the hot path). */
  ready(): Promise<void> | null {
    return this.route.directory.loaded ? null : this.route.directory.ready();
  }

  shardOf(unit: Unit): Shard {
    return this.route.shardOf(unit);
  }

  storageOf(unit: Unit): Storage {
    return this.route.storage(unit);
  }

  unitOfQueue(queue: string): Unit {
    return this.placement.unitOfQueue(this.tenant, queue);
  }

  decode(id: string): { unit: Unit; backendId: string } {
    this.placement;
    return decodeJobId(this.tenant, id, (g) => this.#groups.has(g));
  }

  encode(unit: Unit, backendId: string): string {
    return encodeJobId(unit, backendId);
  }

  record(unit: Unit, rec: JobRecord): JobRecord {
    return { ...rec, id: encodeJobId(unit, rec.id) };
  }
}
