/**
 * Reads shared by every viewer: a result is kept for `ttlMs` and a read under way is joined, so
 * however many pages are open, each distinct read runs at most once per interval.
 */
export class SharedReads {
  readonly #entries = new Map<string, { at: number; value: Promise<unknown> }>();
  readonly #ttlMs: number;
  readonly #max: number;
  #reads = 0;

  constructor(ttlMs: number, max = 1_000) {
    this.#ttlMs = ttlMs;
    this.#max = max;
  }

  /** How many reads ran (not served from the cache): for tests and the bench. */
  get reads(): number {
    return this.#reads;
  }

  get<T>(key: string, read: () => Promise<T>, ttlMs = this.#ttlMs): Promise<T> {
    const now = Date.now();
    const hit = this.#entries.get(key);
    if (hit && now - hit.at < ttlMs) return hit.value as Promise<T>;
    this.#reads++;
    const value = read();
    this.#entries.set(key, { at: now, value });
    // A failed read is not kept: the next viewer tries again.
    value.catch(() => {
      if (this.#entries.get(key)?.value === value) this.#entries.delete(key);
    });
    if (this.#entries.size > this.#max) this.#evict(now);
    return value;
  }

  /** After an action: what the viewer sees next reflects it. */
  clear(): void {
    this.#entries.clear();
  }

  #evict(now: number): void {
    for (const [key, e] of this.#entries) if (now - e.at >= this.#ttlMs) this.#entries.delete(key);
    // Still full (many distinct reads within one interval): drop the oldest.
    while (this.#entries.size > this.#max) this.#entries.delete(this.#entries.keys().next().value!);
  }
}
