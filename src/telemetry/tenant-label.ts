/**
 * Tenant as a metric attribute is opt-in and capped: every distinct value
 * is a separate time series in the collector, so 100,000 tenants would mean
 * 100,000 series per instrument per shard. The first `max` tenants seen on a
 * shard keep their own label; the rest are folded into `other`.
 */
export class TenantLabels {
  readonly #max: number;
  readonly #seen = new Map<string, Set<string>>();

  constructor(max: number) {
    this.#max = max;
  }

  label(shard: string, tenant: string): string {
    let set = this.#seen.get(shard);
    if (!set) this.#seen.set(shard, (set = new Set()));
    if (set.has(tenant)) return tenant;
    if (set.size >= this.#max) return 'other';
    set.add(tenant);
    return tenant;
  }
}
