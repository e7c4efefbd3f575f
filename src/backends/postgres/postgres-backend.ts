import { createHash } from 'node:crypto';
import pg from 'pg';
import { parse as parseConnectionString } from 'pg-connection-string';
import { createStorage } from '../../storage/create-storage.js';
import { ClosedError } from '../../storage/errors.js';
import { parseOptions } from '../../storage/parse-options.js';
import { sleep } from '../../storage/sleep.js';
import type { Backend, QueueDepth, Storage } from '../../storage/storage.js';
import { checkName, checkNames, checkQueues } from '../../storage/validate.js';
import { DUE_SETS } from '../../storage/due-sets.js';
import { mapPgError } from './postgres-errors.js';
import { PgListener } from './postgres-listener.js';
import { migrate } from './postgres-migrate.js';
import { PostgresNamespace } from './postgres-namespace.js';
import { postgresOptionsSchema, type PostgresBackendOptions, type ResolvedPostgresOptions } from './postgres-options.js';
import type { Query, Transact } from './postgres-query.js';
import { POSTGRES_TYPES } from './postgres-types.js';
import { sessionOptions } from './postgres-session.js';
import { SQL } from './postgres-statements.js';
import type { UnitOwnership } from '../../storage/ownership.js';
import { importAll, type ImportFence, type ItemRef, type UnitImport, type UnitItem } from '../../storage/unit-stream.js';
import { UNIT_SQL } from './postgres-unit-stream.js';
import { WeakCache } from '../../storage/weak-cache.js';

const statementNames = new Map<string, string>();

/** SQLSTATE 40P01; a statement chosen as a deadlock's victim is tried this many times in all. */
const DEADLOCK_DETECTED = '40P01';
const DEADLOCK_ATTEMPTS = 4;

/**
 * Every statement is one of the constants in postgres-statements.ts, so each is
 * sent as a named prepared statement: a connection parses and plans it once
 * instead of on every call (the batched insert's planning alone was ~0.25 ms).
 * The name is a digest of the text, so two texts never share one name.
 */
/** The prepared statement's name for a SQL text: stable across processes, so a fault test can tell requests apart on the wire. */
export function statementName(sql: string): string {
  let name = statementNames.get(sql);
  if (!name) statementNames.set(sql, (name = `jobshard_${createHash('sha1').update(sql).digest('hex').slice(0, 16)}`));
  return name;
}

/**
 * A backend on one Postgres database and schema, through a `pg` Pool.
 * Tables are created on first use (or `open()`) by versioned migrations.
 */
export class PostgresBackend implements Backend {
  readonly kind = 'postgres';
  readonly options: ResolvedPostgresOptions;
  /** host:port/database (schema), for messages and telemetry. */
  readonly where: string;
  readonly #pool: pg.Pool;
  readonly #listener: PgListener;
  /** Anchored on the driver: a delivery's lease names its driver, which must stay the namespace's while the lease is held. */
  readonly #storages = new WeakCache<{ driver: PostgresNamespace; storage: Storage }>((ns) => ns.driver);
  readonly #query: Query;
  readonly #transact: Transact;
  #opening: Promise<void> | undefined;
  #sweeper: NodeJS.Timeout | undefined;
  #closed = false;

  constructor(options: PostgresBackendOptions) {
    this.options = parseOptions(postgresOptionsSchema, options, 'PostgresBackend options');
    const o = this.options;
    // Parsed here, not handed to pg: pg lets the string's parameters override the config, so an
    // options=… in it replaced the search_path (sessionOptions) and sent the backend to another schema.
    const { connectionString: poolUrl, ...given }: pg.PoolConfig = o.pool ?? {};
    const url = o.connectionString ?? poolUrl;
    // What pg itself would spread over the config (it parses with the same library).
    const fromUrl = (url ? parseConnectionString(url) : {}) as pg.PoolConfig;
    const config: pg.PoolConfig = {
      ...given,
      ...fromUrl,
      max: o.poolSize,
      connectionTimeoutMillis: o.connectTimeoutMs,
      options: sessionOptions(o.schema, fromUrl.options ?? given.options),
      application_name: `jobshard:${o.schema}`,
      types: given.types ?? POSTGRES_TYPES,
    };
    const params = new pg.Client(config); // fills in pg's defaults (host, port); never connected
    this.where = `${params.host}:${params.port}/${params.database} (schema ${o.schema})`;
    this.#pool = new pg.Pool(config);
    // An idle client's error (server restart, terminated backend) must not crash the process; the pool drops it.
    this.#pool.on('error', () => {});
    this.#listener = new PgListener(config, o.schema);
    const pool = this.#pool;
    const where = this.where;
    const prepared = o.preparedStatements;
    // A named (prepared) statement unless turned off; the pool and a transaction's client send the same.
    const statement = (sql: string, params?: unknown[]): pg.QueryConfig => ({
      ...(prepared ? { name: statementName(sql) } : {}),
      text: sql,
      ...(params ? { values: params } : {}),
    });
    this.#query = async (sql, params) => {
      await this.open();
      for (let attempt = 1; ; attempt++) {
        try {
          return await pool.query(statement(sql, params));
        } catch (err) {
          // Each statement is its own transaction, so one Postgres rolled back to break a deadlock wrote
          // nothing: sent again. A fetch (entries, then jobs) can meet a commit (jobs, then entries)
          // on a job whose lease lapsed while its holder committed.
          if ((err as { code?: string }).code === DEADLOCK_DETECTED && attempt < DEADLOCK_ATTEMPTS) {
            await sleep(Math.random() * 10 * attempt);
            continue;
          }
          throw mapPgError(err, where);
        }
      }
    };
    this.#transact = async (work) => {
      await this.open();
      let client: pg.PoolClient;
      try {
        client = await pool.connect();
      } catch (err) {
        throw mapPgError(err, where);
      }
      const q: Query = async (sql, params) => {
        try {
          return await client.query(statement(sql, params));
        } catch (err) {
          throw mapPgError(err, where);
        }
      };
      let broken: Error | undefined;
      try {
        await q('BEGIN');
        const result = await work(q);
        await q('COMMIT');
        return result;
      } catch (err) {
        // A connection that cannot even roll back is dropped from the pool, not handed to the next caller.
        await client.query('ROLLBACK').catch((e: Error) => (broken = e));
        throw err;
      } finally {
        client.release(broken);
      }
    };
  }

  /** Connects, applies migrations and starts LISTEN and the sweeper. Idempotent; other calls do it on first use. */
  open(): Promise<void> {
    if (this.#closed) return Promise.reject(new ClosedError(`PostgresBackend ${this.where}`));
    this.#opening ??= this.#open().catch((err) => {
      this.#opening = undefined;
      throw err;
    });
    return this.#opening;
  }

  async #open(): Promise<void> {
    let client: pg.PoolClient;
    try {
      client = await this.#pool.connect();
    } catch (err) {
      throw mapPgError(err, this.where);
    }
    try {
      await migrate(client, this.options.schema);
    } catch (err) {
      throw mapPgError(err, this.where);
    } finally {
      client.release();
    }
    await this.#listener.start();
    if (this.options.sweepIntervalMs > 0 && !this.#sweeper) {
      this.#sweeper = setInterval(() => void this.sweep().catch(() => {}), this.options.sweepIntervalMs);
      this.#sweeper.unref();
    }
  }

  storage(namespace: string): Storage {
    return this.#namespace(namespace).storage;
  }

  #namespace(namespace: string): { driver: PostgresNamespace; storage: Storage } {
    if (this.#closed) throw new ClosedError(`PostgresBackend ${this.where}`);
    checkName('namespace', namespace);
    return this.#storages.getOrMake(namespace, () => {
      const driver = new PostgresNamespace(this.#query, this.#transact, namespace, this.#listener, this.options.fallbackPollMs);
      return { driver, storage: createStorage(driver, this.options) };
    });
  }

  ownership(namespace: string): Promise<UnitOwnership> {
    return this.#namespace(namespace).driver.ownership();
  }

  setOwnership(namespace: string, own: UnitOwnership): Promise<void> {
    return this.#namespace(namespace).driver.setOwnership(own);
  }

  hasData(namespace: string): Promise<boolean> {
    return this.#namespace(namespace).driver.hasData();
  }

  async units(): Promise<string[]> {
    return (await this.#query<{ ns: string }>(UNIT_SQL.units)).rows.map((r) => r.ns);
  }

  exportUnit(namespace: string): AsyncIterable<UnitItem[]> {
    return this.#namespace(namespace).driver.exportUnit();
  }

  importUnit(namespace: string, batches: AsyncIterable<readonly UnitItem[]>): Promise<void> {
    return importAll(this.#namespace(namespace).driver.beginImport(), batches);
  }

  beginImport(namespace: string, fence?: ImportFence): UnitImport {
    return this.#namespace(namespace).driver.beginImport(fence);
  }

  trackChanges(namespace: string, on: boolean): Promise<void> {
    return this.#namespace(namespace).driver.trackChanges(on);
  }

  takeChanges(namespace: string): Promise<ItemRef[]> {
    return this.#namespace(namespace).driver.takeChanges();
  }

  exportRefs(namespace: string, refs: readonly ItemRef[]): Promise<UnitItem[]> {
    return this.#namespace(namespace).driver.exportRefs(refs);
  }

  clearUnit(namespace: string): Promise<void> {
    return this.#namespace(namespace).driver.clearUnit();
  }

  watch(namespace: string, fn: () => void): () => void {
    checkName('namespace', namespace);
    void this.open().catch(() => {});
    return this.#listener.subscribe(namespace, fn);
  }

  async signal(namespace: string): Promise<void> {
    await this.#query(SQL.signal, [checkName('namespace', namespace)]);
    this.#listener.wakeLocal(namespace);
  }

  async unitsWithWork(queues: readonly string[]): Promise<string[]> {
    const { rows } = await this.#query<{ ns: string }>(SQL.unitsWithWork, [checkQueues(queues)]);
    return rows.map((r) => r.ns);
  }

  async unitsWithDue(): Promise<string[]> {
    const { rows } = await this.#query<{ ns: string }>(SQL.unitsWithDue, [DUE_SETS, Date.now()]);
    return rows.map((r) => r.ns);
  }

  watchWork(fn: (namespace: string | null) => void): () => void {
    void this.open().catch(() => {});
    return this.#listener.subscribeAll(fn);
  }

  /** Deletes lapsed rows, batch after batch, until a pass finds fewer than a batch. Returns rows deleted. */
  async sweep(): Promise<number> {
    let total = 0;
    for (;;) {
      const { rows } = await this.#query<{ deleted: string }>(SQL.sweep, [this.options.sweepBatch]);
      const n = Number(rows[0]!.deleted);
      total += n;
      if (n < this.options.sweepBatch) return total;
    }
  }

  async namespaces(): Promise<string[]> {
    return (await this.#query<{ ns: string }>(SQL.namespaces, [DUE_SETS])).rows.map((r) => r.ns);
  }

  async stateCountsOf(namespaces: readonly string[]): Promise<Map<string, Record<string, number>>> {
    const out = new Map<string, Record<string, number>>(checkNames('namespace', namespaces).map((ns) => [ns, {}]));
    if (namespaces.length === 0) return out;
    const { rows } = await this.#query<{ ns: string; state_name: string; n: number }>(SQL.stateCountsOf, [namespaces]);
    for (const r of rows) out.get(r.ns)![r.state_name] = r.n;
    return out;
  }

  async counterSums(keys: readonly string[]): Promise<Record<string, number>> {
    const out: Record<string, number> = Object.fromEntries(checkNames('key', keys).map((k) => [k, 0]));
    if (keys.length === 0) return out;
    const { rows } = await this.#query<{ key: string; total: number }>(SQL.counterSums, [keys]);
    for (const r of rows) out[r.key] = r.total;
    return out;
  }

  async queueDepths(): Promise<QueueDepth[]> {
    const { rows } = await this.#query<{ ns: string; queue: string; waiting: number; in_flight: number }>(SQL.queueDepths);
    return rows.map((r) => ({ namespace: r.ns, queue: r.queue, waiting: r.waiting, inFlight: r.in_flight }));
  }

  /** Pool counts for telemetry. */
  poolStats(): { total: number; idle: number; waiting: number } {
    return { total: this.#pool.totalCount, idle: this.#pool.idleCount, waiting: this.#pool.waitingCount };
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    clearInterval(this.#sweeper);
    await this.#opening?.catch(() => {});
    await this.#listener.stop();
    await this.#pool.end();
  }
}
