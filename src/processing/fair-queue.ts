interface TenantTurn {
  /** Fetches this tenant may still make in the current turn of the ring. */
  deficit: number;
  /** Its fetches in flight. */
  inFlight: number;
  /** Its last fetch brought a job: several workers may fetch from it at once. */
  confirmed: boolean;
  /** Wake-ups since it joined: a fetch that started before the last one and came back empty does not drop it. */
  wakes: number;
}

/**
 * Deficit round-robin over the tenants that have work: each turn of the ring
 * gives a tenant `weight` fetches (a weight below 1 takes several turns to
 * earn one), so a tenant with a deep backlog gets its share and no more, and
 * a tenant that just got work is next in the ring, however deep the others'
 * backlogs are. A tenant whose fetch came back empty leaves the ring, unless
 * it was woken while that fetch was in flight. Until a tenant's fetch has
 * brought a job, only one fetch of it is in flight: a wake-up for one job
 * sends one worker, not all of them.
 */
export class FairQueue {
  readonly #ring: string[] = [];
  #pos = 0;
  readonly #turns = new Map<string, TenantTurn>();
  readonly #waiting = new Set<() => void>();
  #closed = false;

  /**
   * weightOf gives a tenant's weight; each turn it may make weight × quantum fetches. Fetches of
   * one tenant made together go to its storage together, which batches them into one call.
   */
  constructor(
    readonly weightOf: (tenant: string) => number,
    readonly quantum = 1,
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
    // Its quantum comes when the ring's position reaches it, like every other tenant's.
    this.#turns.set(tenant, { deficit: 0, inFlight: 0, confirmed: false, wakes: 0 });
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
   * no tenant can take a fetch now (none has work, or each has its one probing fetch in flight).
   */
  next(): string | null {
    let ineligible = 0;
    while (this.#ring.length > 0) {
      const tenant = this.#ring[this.#pos]!;
      const turn = this.#turns.get(tenant)!;
      if (turn.confirmed || turn.inFlight === 0) {
        ineligible = 0;
        if (turn.deficit >= 1) {
          turn.deficit -= 1;
          turn.inFlight++;
          return tenant;
        }
      } else if (++ineligible > this.#ring.length) {
        return null;
      }
      this.#pos = (this.#pos + 1) % this.#ring.length;
      const nextTurn = this.#turns.get(this.#ring[this.#pos]!)!;
      // A tenant waiting on its probe earns nothing meanwhile: no burst when it comes back.
      if (nextTurn.confirmed || nextTurn.inFlight === 0) nextTurn.deficit += this.weightOf(this.#ring[this.#pos]!) * this.quantum;
    }
    return null;
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
