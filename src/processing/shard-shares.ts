const NOT_YET = Symbol('not yet');

/**
 * Keeps one shard from taking a whole worker pool. A worker belongs to a shard from the moment it
 * picks one of the shard's tenants until that job's run and its outcome backpressure are over: a
 * shard that stops answering (cut off, restarting, a stalled link) holds its workers in fetches,
 * handler calls and outcome writes for as long as its timeouts. Without a limit, round-robin
 * hands every worker to it in turn, and the other shards' tenants wait although their shards
 * answer (measured before this limit: 2 s gaps on a cut link, 4 s on a stalled one).
 *
 * The limit: while tenants of other shards are ready, a shard may hold at most
 * `workerCount - reserve` workers, where `reserve` is the number of those tenants, up to half the
 * pool. With no one else ready, a shard may use every worker, so a healthy shard alone loses no
 * throughput; with others ready, each of them has a worker kept for it.
 */
export class ShardShares {
  readonly #busy = new Map<string, number>();
  /** Tenants in the fair queue's ring, by shard. */
  readonly #ready = new Map<string, number>();
  /** The shard of each tenant in the ring, as located when it joined (or since the placement changed). */
  readonly #shardOf = new Map<string, string>();
  #readyTotal = 0;
  /** The placement the ring's tenants were located by (read at first use: a server may be made before its router opens). */
  #placement: unknown = NOT_YET;

  /**
   * `locate` gives a tenant's shard now; `placement` a value that changes whenever tenants may
   * have moved (the router's placement), so that ring tenants are located afresh.
   */
  constructor(
    readonly workerCount: number,
    readonly locate: (tenant: string) => string,
    readonly placement: () => unknown,
  ) {}

  /** A tenant joined the ring. */
  joined(tenant: string): void {
    this.#follow();
    const shard = this.locate(tenant);
    this.#shardOf.set(tenant, shard);
    this.#count(shard, 1);
  }

  /** A tenant left the ring. */
  left(tenant: string): void {
    const shard = this.#shardOf.get(tenant);
    if (shard === undefined) return;
    this.#shardOf.delete(tenant);
    this.#count(shard, -1);
  }

  /** The shard a tenant's next job is attributed to. */
  shardOf(tenant: string): string {
    this.#follow();
    return this.#shardOf.get(tenant) ?? this.locate(tenant);
  }

  /** Whether a worker may take this tenant now: its shard is below its limit. */
  mayTake(tenant: string): boolean {
    const shard = this.shardOf(tenant);
    return (this.#busy.get(shard) ?? 0) < this.#limit(shard);
  }

  /** A worker now belongs to the shard. */
  take(shard: string): void {
    this.#busy.set(shard, (this.#busy.get(shard) ?? 0) + 1);
  }

  /** A worker is free of the shard; true when the shard was at its limit (waiting workers may take it now). */
  release(shard: string): boolean {
    const busy = this.#busy.get(shard) ?? 0;
    if (busy <= 1) this.#busy.delete(shard);
    else this.#busy.set(shard, busy - 1);
    return busy >= this.#limit(shard);
  }

  /** Workers held by a shard (for tests and metrics). */
  busy(shard: string): number {
    return this.#busy.get(shard) ?? 0;
  }

  #limit(shard: string): number {
    const elsewhere = this.#readyTotal - (this.#ready.get(shard) ?? 0);
    return this.workerCount - Math.min(Math.floor(this.workerCount / 2), elsewhere);
  }

  #count(shard: string, by: number): void {
    const n = (this.#ready.get(shard) ?? 0) + by;
    if (n <= 0) this.#ready.delete(shard);
    else this.#ready.set(shard, n);
    this.#readyTotal += by;
  }

  /** After a placement change, ring tenants are located again (a moved tenant counts for its new shard). */
  #follow(): void {
    const now = this.placement();
    if (now === this.#placement) return;
    const first = this.#placement === NOT_YET;
    this.#placement = now;
    if (first) return;
    const tenants = [...this.#shardOf.keys()];
    for (const t of tenants) this.left(t);
    for (const t of tenants) this.joined(t);
  }
}
