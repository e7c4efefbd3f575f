import type { Tracer } from '@opentelemetry/api';
import { storageSpanInterceptor } from '../telemetry/storage-spans.js';
import { tracerFrom } from '../telemetry/tracing.js';
import { readFile } from 'node:fs/promises';
import { z } from 'zod';
import { Directory } from '../directory/directory.js';
import { DirectoryStore } from '../directory/directory-store.js';
import type { CircuitBreakerOptions } from '../shards/circuit-breaker.js';
import { backendsOf, Shard } from '../shards/shard.js';
import { ConfigError, InvalidArgumentError } from '../storage/errors.js';
import type { Backend, Storage } from '../storage/storage.js';
import type { Placement } from '../tenancy/placement.js';
import { checkTenantId } from '../tenancy/tenant-id.js';
import { backendOrSpec, resolveTenantMap, type BackendSpec, type ResolvedTenantMap, type TenantMapInput } from '../tenancy/tenant-map.js';
import { unitKey } from '../tenancy/unit.js';
import { backendFromSpec } from './backend-from-spec.js';
import { ShardTelemetry, type TelemetryOptions } from '../telemetry/shard-telemetry.js';
import { TenantContext } from './tenant-context.js';
import { tenantStorage } from './tenant-storage.js';
import { routerAdmin, type RouterAdmin } from './router-admin.js';
import { UnitRoute } from './unit-route.js';
import { WeakCache } from '../storage/weak-cache.js';

export type { RouterAdmin } from './router-admin.js';

/** Where the placement directory is stored and how routers follow it (docs/placement.md). */
export interface DirectoryOptions {
  /**
   * Where the placement directory is stored: a Backend, or a spec as in a
   * JSON tenant map. Default: the first listed shard's backend (in a
   * reserved namespace no tenant can name). Every router of a fleet must
   * name the same store.
   */
  backend?: Backend | BackendSpec;
  /** How often the stored epoch is polled, in ms; 0 = never (push only). Default 1000. */
  pollMs?: number;
  /** Follow changes pushed through the store's backend (LISTEN/NOTIFY, pub-sub). Default true. */
  push?: boolean;
  /** How long a call waits for a unit frozen by a placement change before ShardUnavailableError. Default 2000 ms. */
  frozenWaitMs?: number;
}

const NO_CAPS: ReadonlyMap<string, number> = new Map();

const directoryOptionsSchema = z
  .object({
    backend: backendOrSpec.optional(),
    pollMs: z.number().int().nonnegative().max(3_600_000).default(1_000),
    push: z.boolean().default(true),
    frozenWaitMs: z.number().int().nonnegative().max(600_000).default(2_000),
  })
  .strict();

/** What `createRouter` takes: the shards, the tenant map (pins, weights, caps, queue groups), the directory, the circuit breaker and telemetry. */
export interface RouterConfig extends TenantMapInput {
  /** Circuit breaker per shard. Defaults: 3 consecutive failures open it for 1000 ms. */
  circuitBreaker?: CircuitBreakerOptions;
  /**
   * Per-shard OpenTelemetry metrics. Uses the global MeterProvider unless one
   * is given: install the SDK before creating the router (meters taken from
   * the no-op provider stay no-op).
   */
  telemetry?: TelemetryOptions;
  /** The shared placement directory (see docs/placement.md). */
  directory?: DirectoryOptions;
}

/** Where a tenant lives: its home shard and each queue group's. */
export interface TenantPlacement {
  tenant: string;
  /** The shard of the tenant's home unit (locks, servers, queues outside groups). */
  shard: string;
  groups: Array<{ group: string; shard: string; key: string }>;
}

/**
 * Routes each tenant to its shards. `tenant(id)` is a Storage with the full
 * contract; every call resolves to one shard by the placement directory,
 * which this router loads on open (createRouter does it) and then follows.
 */
export class Router {
  readonly directory: Directory;
  readonly admin: RouterAdmin;
  readonly #shards: Map<string, Shard>;
  readonly #route: UnitRoute;
  /** Anchored on the context: a delivery names the context it was fetched through, which must stay the tenant's while it is held. */
  readonly #tenants = new WeakCache<{ ctx: TenantContext; storage: Storage }>((t) => t.ctx);
  readonly #metrics: ShardTelemetry;
  readonly #storageTracer: Tracer | null;
  readonly #circuitBreaker: CircuitBreakerOptions | undefined;
  readonly #ownBackends: Backend[] = [];
  /** Backends this router made from specs (the others were handed in). */
  readonly #built: Backend[] = [];
  readonly #config: ResolvedTenantMap;
  #closed = false;

  constructor(config: RouterConfig) {
    const { circuitBreaker, telemetry, directory, ...mapInput } = config ?? ({} as RouterConfig);
    const dir = directoryOptionsSchema.safeParse(directory ?? {});
    if (!dir.success)
      throw new ConfigError(`invalid directory options: ${dir.error.issues.map((i) => `directory.${i.path.join('.')}: ${i.message}`).join('; ')}`);
    const map = resolveTenantMap(mapInput);
    this.#config = map;
    this.#circuitBreaker = circuitBreaker;
    const build = (spec: Backend | BackendSpec) => {
      const b = backendFromSpec(spec);
      if (b !== spec) this.#built.push(b);
      return b;
    };
    this.#shards = new Map(map.shards.map((s) => [s.id, new Shard(s.id, build(s.backend), circuitBreaker)]));
    const storeBackend = dir.data.backend ? build(dir.data.backend) : this.#shards.get(map.shards[0]!.id)!.backend;
    if (dir.data.backend) this.#ownBackends.push(storeBackend);
    this.directory = new Directory(new DirectoryStore(storeBackend), (id) => this.#shards.get(id)?.backend, map, {
      pollMs: dir.data.pollMs,
      push: dir.data.push,
    });
    this.#route = new UnitRoute(this.directory, this.#shards, dir.data.frozenWaitMs);
    // Telemetry wraps shards from outside: backends know nothing of it.
    this.#metrics = new ShardTelemetry(telemetry ?? {}, (namespace) => namespace.split(':')[0]!);
    if (this.#metrics.enabled) this.#metrics.observe(() => this.#shards.values());
    this.#storageTracer = telemetry?.storageSpans ? tracerFrom(telemetry.tracerProvider) : null;
    for (const shard of this.#shards.values()) this.#instrument(shard);
    this.admin = routerAdmin(
      {
        directory: this.directory,
        shards: this.#shards,
        route: this.#route,
        tenant: (id) => this.tenant(id),
        shardFor: (id) => this.shardFor(id),
        addShard: (id, backend) => this.#addShard(id, backend),
      },
      Math.max(2 * dir.data.pollMs, 1_000) + 250,
    ); // other routers see a slot move within a poll or two
  }

  /** The placement this router routes by now (the newest directory epoch it has read). */
  get placement(): Placement {
    return this.directory.placement;
  }

  get shards(): ReadonlyMap<string, Shard> {
    return this.#shards;
  }

  /** The storage of one tenant: the whole contract, routed to its shards. The same object for the same id while it is in use. */
  tenant(id: string): Storage {
    if (this.#closed) throw new InvalidArgumentError('this router is closed');
    checkTenantId(id);
    return this.#tenants.getOrMake(id, () => {
      const ctx = new TenantContext(id, this.#route);
      return { ctx, storage: tenantStorage(ctx) };
    }).storage;
  }

  /** A tenant's fair-share weight from the tenant map (1 when it sets none): what a server over this router gives it. */
  tenantWeight(tenantId: string): number {
    return this.#config.tenants.get(tenantId)?.weight ?? 1;
  }

  /** A tenant's fleet-wide concurrency caps from the tenant map: its own (null: none) and per queue. */
  tenantCaps(tenantId: string): { maxConcurrent: number | null; queues: ReadonlyMap<string, number> } {
    const t = this.#config.tenants.get(tenantId);
    return { maxConcurrent: t?.maxConcurrent ?? null, queues: t?.queueCaps ?? NO_CAPS };
  }

  /** Where a tenant lives now: its home shard and each queue group's. */
  shardFor(tenantId: string): TenantPlacement {
    checkTenantId(tenantId);
    const placement = this.placement;
    const [home, ...groups] = placement.unitsOf(tenantId);
    return {
      tenant: tenantId,
      shard: placement.shardOf(home!),
      groups: groups.map((u) => ({ group: u.group!, shard: placement.shardOf(u), key: unitKey(u) })),
    };
  }

  /**
   * Loads the placement directory (writing it from this config if it is
   * empty; ConfigError if the config contradicts it, DirectoryUnavailableError
   * if its store cannot be reached) and opens every backend (connect, migrate).
   */
  async open(): Promise<void> {
    await this.directory.ready();
    await Promise.all([...this.#shards.values()].map((s) => s.backend.open()));
  }

  /** Closes every backend once. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    this.directory.close();
    await Promise.all([...new Set([...backendsOf(this.#shards.values()), ...this.#ownBackends])].map((b) => b.close()));
  }

  /** Undoes a router that failed to load: closes only the backends it built from specs. */
  async discard(): Promise<void> {
    this.#closed = true;
    this.directory.close();
    await Promise.all(this.#built.map((b) => b.close().catch(() => {})));
  }

  #addShard(id: string, backend: Backend): Shard {
    const shard = new Shard(id, backend, this.#circuitBreaker);
    this.#instrument(shard);
    this.#shards.set(id, shard);
    return shard;
  }

  /** Metrics and storage spans around a shard's calls, each only when it can record. */
  #instrument(shard: Shard): void {
    if (this.#metrics.enabled) shard.use(this.#metrics.interceptor(shard));
    if (this.#storageTracer) shard.use(storageSpanInterceptor(shard, this.#storageTracer));
  }
}

/**
 * Validates the configuration, builds the shards, loads the placement
 * directory, and returns the router. Throws ConfigError (the config is
 * invalid, or contradicts the stored directory) or DirectoryUnavailableError,
 * having written nothing.
 */
export async function createRouter(config: RouterConfig): Promise<Router> {
  const router = new Router(config);
  try {
    await router.directory.ready();
  } catch (err) {
    await router.discard();
    throw err;
  }
  return router;
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
