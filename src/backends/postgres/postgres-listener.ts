import pg from 'pg';

/**
 * One LISTEN connection per backend. Commits that enqueue NOTIFY 'jobshard'
 * with [schema, namespace]; waiting fetches of that namespace are woken.
 * When the connection drops, `connected` is false (fetchers fall back to
 * polling), it reconnects with back-off, and on reconnect it wakes every
 * waiter, since notifications sent while it was away are lost.
 */
export class PgListener {
  readonly #config: pg.ClientConfig;
  readonly #schema: string;
  readonly #waiters = new Map<string, Set<() => void>>();
  /** Watchers of every namespace of this schema (a server of many units). */
  readonly #all = new Set<(ns: string | null) => void>();
  #client: pg.Client | null = null;
  #connected = false;
  #stopped = false;
  #retryMs = 100;
  #timer: NodeJS.Timeout | undefined;

  constructor(config: pg.ClientConfig, schema: string) {
    this.#config = { ...config, application_name: `jobshard-listener:${schema}` };
    this.#schema = schema;
  }

  get connected(): boolean {
    return this.#connected;
  }

  /** Resolves once listening; on failure keeps retrying in the background and resolves anyway. */
  async start(): Promise<void> {
    await this.#connect();
  }

  async #connect(): Promise<void> {
    if (this.#stopped) return;
    const client = new pg.Client(this.#config);
    this.#client = client;
    client.on('notification', (msg) => this.#onNotification(msg.payload));
    client.on('error', () => this.#lost(client));
    client.on('end', () => this.#lost(client));
    try {
      await client.connect();
      await client.query('LISTEN jobshard');
      if (this.#stopped) return void client.end().catch(() => {});
      this.#connected = true;
      this.#retryMs = 100;
      this.#wakeAll();
    } catch {
      this.#lost(client);
    }
  }

  #lost(client: pg.Client): void {
    if (this.#client !== client) return;
    this.#client = null;
    this.#connected = false;
    client.end().catch(() => {});
    if (this.#stopped) return;
    this.#timer = setTimeout(() => void this.#connect(), this.#retryMs);
    this.#timer.unref();
    this.#retryMs = Math.min(this.#retryMs * 2, 5_000);
  }

  #onNotification(payload: string | undefined): void {
    if (!payload) return;
    try {
      const [schema, ns] = JSON.parse(payload) as [string, string];
      if (schema !== this.#schema) return;
      for (const wake of this.#waiters.get(ns) ?? []) wake();
      for (const wake of this.#all) wake(ns);
    } catch {
      // Not ours: another program may use the same channel name.
    }
  }

  #wakeAll(): void {
    for (const set of this.#waiters.values()) for (const wake of set) wake();
    for (const wake of this.#all) wake(null);
  }

  /** Calls wake(ns) for every notification of this schema, and wake(null) on (re)connecting: notifications may have been lost. */
  subscribeAll(wake: (ns: string | null) => void): () => void {
    this.#all.add(wake);
    return () => void this.#all.delete(wake);
  }

  subscribe(ns: string, wake: () => void): () => void {
    let set = this.#waiters.get(ns);
    if (!set) this.#waiters.set(ns, (set = new Set()));
    set.add(wake);
    return () => {
      set.delete(wake);
      if (set.size === 0 && this.#waiters.get(ns) === set) this.#waiters.delete(ns);
    };
  }

  /** Wakes this process's own waiters at once, without a round trip through the server. */
  wakeLocal(ns: string): void {
    for (const wake of this.#waiters.get(ns) ?? []) wake();
    for (const wake of this.#all) wake(ns);
  }

  async stop(): Promise<void> {
    this.#stopped = true;
    clearTimeout(this.#timer);
    const client = this.#client;
    this.#client = null;
    this.#connected = false;
    await client?.end().catch(() => {});
  }
}
