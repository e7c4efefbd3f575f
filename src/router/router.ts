import { readFile } from 'node:fs/promises';
import type { CircuitBreakerOptions } from '../shards/circuit-breaker.js';
import { Shard, type ShardHealth } from '../shards/shard.js';
import { ConfigError, InvalidArgumentError } from '../storage/errors.js';
import type { QueueInfo } from '../storage/monitoring.js';
import type { Storage } from '../storage/storage.js';
import { Placement } from '../tenancy/placement.js';
import { checkTenantId } from '../tenancy/tenant-id.js';
import { resolveTenantMap, type TenantMapInput } from '../tenancy/tenant-map.js';
import { unitKey } from '../tenancy/unit.js';
import { backendFromSpec } from './backend-from-spec.js';
import { ShardTelemetry, type TelemetryOptions } from '../telemetry/shard-telemetry.js';
import { TenantContext } from './tenant-context.js';
import { tenantStorage } from './tenant-storage.js';

export interface RouterConfig extends TenantMapInput {
  /** Circuit breaker per shard. Defaults: 3 consecutive failures open it for 1000 ms. */
  circuitBreaker?: CircuitBreakerOptions;
  /**
   * Per-shard OpenTelemetry metrics. Uses the global MeterProvider unless one
   * is given: install the SDK before creating the router (meters taken from
   * the no-op provider stay no-op).
   */
  telemetry?: TelemetryOptions;
}

export interface TenantPlacement {
  tenant: string;
  /** The shard of the tenant's home unit (locks, servers, queues outside groups). */
  shard: string;
  groups: Array<{ group: string; shard: string; key: string }>;
}

/** The operators' view across tenants. */
export interface RouterAdmin {
  health(): ShardHealth[];
  /** Slots owned per shard and the table's version. */
  slots(): { version: string; perShard: Record<string, number> };
  /**
   * Queue lengths per shard: of the given tenants, or (no argument) of every
   * namespace on every shard, with one call per backend.
   */
  queues(tenants?: readonly string[]): Promise<Array<{ shard: string; tenant: string; group: string | null } & QueueInfo>>;
  /** Job counts per state, per tenant (all its units summed). */
  tenantCounts(tenants: readonly string[]): Promise<Record<string, Record<string, number>>>;
}

/**
 * Routes each tenant to its shards. `tenant(id)` is a Storage with the full
 * contract; every call resolves to one shard by the placement rules.
 */
export class Router {
  readonly placement: Placement;
  readonly shards: ReadonlyMap<string, Shard>;
  readonly admin: RouterAdmin;
  readonly #tenants = new Map<string, Storage>();
  #closed = false;

  constructor(config: RouterConfig) {
    const { circuitBreaker, telemetry, ...mapInput } = config ?? ({} as RouterConfig);
    const map = resolveTenantMap(mapInput);
    this.placement = new Placement(map);
    this.shards = new Map(map.shards.map((s) => [s.id, new Shard(s.id, backendFromSpec(s.backend), s.weight, circuitBreaker)]));
    // Telemetry wraps shards from outside: backends know nothing of it.
    const metrics = new ShardTelemetry(telemetry ?? {}, (namespace) => namespace.split(':')[0]!);
    if (metrics.enabled) {
      for (const shard of this.shards.values()) shard.use(metrics.interceptor(shard));
      metrics.observe([...this.shards.values()]);
    }
    this.admin = this.#makeAdmin();
  }

  tenant(id: string): Storage {
    if (this.#closed) throw new InvalidArgumentError('this router is closed');
    checkTenantId(id);
    let s = this.#tenants.get(id);
    if (!s) {
      s = tenantStorage(new TenantContext(id, this.placement, this.shards));
      this.#tenants.set(id, s);
    }
    return s;
  }

  /** Where a tenant lives: its home shard and each queue group's. */
  shardFor(tenantId: string): TenantPlacement {
    checkTenantId(tenantId);
    const [home, ...groups] = this.placement.unitsOf(tenantId);
    return {
      tenant: tenantId,
      shard: this.placement.shardOf(home!),
      groups: groups.map((u) => ({ group: u.group!, shard: this.placement.shardOf(u), key: unitKey(u) })),
    };
  }

  /** Opens every backend (connect, migrate); calls also open lazily. */
  async open(): Promise<void> {
    await Promise.all([...this.shards.values()].map((s) => s.backend.open()));
  }

  /** Closes every backend once. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    await Promise.all([...new Set([...this.shards.values()].map((s) => s.backend))].map((b) => b.close()));
  }

  async #allQueues() {
    const seen = new Set<object>();
    const perShard = await Promise.all([...this.shards.values()].map(async (shard) => {
      if (seen.has(shard.backend)) return []; // one backend serving several shard ids is asked once
      seen.add(shard.backend);
      return (await shard.backend.queueDepths()).map((d) => {
        const [tenant, group] = d.namespace.split(':') as [string, string?];
        // Name the shard the unit is placed on when that shard is this backend (several ids may share one).
        const placed = this.placement.shardOf({ tenant, group: group ?? null });
        const id = this.shards.get(placed)?.backend === shard.backend ? placed : shard.id;
        return { shard: id, tenant, group: group ?? null, name: d.queue, waiting: d.waiting, inFlight: d.inFlight };
      });
    }));
    return perShard.flat();
  }

  #makeAdmin(): RouterAdmin {
    return {
      health: () => [...this.shards.values()].map((s) => s.health()),
      slots: () => ({ version: this.placement.table.version, perShard: Object.fromEntries(this.placement.table.counts()) }),
      queues: async (tenants) => {
        if (tenants === undefined) return this.#allQueues();
        const rows = await Promise.all(tenants.flatMap((t) => this.placement.unitsOf(checkTenantId(t)).map(async (u) => {
          const shard = this.placement.shardOf(u);
          const qs = await this.shards.get(shard)!.storage(unitKey(u)).monitoring.queues();
          return qs.map((q) => ({ shard, tenant: u.tenant, group: u.group, ...q }));
        })));
        return rows.flat();
      },
      tenantCounts: async (tenants) => {
        const out: Record<string, Record<string, number>> = {};
        await Promise.all(tenants.map(async (t) => {
          out[t] = await this.tenant(t).monitoring.stateCounts();
        }));
        return out;
      },
    };
  }
}

/** Validates the configuration, builds the shards, and returns the router. Throws ConfigError before creating anything. */
export async function createRouter(config: RouterConfig): Promise<Router> {
  return new Router(config);
}

/** Loads a JSON tenant map (shards given as backend specs) and creates the router. */
export async function createRouterFromFile(path: string, overrides: Partial<RouterConfig> = {}): Promise<Router> {
  let json: unknown;
  try {
    json = JSON.parse(await readFile(path, 'utf8'));
  } catch (err) {
    throw new ConfigError(`cannot read tenant map ${path}: ${(err as Error).message}`, { cause: err });
  }
  return createRouter({ ...(json as RouterConfig), ...overrides });
}
