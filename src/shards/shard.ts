import { ShardUnavailableError } from '../storage/errors.js';
import type { Backend, Storage } from '../storage/storage.js';
import { CircuitBreaker, type CircuitBreakerOptions, type CircuitState } from './circuit-breaker.js';
import type { Interceptor } from './call-site.js';
import { wrapStorage } from './wrap-storage.js';
import { WeakCache } from '../storage/weak-cache.js';

/** A shard's health: its circuit state and last connection error. */
export interface ShardHealth {
  id: string;
  kind: string;
  circuit: CircuitState;
  lastError: string | null;
}

/**
 * One shard: a backend and its health (its weight and slots are the directory's). Storages handed out by
 * `storage(ns)` fail fast with ShardUnavailableError naming this shard while
 * its circuit is open, and report connection failures to the breaker.
 */
export class Shard {
  readonly id: string;
  readonly backend: Backend;
  readonly breaker: CircuitBreaker;
  readonly #storages = new WeakCache<Storage>();
  readonly #interceptors: Interceptor[] = [];
  #lastError: string | null = null;

  constructor(id: string, backend: Backend, breaker?: CircuitBreakerOptions) {
    this.id = id;
    this.backend = backend;
    this.breaker = new CircuitBreaker(breaker);
  }

  get kind(): string {
    return this.backend.kind;
  }

  health(): ShardHealth {
    return { id: this.id, kind: this.kind, circuit: this.breaker.state, lastError: this.#lastError };
  }

  /** Adds an interceptor around every call (telemetry); it sees calls after the breaker let them through. */
  use(interceptor: Interceptor): void {
    this.#interceptors.push(interceptor);
  }

  storage(namespace: string): Storage {
    return this.#storages.getOrMake(namespace, () =>
      wrapStorage(
        this.backend.storage(namespace),
        namespace,
        (site, call) => this.#guard(this.#interceptors.length === 0 ? call : () => this.#intercepted(0, site, call)),
        () => this.#interceptors.length > 0,
      ),
    );
  }

  #intercepted<T>(i: number, site: Parameters<Interceptor>[0], call: () => Promise<T>): Promise<T> {
    const next = this.#interceptors[i];
    return next ? next(site, () => this.#intercepted(i + 1, site, call)) : call();
  }

  // Not an async function, and its handlers made once: it runs on every call of every tenant.
  #guard<T>(call: () => Promise<T>): Promise<T> {
    if (!this.breaker.allow()) {
      return Promise.reject(
        new ShardUnavailableError(
          this.id,
          `circuit open after repeated connection failures (last: ${this.#lastError}); next probe in ${this.breaker.retryInMs()} ms`,
        ),
      );
    }
    let pending: Promise<T>;
    try {
      // A wrapped object's synchronous method (a lock's abandon()) answers like an async one.
      pending = call();
      if (!(pending instanceof Promise)) pending = Promise.resolve(pending);
    } catch (err) {
      pending = Promise.reject(err);
    }
    return pending.then(this.#answered as (r: T) => T, this.#refused);
  }

  readonly #answered = <T>(result: T): T => {
    this.breaker.success();
    return result;
  };

  readonly #refused = (err: unknown): never => {
    if (err instanceof ShardUnavailableError) {
      this.#lastError = err.message;
      this.breaker.failure();
      throw err.shardId === this.id ? err : new ShardUnavailableError(this.id, err.message, { cause: err });
    }
    // Any other answer (a typed error, an aborted wait) means the shard is reachable.
    this.breaker.success();
    throw err;
  };
}

/** The backends behind these shards, each once: several shard ids may share one backend. */
export function backendsOf(shards: Iterable<Shard>): Backend[] {
  return [...new Set([...shards].map((s) => s.backend))];
}
