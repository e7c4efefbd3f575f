import { ShardUnavailableError } from '../storage/errors.js';
import type { Backend, Storage } from '../storage/storage.js';
import { CircuitBreaker, type CircuitBreakerOptions, type CircuitState } from './circuit-breaker.js';
import { wrapStorage, type Interceptor } from './wrap-storage.js';

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
  readonly #storages = new Map<string, Storage>();
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
    let s = this.#storages.get(namespace);
    if (!s) {
      s = wrapStorage(this.backend.storage(namespace), namespace, (site, call) => this.#guard(site, () => this.#intercepted(0, site, call)));
      this.#storages.set(namespace, s);
    }
    return s;
  }

  #intercepted<T>(i: number, site: Parameters<Interceptor>[0], call: () => Promise<T>): Promise<T> {
    const next = this.#interceptors[i];
    return next ? next(site, () => this.#intercepted(i + 1, site, call)) : call();
  }

  async #guard<T>(_site: Parameters<Interceptor>[0], call: () => Promise<T>): Promise<T> {
    if (!this.breaker.allow()) {
      throw new ShardUnavailableError(
        this.id,
        `circuit open after repeated connection failures (last: ${this.#lastError}); next probe in ${this.breaker.retryInMs()} ms`,
      );
    }
    try {
      const result = await call();
      this.breaker.success();
      return result;
    } catch (err) {
      if (err instanceof ShardUnavailableError) {
        this.#lastError = err.message;
        this.breaker.failure();
        throw err.shardId === this.id ? err : new ShardUnavailableError(this.id, err.message, { cause: err });
      }
      // Any other answer (a typed error, an aborted wait) means the shard is reachable.
      this.breaker.success();
      throw err;
    }
  }
}
