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

/** The PSUBSCRIBE pattern of every channel whose name starts with `prefix` (its glob characters escaped). */
const patternOf = (prefix: string) => `${prefix.replace(/[*?[\]\\]/g, '\\$&')}*`;

export class RedisWaker {
  readonly #waiters = new Map<string, Set<() => void>>();
  readonly #idle = new Map<string, NodeJS.Timeout>();
  /** Watchers of every channel under a prefix (one PSUBSCRIBE each), by that prefix. */
  readonly #all = new Map<string, Set<(rest: string | null) => void>>();
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
        if (from === this.origin) return;
        for (const wake of this.#waiters.get(channel) ?? []) wake();
      });
      // A channel that has both kinds of subscriber arrives twice: as a message for the one, a pmessage for the other.
      this.#sub.on('pmessage', (_pattern: string, channel: string, from: string) => {
        if (from !== this.origin) this.#wakeAll(channel);
      });
      // On every (re)connect: subscribe again (the client's autoResubscribe is off, see RedisBackend),
      // and wake everyone for what was published meanwhile.
      const sub = this.#sub;
      sub.on('ready', () => {
        const channels = [...this.#waiters.keys()];
        if (channels.length) sub.subscribe(...channels).catch(() => {});
        const patterns = [...this.#all.keys()].map(patternOf);
        if (patterns.length) sub.psubscribe(...patterns).catch(() => {});
        for (const set of this.#waiters.values()) for (const wake of set) wake();
        for (const set of this.#all.values()) for (const wake of set) wake(null);
      });
    }
    return this.#sub;
  }

  subscribe(channel: string, wake: () => void): () => void {
    let set = this.#waiters.get(channel);
    if (!set) {
      this.#waiters.set(channel, (set = new Set()));
      this.#subscriber()
        .subscribe(channel)
        .catch(() => {});
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

  /**
   * Calls wake with the rest of the channel's name for every wake-up on a channel under `prefix`
   * (from any process), and with null after a reconnect (wake-ups may have been lost meanwhile).
   */
  subscribeAll(prefix: string, wake: (rest: string | null) => void): () => void {
    let set = this.#all.get(prefix);
    if (!set) {
      this.#all.set(prefix, (set = new Set()));
      this.#subscriber()
        .psubscribe(patternOf(prefix))
        .catch(() => {});
    }
    set.add(wake);
    return () => {
      set.delete(wake);
      if (set.size === 0 && this.#all.get(prefix) === set) {
        this.#all.delete(prefix);
        this.#sub?.punsubscribe(patternOf(prefix)).catch(() => {});
      }
    };
  }

  wakeLocal(channel: string): void {
    for (const wake of this.#waiters.get(channel) ?? []) wake();
    if (this.#all.size) this.#wakeAll(channel);
  }

  #wakeAll(channel: string): void {
    for (const [prefix, set] of this.#all) {
      if (channel.startsWith(prefix)) for (const wake of set) wake(channel.slice(prefix.length));
    }
  }

  async stop(): Promise<void> {
    for (const timer of this.#idle.values()) clearTimeout(timer);
    this.#idle.clear();
    const sub = this.#sub;
    this.#sub = null;
    sub?.disconnect();
  }
}
