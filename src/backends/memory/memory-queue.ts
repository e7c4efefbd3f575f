export interface QueueEntry {
  jobId: string;
  /** The live delivery's token, or null while the entry waits (never leased, or given back). */
  token: string | null;
  leaseUntil: number;
  deliveries: number;
}

/**
 * One queue of a memory namespace: its entries in FIFO order (by place), and an index of those
 * a fetch may take, so that a fetch does not walk past the leased ones. Before the index, every
 * fetch walked the entries from the head, where a drain's leased ones are: 84 of them a fetch in a
 * 50,000-job drain with 32 workers, about a third of its CPU.
 *
 * An entry is leased while its token is set; it may be taken when it waits or its lease lapsed.
 * Waiting entries added at the tail are in `#waiting`, already in order. Those that wait again out
 * of order (given back, lapsed, replaced by an import) go into `#returned`, kept sorted. A place
 * in either is checked when it is taken, so one that was removed or leased again since is skipped.
 * Leased entries are in `#leased`, with a bound below their deadlines: until it passes, none can
 * have lapsed, and nothing is walked to find out.
 */
export class MemoryQueue {
  /** Every entry by place. Places only grow as entries are added, so iteration is FIFO order. */
  readonly entries = new Map<number, QueueEntry>();
  /** Places of entries added at the tail, from `#head` on: an array, since a Map used as a queue walks the holes its deletions leave at the front. */
  #waiting: number[] = [];
  #head = 0;
  #returned: number[] = [];
  readonly #leased = new Map<number, QueueEntry>();
  /** No lease lapses before this (ms since the epoch). */
  #leasesFrom = Infinity;
  /** The highest place added: an entry added above it waits in order at the tail. */
  #highest = 0;

  get size(): number {
    return this.entries.size;
  }

  /** Adds an entry at place `seq`, or replaces the one there in its place. */
  put(seq: number, e: QueueEntry): void {
    this.#unindex(seq);
    this.entries.set(seq, e);
    if (e.token !== null) this.#lease(seq, e);
    else if (seq > this.#highest) this.#waiting.push(seq);
    else this.#return(seq);
    if (seq > this.#highest) this.#highest = seq;
  }

  /** Removes the entry at `seq` (acknowledged, or its copy gone). */
  delete(seq: number): void {
    this.#unindex(seq);
    this.entries.delete(seq);
  }

  /** Leases the next entry that may be taken at `now`, in FIFO order; null when none may. */
  take(now: number, token: () => string, leaseUntil: number): { seq: number; e: QueueEntry } | null {
    if (now >= this.#leasesFrom) this.#lapse(now);
    for (;;) {
      const w = this.#head < this.#waiting.length ? this.#waiting[this.#head]! : Infinity;
      const r = this.#returned.length > 0 ? this.#returned[0]! : Infinity;
      if (w === Infinity && r === Infinity) return null;
      let seq: number;
      if (w < r) {
        seq = w;
        this.#advance();
      } else seq = this.#returned.shift()!;
      // Removed, or leased again, since its place was indexed.
      if (!this.#takeable(seq, now)) continue;
      const e = this.entries.get(seq)!;
      e.token = token();
      e.leaseUntil = leaseUntil;
      e.deliveries += 1;
      this.#lease(seq, e);
      return { seq, e };
    }
  }

  /** Gives a leased entry back: it waits in its place again. */
  release(seq: number): void {
    const e = this.entries.get(seq)!;
    e.token = null;
    e.leaseUntil = 0;
    this.#leased.delete(seq);
    this.#return(seq);
  }

  /** Moves a leased entry's deadline. */
  extend(seq: number, leaseUntil: number): void {
    const e = this.entries.get(seq)!;
    e.leaseUntil = leaseUntil;
    this.#lease(seq, e);
  }

  /** Whether an entry may be taken at `now`. */
  hasVisible(now: number): boolean {
    if (now >= this.#leasesFrom) this.#lapse(now);
    while (this.#head < this.#waiting.length) {
      if (this.#takeable(this.#waiting[this.#head]!, now)) return true;
      this.#advance();
    }
    while (this.#returned.length > 0) {
      if (this.#takeable(this.#returned[0]!, now)) return true;
      this.#returned.shift();
    }
    return false;
  }

  /** The earliest deadline of a live lease, or null when none is leased. */
  nextLapse(now: number): number | null {
    let min = Infinity;
    for (const e of this.#leased.values()) if (e.leaseUntil > now && e.leaseUntil < min) min = e.leaseUntil;
    return min === Infinity ? null : min;
  }

  /** Entries leased at `now`. */
  inFlight(now: number): number {
    let n = 0;
    for (const e of this.#leased.values()) if (e.leaseUntil > now) n++;
    return n;
  }

  #lease(seq: number, e: QueueEntry): void {
    this.#leased.set(seq, e);
    if (e.leaseUntil < this.#leasesFrom) this.#leasesFrom = e.leaseUntil;
  }

  #return(seq: number): void {
    const r = this.#returned;
    let lo = 0,
      hi = r.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (r[mid]! < seq) lo = mid + 1;
      else hi = mid;
    }
    r.splice(lo, 0, seq);
  }

  /** Lapsed leases wait again; the bound moves to the earliest live deadline. */
  #lapse(now: number): void {
    let from = Infinity;
    const lapsed: number[] = [];
    for (const [seq, e] of this.#leased) {
      if (e.leaseUntil <= now) {
        this.#leased.delete(seq);
        lapsed.push(seq);
      } else if (e.leaseUntil < from) from = e.leaseUntil;
    }
    this.#leasesFrom = from;
    if (lapsed.length === 0) return;
    // Merged in one pass, not inserted one by one: after a crash, every lease of a queue lapses at once.
    lapsed.sort((a, b) => a - b);
    const r = this.#returned;
    const merged: number[] = [];
    let i = 0,
      j = 0;
    while (i < r.length || j < lapsed.length) merged.push(j >= lapsed.length || (i < r.length && r[i]! < lapsed[j]!) ? r[i++]! : lapsed[j++]!);
    this.#returned = merged;
  }

  /** Whether the entry at an indexed place is still there and may be taken: it waits, or its lease lapsed. */
  #takeable(seq: number, now: number): boolean {
    const e = this.entries.get(seq);
    return e !== undefined && (e.token === null || e.leaseUntil <= now);
  }

  /** Past the head of #waiting; the array is cut once most of it is behind the head. */
  #advance(): void {
    this.#head++;
    if (this.#head >= 1_024 && this.#head * 2 >= this.#waiting.length) {
      this.#waiting = this.#waiting.slice(this.#head);
      this.#head = 0;
    }
  }

  #unindex(seq: number): void {
    this.#leased.delete(seq);
    // A place left in #waiting or #returned is skipped when taken.
  }
}
