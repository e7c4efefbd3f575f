/**
 * Objects made per key (a tenant's storage, a namespace's driver), held only while something else
 * holds them: a tenant that has gone idle leaves nothing behind, and its next call makes them
 * again. A process that served 5,000 tenants once kept about 10 KB of them per tenant for good.
 * While a value is alive, get() returns it, so one key has one value at a time. A value lives as
 * long as its anchor (itself unless `anchorOf` says otherwise) is reachable from elsewhere.
 */
export class WeakCache<V extends object> {
  readonly #refs = new Map<string, WeakRef<V>>();
  /** Keeps each value alive while its anchor is (an ephemeron: the anchor does not keep itself). */
  readonly #anchors = new WeakMap<object, V>();
  readonly #registry = new FinalizationRegistry<string>((key) => {
    if (this.#refs.get(key)?.deref() === undefined) this.#refs.delete(key);
  });

  constructor(readonly anchorOf: (value: V) => object = (value) => value) {}

  get(key: string): V | undefined {
    return this.#refs.get(key)?.deref();
  }

  /** The key's live value, or a new one from `make`. */
  getOrMake(key: string, make: () => V): V {
    const live = this.#refs.get(key)?.deref();
    if (live) return live;
    const value = make();
    this.#refs.set(key, new WeakRef(value));
    this.#registry.register(value, key);
    const anchor = this.anchorOf(value);
    if (anchor !== value) this.#anchors.set(anchor, value);
    return value;
  }

  /** Forgets every value (those still held elsewhere stay usable). */
  clear(): void {
    this.#refs.clear();
  }

  /** Keys whose value may still be alive (for tests). */
  get size(): number {
    return this.#refs.size;
  }
}
