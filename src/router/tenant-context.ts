import { JobNotFoundError } from '../storage/errors.js';
import type { JobRecord } from '../storage/job.js';
import { ALIAS_HASH } from '../storage/unit-stream.js';
import type { Storage } from '../storage/storage.js';
import type { Placement } from '../tenancy/placement.js';
import type { Unit } from '../tenancy/unit.js';
import type { Shard } from '../shards/shard.js';
import { decodeJobId, encodeJobId } from './job-id.js';
import type { UnitLane, UnitRoute } from './unit-route.js';

/**
 * What every routed component of one tenant's storage shares: its units and
 * how to reach them. Units follow the directory: they are re-derived when a
 * new placement is adopted.
 */
export class TenantContext {
  readonly home: Unit;
  /** Held here: most of a tenant's calls go to its home unit, and find its lane without a lookup. */
  readonly #homeLane: UnitLane;
  #seen: Placement | null = null;
  #units: Unit[] = [];
  #groups = new Set<string>();

  constructor(
    readonly tenant: string,
    readonly route: UnitRoute,
  ) {
    this.home = { tenant, group: null };
    this.#homeLane = route.lane(this.home);
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
    void this.placement; // loaded, or throws the explanation
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

  #lane(unit: Unit): UnitLane {
    return unit === this.home ? this.#homeLane : this.route.lane(unit);
  }

  storageOf(unit: Unit): Storage {
    return this.#lane(unit).storage;
  }

  /** Runs one call on the unit's current shard, following moves (storageOf's calls do the same, through a proxy). */
  on<T>(unit: Unit, call: (storage: Storage) => Promise<T>): Promise<T> {
    return this.#lane(unit).run(call);
  }

  unitOfQueue(queue: string): Unit {
    const group = this.placement.groupOfQueue(this.tenant, queue);
    return group === null ? this.home : { tenant: this.tenant, group };
  }

  /** `checked`: the id already passed checkName (a transaction recorded it). */
  decode(id: string, checked = false): { unit: Unit; backendId: string } {
    void this.placement; // loaded, or throws the explanation
    return decodeJobId(this.home, id, (g) => this.#groups.has(g), checked);
  }

  encode(unit: Unit, backendId: string): string {
    return encodeJobId(unit, backendId);
  }

  /**
   * Runs a call by a job's backend id; when the unit's shard does not know
   * the id, looks it up in the unit's alias hash (a move to a shard that gave
   * the job a new id records the old one there) and runs it again.
   */
  async byId<T>(unit: Unit, backendId: string, call: (storage: Storage, id: string) => Promise<T>): Promise<T> {
    const storage = this.storageOf(unit);
    try {
      return await call(storage, backendId);
    } catch (err) {
      if (!(err instanceof JobNotFoundError)) throw err;
      const alias = await storage.data.hashGet(ALIAS_HASH, backendId);
      if (alias === null || alias === backendId) throw err;
      return call(storage, alias);
    }
  }

  /** The ids of a unit as its shard knows them: each through the alias hash, where it has an entry. */
  async resolveIds(unit: Unit, backendIds: readonly string[]): Promise<Map<string, string>> {
    const storage = this.storageOf(unit);
    const out = new Map<string, string>();
    for (const id of new Set(backendIds)) {
      const alias = await storage.data.hashGet(ALIAS_HASH, id);
      if (alias !== null) out.set(id, alias);
    }
    return out;
  }

  record(unit: Unit, rec: JobRecord): JobRecord {
    return { ...rec, id: encodeJobId(unit, rec.id) };
  }
}
