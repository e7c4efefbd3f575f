/** `closed` (calls go through), `open` (calls fail fast) or `half-open` (one probe is let through). */
export type CircuitState = 'closed' | 'open' | 'half-open';

/** When a shard's circuit opens (consecutive failures) and how long it stays open before a probe. */
export interface CircuitBreakerOptions {
  /** Consecutive connection failures that open the circuit. Default 3. */
  failureThreshold?: number;
  /** How long an open circuit fails calls before letting one probe through. Default 1000 ms. */
  openMs?: number;
}

/**
 * Per-shard health. Closed: calls go through. After `failureThreshold`
 * consecutive connection failures it opens: calls fail at once, without
 * touching the network, so a dead shard costs its tenants nothing but an
 * error and costs nobody else anything. After `openMs` one probe call is let
 * through (half-open): success closes the circuit, failure re-opens it.
 */
export class CircuitBreaker {
  readonly failureThreshold: number;
  readonly openMs: number;
  #state: CircuitState = 'closed';
  #failures = 0;
  #openedAt = 0;
  #lastProbeAt = 0;

  constructor(options: CircuitBreakerOptions = {}) {
    this.failureThreshold = options.failureThreshold ?? 3;
    this.openMs = options.openMs ?? 1_000;
  }

  get state(): CircuitState {
    if (this.#state === 'open' && Date.now() - this.#openedAt >= this.openMs) return 'half-open';
    return this.#state;
  }

  /**
   * Whether a call may go out now. Half-open lets one probe through per
   * `openMs` window (not "one at a time": a probe that is a long blocking
   * fetch must not keep every other caller out).
   */
  allow(): boolean {
    const state = this.state;
    if (state === 'closed') return true;
    if (state === 'open') return false;
    const now = Date.now();
    if (now - this.#lastProbeAt < this.openMs) return false;
    this.#lastProbeAt = now;
    return true;
  }

  /** Milliseconds until the next probe is allowed. */
  retryInMs(): number {
    return Math.max(0, this.openMs - (Date.now() - this.#openedAt));
  }

  success(): void {
    this.#failures = 0;
    this.#state = 'closed';
  }

  failure(): void {
    this.#failures++;
    if (this.#state !== 'closed' || this.#failures >= this.failureThreshold) {
      this.#state = 'open';
      this.#openedAt = Date.now();
    }
  }
}
