import { randomUUID } from 'node:crypto';
import type { Cluster, Redis } from 'ioredis';

/**
 * Wakes waiting fetches when a commit with an enqueue (or a requeue)
 * PUBLISHes on the namespace's channel. One subscriber connection per
 * backend, subscribed to a namespace's channel while anyone waits on it.
 * If pub/sub is down, fetches still poll (pollIntervalMs).
 *
 * A message carries its publisher's origin: this process woke its own waiters
 * when its call returned (wakeLocal), so its own messages are skipped; they
 * would only send a woken worker to fetch a second time.
 */
const IDLE_UNSUBSCRIBE_MS = 30_000;

export class RedisWaker {
  readonly #waiters = new Map<string, Set<() => void>>();
  readonly #idle = new Map<string, NodeJS.Timeout>();
  #sub: Redis | Cluster | null = null;
  readonly #make: () => Redis | Cluster;
  /** Published with every wake-up this process sends. */
  readonly origin = randomUUID();

  constructor(make: () => Redis | Cluster) {
    this.#make = make;
  }

  #subscriber(): Redis | Cluster {
    if (!this.#sub) {
      this.#sub = this.#make();
      this.#sub.on('error', () => {}); // reconnects by itself; fetches poll meanwhile
      this.#sub.on('message', (channel: string, from: string) => {
        if (from !== this.origin) this.wakeLocal(channel);
      });
      // After a reconnect ioredis re-subscribes; wake everyone for what was published meanwhile.
      this.#sub.on('ready', () => {
        for (const set of this.#waiters.values()) for (const wake of set) wake();
      });
    }
    return this.#sub;
  }

  subscribe(channel: string, wake: () => void): () => void {
    let set = this.#waiters.get(channel);
    if (!set) {
      this.#waiters.set(channel, (set = new Set()));
      this.#subscriber().subscribe(channel).catch(() => {});
    }
    clearTimeout(this.#idle.get(channel));
    this.#idle.delete(channel);
    set.add(wake);
    return () => {
      set.delete(wake);
      if (set.size > 0 || this.#idle.has(channel)) return;
      // Stay subscribed a while: consumers that come back soon should not pay SUBSCRIBE/UNSUBSCRIBE each time.
      const timer = setTimeout(() => {
        this.#idle.delete(channel);
        if (this.#waiters.get(channel)?.size === 0) {
          this.#waiters.delete(channel);
          this.#sub?.unsubscribe(channel).catch(() => {});
        }
      }, IDLE_UNSUBSCRIBE_MS);
      timer.unref();
      this.#idle.set(channel, timer);
    };
  }

  wakeLocal(channel: string): void {
    for (const wake of this.#waiters.get(channel) ?? []) wake();
  }

  async stop(): Promise<void> {
    for (const timer of this.#idle.values()) clearTimeout(timer);
    this.#idle.clear();
    const sub = this.#sub;
    this.#sub = null;
    sub?.disconnect();
  }
}
