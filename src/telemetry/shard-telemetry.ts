import type { Attributes, Meter, MeterProvider, ObservableGauge, TracerProvider } from '@opentelemetry/api';
import { isNoopMeter, meterFrom, storageInstruments, type StorageInstruments } from './instruments.js';
import { SeriesAttributes } from './series-attributes.js';
import { TenantLabels } from './tenant-label.js';

/** What telemetry needs to know of a shard; structural, so telemetry depends on nothing but the OpenTelemetry API. */
export interface ObservedShard {
  id: string;
  kind: string;
  health(): { circuit: 'closed' | 'open' | 'half-open' };
  backend: {
    queueDepths(): Promise<Array<{ namespace: string; queue: string; waiting: number; inFlight: number }>>;
    poolStats?(): { total: number; idle: number; waiting: number };
    status?(): string;
  };
}

export interface CallSiteLike {
  component: string;
  method: string;
  namespace: string;
  subject?: unknown;
  enqueues?: string[];
  acks?: string[];
}

export interface TelemetryOptions {
  /** Defaults to the global provider: a no-op until the application installs an SDK. */
  meterProvider?: MeterProvider;
  /** Add `jobshard.tenant` to metrics. Off by default: it multiplies series by tenants. */
  tenantAttribute?: boolean;
  /** With tenantAttribute, distinct tenants per shard before the rest are labelled `other`. Default 100. */
  maxTenantsPerShard?: number;
  /** One span per storage call, named by operation and carrying the shard. Off by default. */
  storageSpans?: boolean;
  /** Where storage spans go; defaults to the global provider (a no-op until an SDK is installed). */
  tracerProvider?: TracerProvider;
}

const DB_SYSTEM: Record<string, string> = { postgres: 'postgresql', redis: 'redis', memory: 'jobshard.memory' };
const CIRCUIT_VALUE = { closed: 0, 'half-open': 1, open: 2 } as const;

/**
 * Per-shard metrics for a set of shards: an interceptor per shard for call
 * metrics, and observable gauges (queue depth, health, connections) that
 * read each shard once per collection, never once per tenant.
 */
export class ShardTelemetry {
  readonly #inst: StorageInstruments;
  readonly #meter: Meter;
  readonly #tenants: TenantLabels | null;
  readonly #tenantOf: (namespace: string) => string;
  readonly #seenQueues = new Map<string, Map<string, Attributes>>();

  /** False without an SDK: the router then installs nothing, so metrics cost nothing. */
  readonly enabled: boolean;

  constructor(options: TelemetryOptions, tenantOf: (namespace: string) => string) {
    this.#meter = meterFrom(options.meterProvider);
    this.enabled = !isNoopMeter(this.#meter);
    this.#inst = storageInstruments(this.#meter);
    this.#tenants = options.tenantAttribute ? new TenantLabels(options.maxTenantsPerShard ?? 100) : null;
    this.#tenantOf = tenantOf;
  }

  #base(shard: ObservedShard, tenant: string | null): Attributes {
    const attrs: Attributes = { 'jobshard.shard.id': shard.id, 'jobshard.backend': shard.kind, 'db.system': DB_SYSTEM[shard.kind] ?? shard.kind };
    if (tenant !== null) attrs['jobshard.tenant'] = tenant;
    return attrs;
  }

  #tenant(shard: ObservedShard, namespace: string): string | null {
    return this.#tenants ? this.#tenants.label(shard.id, this.#tenantOf(namespace)) : null;
  }

  /** The interceptor to install on one shard (Shard.use). */
  interceptor(shard: ObservedShard) {
    const inst = this.#inst;
    const byTenant = new Map<string, SeriesAttributes>();
    const seriesOf = (label: string | null): SeriesAttributes => {
      let series = byTenant.get(label ?? '');
      if (!series) byTenant.set(label ?? '', (series = new SeriesAttributes(`${shard.id}\u0000${label ?? ''}`, this.#base(shard, label))));
      return series;
    };
    const untenanted = this.#tenants ? null : seriesOf(null);
    return async <T>(site: CallSiteLike, call: () => Promise<T>): Promise<T> => {
      const series = untenanted ?? seriesOf(this.#tenant(shard, site.namespace));
      const started = performance.now();
      let result: T;
      try {
        result = await call();
      } catch (err) {
        const seconds = (performance.now() - started) / 1000;
        const errorType = String((err as { code?: string }).code ?? (err as Error)?.name ?? 'Error');
        inst.operationDuration.record(seconds, series.error(site.component, site.method, errorType));
        if (site.component === 'locks' && site.method === 'acquire') {
          inst.lockWait.record(seconds, series.base);
          if (errorType === 'LOCK_TIMEOUT') inst.lockTimeouts.add(series.key, series.base);
        }
        throw err;
      }
      const seconds = (performance.now() - started) / 1000;
      inst.operationDuration.record(seconds, series.op(site.component, site.method));
      this.#afterSuccess(series, site, result, seconds);
      return result;
    };
  }

  #afterSuccess(series: SeriesAttributes, site: CallSiteLike, result: unknown, seconds: number): void {
    const inst = this.#inst;
    for (const name of site.acks ?? []) {
      const q = series.queue(name);
      inst.acknowledged.add(q.key, q.attrs);
    }
    if (site.enqueues) {
      for (const name of site.enqueues) {
        const q = series.queue(name);
        inst.enqueued.add(q.key, q.attrs);
      }
    } else if (site.component === 'queues' && result) {
      const f = result as { queue: string; deliveries: number };
      const q = series.queue(f.queue);
      inst.fetched.add(q.key, q.attrs);
      if (f.deliveries > 1) inst.redelivered.add(q.key, q.attrs);
    } else if (site.component === 'fetched' && site.method === 'ack') {
      const q = series.queue((site.subject as { queue: string }).queue);
      inst.acknowledged.add(q.key, q.attrs);
    } else if (site.component === 'locks' && site.method === 'acquire') {
      inst.lockWait.record(seconds, series.base);
    }
  }

  /** Registers the observable gauges for these shards. */
  /** `shards` is asked at each collection, so shards added later are observed too. */
  observe(shards: () => Iterable<ObservedShard>): void {
    const m = this.#meter;
    const depth = m.createObservableGauge('jobshard.queue.depth', { description: 'Jobs in a queue, waiting or in flight (fetched, invisible)', unit: '{job}' });
    const up = m.createObservableGauge('jobshard.shard.up', { description: '1 if the shard answered the last collection, else 0' });
    const circuit = m.createObservableGauge('jobshard.shard.circuit.state', { description: 'Circuit breaker: 0 closed, 1 half-open, 2 open' });
    const connections = m.createObservableGauge('db.client.connection.count', { description: 'Postgres pool connections by state', unit: '{connection}' });
    const pending = m.createObservableGauge('db.client.connection.pending_requests', {
      description: 'Requests waiting for a Postgres pool connection',
      unit: '{request}',
    });
    const redisReady = m.createObservableGauge('jobshard.redis.connection.ready', { description: '1 if the Redis connection is ready, else 0' });
    const gauges: ObservableGauge[] = [depth, up, circuit, connections, pending, redisReady];
    m.addBatchObservableCallback(async (observer) => {
      await Promise.all(
        [...shards()].map(async (shard) => {
          const attrs = this.#base(shard, null);
          observer.observe(circuit, CIRCUIT_VALUE[shard.health().circuit], attrs);
          const pool = shard.backend.poolStats?.();
          if (pool) {
            observer.observe(connections, pool.total - pool.idle, { ...attrs, 'db.client.connection.state': 'used' });
            observer.observe(connections, pool.idle, { ...attrs, 'db.client.connection.state': 'idle' });
            observer.observe(pending, pool.waiting, attrs);
          }
          const status = shard.backend.status?.();
          if (status !== undefined) observer.observe(redisReady, status === 'ready' ? 1 : 0, attrs);
          try {
            const rows = await shard.backend.queueDepths();
            observer.observe(up, 1, attrs);
            // Summed per queue (and per tenant if enabled): one series per queue, not per namespace.
            // A queue seen before but empty now reports 0, rather than its series vanishing at a stale value.
            const known = this.#seenQueues.get(shard.id) ?? new Map<string, Attributes>();
            this.#seenQueues.set(shard.id, known);
            const sums = new Map<string, { attrs: Attributes; waiting: number; inFlight: number }>();
            for (const [key, a] of known) sums.set(key, { attrs: a, waiting: 0, inFlight: 0 });
            for (const r of rows) {
              const a: Attributes = { ...this.#base(shard, this.#tenant(shard, r.namespace)), 'messaging.destination.name': r.queue };
              const key = JSON.stringify(a);
              const s = sums.get(key) ?? { attrs: a, waiting: 0, inFlight: 0 };
              s.waiting += r.waiting;
              s.inFlight += r.inFlight;
              sums.set(key, s);
              known.set(key, a);
            }
            for (const s of sums.values()) {
              observer.observe(depth, s.waiting, { ...s.attrs, 'jobshard.queue.state': 'waiting' });
              observer.observe(depth, s.inFlight, { ...s.attrs, 'jobshard.queue.state': 'in_flight' });
            }
          } catch {
            observer.observe(up, 0, attrs);
          }
        }),
      );
    }, gauges);
  }
}
