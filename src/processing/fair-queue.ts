/** Told when a tenant joins and leaves the ring. */
export interface RingWatcher {
  joined?: (tenant: string) => void;
  left?: (tenant: string) => void;
}

/** Every tenant may be taken. */
const ANY = () => true;

interface TenantTurn {
  /** Fetches this tenant may still make in the current round. */
  deficit: number;
  /** The round in which it last earned its quantum: it earns once per round. */
  earnedIn: number;
  /** Its fetches in flight. */
  inFlight: number;
  /** Its last fetch brought a job: several workers may fetch from it at once. */
  confirmed: boolean;
  /** Wake-ups since it joined: a fetch that started before the last one and came back empty does not drop it. */
  wakes: number;
}

/**
 * Deficit round-robin over the tenants that have work: each round gives a
 * tenant `weight` × quantum fetches (a weight below 1 takes several rounds to
 * earn one), so a tenant with a deep backlog gets its share and no more, and
 * a tenant that just got work is next in the ring, however deep the others'
 * backlogs are. A tenant whose fetch came back empty leaves the ring, unless
 * it was woken while that fetch was in flight. Until a tenant's fetch has
 * brought a job, only one fetch of it is in flight: a wake-up for one job
 * sends one worker, not all of them.
 *
 * A tenant that cannot be fetched from now (its probe is in flight, or the
 * caller's `mayTake` refuses it: its shard holds its share of the workers) is
 * passed over without losing its share of the round: the tenants after it are
 * served meanwhile, and it is served later in the same round once it can be.
 * A tenant earns once per round, never more than one round's share. (Earning
 * whenever the ring's position reached a tenant let the first tenant after a
 * refused run of them earn a quantum on every pass and starve the rest:
 * deficits in the hundreds.)
 */
export class FairQueue {
  readonly #ring: string[] = [];
  #pos = 0;
  #round = 0;
  readonly #turns = new Map<string, TenantTurn>();
  readonly #waiting = new Set<() => void>();
  #closed = false;

  /**
   * weightOf gives a tenant's weight; each round it may make weight × quantum fetches. Fetches of
   * one tenant made together go to its storage together, which batches them into one call.
   */
  constructor(
    readonly weightOf: (tenant: string) => number,
    readonly quantum = 1,
    readonly watcher: RingWatcher = {},
  ) {}

  get size(): number {
    return this.#ring.length;
  }

  has(tenant: string): boolean {
    return this.#turns.has(tenant);
  }

  /** A tenant may have work: it joins the ring right after the current position, or, already in it, counts a wake-up. */
  add(tenant: string): void {
    const turn = this.#turns.get(tenant);
    if (turn) {
      turn.wakes++;
      return;
    }
    // It earns its quantum when it is first looked at, like every other tenant of the round.
    this.#turns.set(tenant, { deficit: 0, earnedIn: -1, inFlight: 0, confirmed: false, wakes: 0 });
    this.watcher.joined?.(tenant);
    if (this.#ring.length === 0) {
      this.#ring.push(tenant);
      this.#pos = 0;
    } else {
      this.#ring.splice(this.#pos + 1, 0, tenant);
    }
    this.#changed();
  }

  /**
   * The tenant to fetch from next, charged one fetch (call done() when it returns), or null when
   * no tenant can take a fetch now (none has work, each has its one probing fetch in flight, or
   * `mayTake` refuses it).
   */
  next(mayTake: (tenant: string) => boolean = ANY): string | null {
    const n = this.#ring.length;
    if (n === 0) return null;
    // Rounds end when every tenant that can be fetched from has spent its share; a fractional
    // weight may need a few to earn one fetch, and each round adds to every such deficit.
    for (;;) {
      // Past the tenants that have spent this round's share; the position then moves to the tenant
      // served, so that the fetches of one turn go out together (its storage batches them).
      for (let i = 0; i < n && this.#spent(this.#turns.get(this.#ring[this.#pos]!)!); i++) this.#pos = (this.#pos + 1) % n;
      let fetchable = false;
      for (let i = 0; i < n; i++) {
        const at = (this.#pos + i) % n;
        const tenant = this.#ring[at]!;
        const turn = this.#turns.get(tenant)!;
        if (!(turn.confirmed || turn.inFlight === 0) || !mayTake(tenant)) continue;
        fetchable = true;
        if (turn.earnedIn < this.#round) {
          const share = this.weightOf(tenant) * this.quantum;
          // What a refused tenant did not spend carries over, but never beyond one share (or one fetch).
          turn.deficit = Math.min(turn.deficit + share, Math.max(share, 1));
          turn.earnedIn = this.#round;
        }
        if (turn.deficit >= 1) {
          turn.deficit -= 1;
          turn.inFlight++;
          this.#pos = at;
          return tenant;
        }
      }
      if (!fetchable) return null;
      this.#round++;
    }
  }

  /** It has had its share of the current round. */
  #spent(turn: TenantTurn): boolean {
    return turn.earnedIn === this.#round && turn.deficit < 1;
  }

  /** The wake-up count to pass to done() after a fetch from this tenant. */
  mark(tenant: string): number {
    return this.#turns.get(tenant)?.wakes ?? -1;
  }

  /** A fetch from the tenant returned: with a job, or empty (then it leaves the ring unless woken since `mark`). */
  done(tenant: string, gotJob: boolean, mark: number): void {
    const turn = this.#turns.get(tenant);
    if (!turn) return;
    turn.inFlight = Math.max(0, turn.inFlight - 1);
    if (gotJob) turn.confirmed = true;
    else if (turn.wakes === mark) this.#remove(tenant);
    else turn.confirmed = false;
    this.#changed();
  }

  #remove(tenant: string): void {
    const at = this.#ring.indexOf(tenant);
    this.#turns.delete(tenant);
    this.watcher.left?.(tenant);
    if (at < 0) return;
    this.#ring.splice(at, 1);
    if (at < this.#pos) this.#pos--;
    if (this.#pos >= this.#ring.length) this.#pos = 0;
  }

  /** Resolves at the next change (a tenant joined, a fetch returned) or at close(); at once once closed. */
  changed(): Promise<void> {
    if (this.#closed) return Promise.resolve();
    return new Promise((resolve) => this.#waiting.add(resolve));
  }

  /** Wakes the waiters: what next() may take has changed outside the queue (a worker freed a shard). */
  wake(): void {
    this.#changed();
  }

  /** Wakes every waiter for good (the server stops). */
  close(): void {
    this.#closed = true;
    this.#changed();
  }

  #changed(): void {
    const waiting = [...this.#waiting];
    this.#waiting.clear();
    for (const wake of waiting) wake();
  }
}
