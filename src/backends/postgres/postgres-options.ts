import { z } from 'zod';
import type { PoolConfig } from 'pg';

export const postgresOptionsSchema = z
  .object({
    /** e.g. `postgres://user@127.0.0.1:5432/db`. Either this or `pool`. */
    connectionString: z.string().min(1).optional(),
    /** Extra pg Pool options (host, port, user, ssl…); merged under the ones below. */
    pool: z.custom<PoolConfig>((v) => v === undefined || (typeof v === 'object' && v !== null)).optional(),
    /**
     * Schema holding this backend's tables. Several backends (shards) may share
     * one database with different schemas. Lowercase letters, digits, `_`.
     */
    schema: z
      .string()
      .regex(/^[a-z_][a-z0-9_]{0,62}$/, 'must be 1-63 lowercase letters, digits or _, not starting with a digit')
      .default('jobshard'),
    /**
     * Connections in the pool. A waiting fetch holds no connection (it sleeps
     * on LISTEN/NOTIFY), so size the pool for queries in flight at once: about
     * half the workers of the process plus a few, not one per worker. Default 10.
     */
    poolSize: z.number().int().min(1).max(1000).default(10),
    /** Give up connecting after this long, with an error naming host and port. Default 5000. */
    connectTimeoutMs: z.number().int().min(1).default(5_000),
    /** How often lapsed rows are deleted (in batches). 0 turns the sweeper off. Default 30 s. */
    sweepIntervalMs: z.number().int().min(0).default(30_000),
    /** Rows deleted per table per sweep statement. Default 1000. */
    sweepBatch: z.number().int().min(1).default(1_000),
    /** Fallback poll between fetch attempts while the LISTEN connection is down. Default 250 ms. */
    fallbackPollMs: z.number().int().min(1).default(250),
    /**
     * Send statements as named prepared statements (parsed and planned once per
     * connection). Turn off behind a pooler in transaction mode that does not
     * track them (PgBouncer before 1.21). Default true.
     */
    preparedStatements: z.boolean().default(true),
    maxPayloadBytes: z.number().int().min(1).optional(),
  })
  .strict()
  .refine((o) => o.connectionString !== undefined || o.pool !== undefined, {
    message: 'give connectionString (e.g. postgres://postgres@127.0.0.1:5432/test) or pool options',
  });

/** Options of `new PostgresBackend(options)`: a connection string or pool, the schema, pool size, timeouts (docs/backends.md). */
export type PostgresBackendOptions = z.input<typeof postgresOptionsSchema>;
export type ResolvedPostgresOptions = z.output<typeof postgresOptionsSchema>;
