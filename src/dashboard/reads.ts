import type { Router } from '../router/router.js';
import { POOL_SERVERS_NAMESPACE } from '../processing/tenant-pool.js';
import { JobClient, type RecurringJob } from '../processing/job-client.js';
import type { Backend } from '../storage/storage.js';
import type { JobRecord, StateRecord } from '../storage/job.js';
import type { QueueInfo, Statistics } from '../storage/monitoring.js';
import type { Pauses } from '../storage/pauses.js';
import type { ServerRecord } from '../storage/servers.js';
import { hourPeriod } from '../storage/statistics.js';
import { SharedReads } from './shared-reads.js';

/** Tenant ids as namespaces carry them: a tenant's home is `acme`, a group `acme:heavy`; others are internal. */
const TENANT_NAMESPACE = /^([A-Za-z0-9_-]{1,64})(?::[A-Za-z0-9_-]{1,64})?$/;
const HOURS = 24;
const LIVE_SAMPLES = 60;

export interface ShardRow {
  id: string;
  kind: string;
  circuit: string;
  lastError: string | null;
  /** Why this shard's figures are missing (it could not be read), or null. */
  readError: string | null;
  tenants: number;
  waiting: number;
  inFlight: number;
  succeeded: number;
  failed: number;
  /** Jobs per second since the previous sample (null for the first). */
  succeededPerSec: number | null;
  failedPerSec: number | null;
}

export interface Overview {
  at: number;
  shards: ShardRow[];
  /** Distinct tenants over every shard (a split tenant counts once). */
  tenants: number;
  /** Every shard summed, one point per sample: the realtime chart. */
  live: Array<{ at: number; succeeded: number; failed: number }>;
  /** Every shard summed, one point per hour, oldest first: the 24 h chart. */
  hours: Array<{ period: string; succeeded: number; failed: number }>;
}

export interface TenantRow {
  tenant: string;
  shard: string;
  groups: Array<{ group: string; shard: string }>;
  counts: Record<string, number>;
  /** A shard holding part of the tenant did not answer: the counts are incomplete. */
  countsMissing: boolean;
}

/**
 * What the dashboard shows, read from the router with a bounded number of calls per shard (never
 * one per tenant or per job) and shared between viewers for `refreshMs` (SharedReads).
 */
export class DashboardReads {
  readonly shared: SharedReads;
  readonly #router: Router;
  readonly #live: Array<{ at: number; succeeded: number; failed: number }> = [];
  #last: { at: number; perShard: Map<string, { succeeded: number; failed: number }> } | null = null;

  constructor(router: Router, refreshMs: number) {
    this.#router = router;
    this.shared = new SharedReads(refreshMs);
  }

  /** Each backend once, with the first shard id that names it (several ids may share a backend). */
  #backends(): Array<{ id: string; backend: Backend }> {
    const seen = new Set<Backend>();
    const out: Array<{ id: string; backend: Backend }> = [];
    for (const shard of this.#router.shards.values()) {
      if (seen.has(shard.backend)) continue;
      seen.add(shard.backend);
      out.push({ id: shard.id, backend: shard.backend });
    }
    return out;
  }

  overview(): Promise<Overview> {
    return this.shared.get('overview', () => this.#overview());
  }

  async #overview(): Promise<Overview> {
    const at = Date.now();
    const health = new Map(this.#router.admin.health().map((h) => [h.id, h]));
    const hourKeys = Array.from({ length: HOURS }, (_, i) => hourPeriod(new Date(at - (HOURS - 1 - i) * 3_600_000)));
    const keys = ['stats:succeeded', 'stats:failed', ...hourKeys.flatMap((p) => [`stats:succeeded:${p}`, `stats:failed:${p}`])];
    const rows = await Promise.all(
      this.#backends().map(async ({ id, backend }) => {
        const h = health.get(id)!;
        try {
          const [depths, sums, namespaces] = await Promise.all([backend.queueDepths(), backend.counterSums(keys), this.#namespaces(id, backend)]);
          const tenants = new Set(namespaces.map(tenantOf).filter((t) => t !== null));
          return {
            id,
            kind: h.kind,
            circuit: h.circuit,
            lastError: h.lastError,
            readError: null,
            sums,
            tenantIds: tenants,
            tenants: tenants.size,
            waiting: depths.reduce((n, d) => n + d.waiting, 0),
            inFlight: depths.reduce((n, d) => n + d.inFlight, 0),
          };
        } catch (err) {
          return {
            id,
            kind: h.kind,
            circuit: h.circuit,
            lastError: h.lastError,
            readError: (err as Error).message,
            sums: null,
            tenantIds: new Set<string | null>(),
            tenants: 0,
            waiting: 0,
            inFlight: 0,
          };
        }
      }),
    );
    const previous = this.#last;
    const perShard = new Map(rows.map((r) => [r.id, { succeeded: r.sums?.['stats:succeeded'] ?? 0, failed: r.sums?.['stats:failed'] ?? 0 }]));
    const rate = (id: string, kind: 'succeeded' | 'failed') => {
      const before = previous?.perShard.get(id);
      if (!previous || !before || at <= previous.at) return null;
      return Math.max(0, (perShard.get(id)![kind] - before[kind]) / ((at - previous.at) / 1000));
    };
    const tenants = new Set(rows.flatMap((r) => [...r.tenantIds])).size;
    const shards: ShardRow[] = rows.map(({ sums, tenantIds: _, ...r }) => ({
      ...r,
      succeeded: perShard.get(r.id)!.succeeded,
      failed: perShard.get(r.id)!.failed,
      succeededPerSec: sums ? rate(r.id, 'succeeded') : null,
      failedPerSec: sums ? rate(r.id, 'failed') : null,
    }));
    if (previous) {
      this.#live.push({ at, succeeded: sum(shards.map((s) => s.succeededPerSec ?? 0)), failed: sum(shards.map((s) => s.failedPerSec ?? 0)) });
      if (this.#live.length > LIVE_SAMPLES) this.#live.shift();
    }
    this.#last = { at, perShard };
    const hours = hourKeys.map((p) => ({
      period: p,
      succeeded: sum(rows.map((r) => r.sums?.[`stats:succeeded:${p}`] ?? 0)),
      failed: sum(rows.map((r) => r.sums?.[`stats:failed:${p}`] ?? 0)),
    }));
    return { at, shards, tenants, live: [...this.#live], hours };
  }

  /** A backend's namespaces, by the shard id that names it in #backends(): one read shared by the overview and the tenants page. */
  #namespaces(shardId: string, backend: Backend): Promise<string[]> {
    return this.shared.get(`namespaces:${shardId}`, () => backend.namespaces());
  }

  /** Every tenant on any shard, sorted: one namespaces() call per shard, shared for refreshMs. */
  tenantIds(): Promise<string[]> {
    return this.shared.get('tenant-ids', async () => {
      const lists = await Promise.all(this.#backends().map(({ id, backend }) => this.#namespaces(id, backend).catch(() => [] as string[])));
      const ids = new Set<string>();
      for (const list of lists)
        for (const ns of list) {
          const t = tenantOf(ns);
          if (t !== null) ids.add(t);
        }
      return [...ids].sort();
    });
  }

  /** Rows for the given tenants: placement from the directory (no call), counts by one stateCountsOf per shard. */
  tenantRows(tenants: readonly string[]): Promise<TenantRow[]> {
    return this.shared.get(`tenant-rows:${tenants.join(',')}`, async () => {
      await this.#router.directory.ready();
      const placement = this.#router.placement;
      const perBackend = new Map<Backend, string[]>();
      const rows = tenants.map((tenant) => {
        const where = this.#router.shardFor(tenant);
        for (const unit of placement.unitsOf(tenant)) {
          const backend = this.#router.shards.get(placement.shardOf(unit))?.backend;
          if (!backend) continue;
          const list = perBackend.get(backend) ?? [];
          list.push(unit.group === null ? tenant : `${tenant}:${unit.group}`);
          perBackend.set(backend, list);
        }
        return {
          tenant,
          shard: where.shard,
          groups: where.groups.map((g) => ({ group: g.group, shard: g.shard })),
          counts: {} as Record<string, number>,
          countsMissing: false,
        };
      });
      const byTenant = new Map(rows.map((r) => [r.tenant, r]));
      await Promise.all(
        [...perBackend].map(async ([backend, namespaces]) => {
          // A shard that cannot answer leaves its tenants' counts unknown; the page still renders.
          const answered = await backend.stateCountsOf(namespaces).catch(() => null);
          if (!answered) {
            for (const ns of namespaces) byTenant.get(tenantOf(ns)!)!.countsMissing = true;
            return;
          }
          for (const [ns, counts] of answered) {
            const row = byTenant.get(tenantOf(ns)!)!;
            for (const [state, n] of Object.entries(counts)) row.counts[state] = (row.counts[state] ?? 0) + n;
          }
        }),
      );
      return rows;
    });
  }

  epoch(): number {
    return this.#router.directory.record.epoch;
  }

  queues(tenant: string): Promise<Array<QueueInfo & { shard: string; group: string | null }>> {
    return this.shared.get(`queues:${tenant}`, async () => {
      const [rows, pauses] = await Promise.all([this.#router.admin.queues([tenant]), this.pauses(tenant)]);
      // A paused queue with no job yet is listed too, so it can be resumed.
      const listed = new Set(rows.map((r) => r.name));
      const extra = pauses.queues
        .filter((q) => !listed.has(q))
        .map((name) => ({ shard: this.#router.shardFor(tenant).shard, tenant, group: null, name, waiting: 0, inFlight: 0 }));
      return [...rows, ...extra].map((r) => ({ ...r, paused: pauses.tenant || pauses.queues.includes(r.name) })).sort((a, b) => (a.name < b.name ? -1 : 1));
    });
  }

  pauses(tenant: string): Promise<Pauses> {
    return this.shared.get(`pauses:${tenant}`, () => this.#router.admin.pauses(tenant));
  }

  stateCounts(tenant: string): Promise<Record<string, number>> {
    return this.shared.get(`counts:${tenant}`, () => this.#router.tenant(tenant).monitoring.stateCounts());
  }

  statistics(tenant: string): Promise<Statistics> {
    return this.shared.get(`stats:${tenant}`, () => this.#router.tenant(tenant).monitoring.statistics({ days: 7, hours: HOURS }));
  }

  jobs(tenant: string, state: string, offset: number, limit: number): Promise<JobRecord[]> {
    return this.shared.get(`jobs:${tenant}:${state}:${offset}:${limit}`, () => this.#router.tenant(tenant).monitoring.jobsInState(state, { offset, limit }));
  }

  job(tenant: string, id: string): Promise<{ job: JobRecord; history: StateRecord[] }> {
    return this.shared.get(`job:${tenant}:${id}`, () => this.#router.tenant(tenant).monitoring.jobDetails(id));
  }

  recurring(tenant: string): Promise<RecurringJob[]> {
    return this.shared.get(`recurring:${tenant}`, () => new JobClient(this.#router.tenant(tenant)).listRecurring());
  }

  tenantServers(tenant: string): Promise<ServerRecord[]> {
    return this.shared.get(`servers:${tenant}`, () => this.#router.tenant(tenant).monitoring.servers());
  }

  /** Servers over the router (one pool serving many tenants) as each shard records them. */
  poolServers(): Promise<Array<ServerRecord & { shard: string }>> {
    return this.shared.get('pool-servers', async () => {
      const lists = await Promise.all(
        this.#backends().map(async ({ id, backend }) =>
          (
            await backend
              .storage(POOL_SERVERS_NAMESPACE)
              .monitoring.servers()
              .catch(() => [])
          ).map((s) => ({ ...s, shard: id })),
        ),
      );
      // One server records itself on every shard it serves: list it once, with its freshest heartbeat.
      const byId = new Map<string, ServerRecord & { shard: string }>();
      for (const s of lists.flat()) {
        const seen = byId.get(s.id);
        if (!seen) byId.set(s.id, { ...s });
        else {
          seen.shard = `${seen.shard}, ${s.shard}`;
          if (s.heartbeatAt > seen.heartbeatAt) seen.heartbeatAt = s.heartbeatAt;
        }
      }
      return [...byId.values()].sort((a, b) => (a.id < b.id ? -1 : 1));
    });
  }

  placement() {
    return this.shared.get('placement', async () => {
      const [directory, moves] = await Promise.all([this.#router.admin.directory(), this.#router.admin.moves()]);
      const kinds = Object.fromEntries([...this.#router.shards].map(([id, s]) => [id, s.kind]));
      return { directory, moves, kinds };
    });
  }
}

export function tenantOf(namespace: string): string | null {
  return TENANT_NAMESPACE.exec(namespace)?.[1] ?? null;
}

function sum(xs: number[]): number {
  return xs.reduce((a, b) => a + b, 0);
}
