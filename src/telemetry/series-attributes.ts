import type { Attributes } from '@opentelemetry/api';

/** A queue's attribute set and the CounterSet key that stands for it. */
export interface QueueSeries {
  key: string;
  attrs: Attributes;
}

/**
 * The attribute sets of one shard (and tenant label, when enabled), built on
 * first use and reused by every later call. The SDK hashes the attribute set
 * on every record; building objects and key strings per call on top of that
 * was a third of telemetry's cost (measured with a CPU profile), so the hot
 * path here is two map lookups by strings that already exist.
 */
export class SeriesAttributes {
  readonly #ops = new Map<string, Map<string, Attributes>>();
  readonly #errors = new Map<string, Attributes>();
  readonly #queues = new Map<string, QueueSeries>();

  /** `key` identifies `base` among all series of the router (CounterSet keys derive from it). */
  constructor(
    readonly key: string,
    readonly base: Attributes,
  ) {}

  /** Attributes of a successful call of `component.method`. */
  op(component: string, method: string): Attributes {
    let byMethod = this.#ops.get(component);
    if (!byMethod) this.#ops.set(component, (byMethod = new Map()));
    let attrs = byMethod.get(method);
    if (!attrs) byMethod.set(method, (attrs = { ...this.base, 'db.operation.name': `${component}.${method}` }));
    return attrs;
  }

  /** Attributes of a failed call: the operation's plus `error.type` (failures are rare, so a string key is fine). */
  error(component: string, method: string, errorType: string): Attributes {
    const key = `${component}.${method}\u0000${errorType}`;
    let attrs = this.#errors.get(key);
    if (!attrs) this.#errors.set(key, (attrs = { ...this.op(component, method), 'error.type': errorType }));
    return attrs;
  }

  /** A queue's series, for the per-queue counters. */
  queue(name: string): QueueSeries {
    let q = this.#queues.get(name);
    if (!q) {
      q = { key: `${this.key}\u0000q\u0000${name}`, attrs: { ...this.base, 'messaging.system': 'jobshard', 'messaging.destination.name': name } };
      this.#queues.set(name, q);
    }
    return q;
  }
}
