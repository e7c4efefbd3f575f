import { readFileSync, readdirSync } from 'node:fs';
import type pg from 'pg';

const MIGRATIONS_DIR = new URL('./sql/migrations/', import.meta.url);

export interface Migration {
  version: number;
  name: string;
  sql: string;
}

export function loadMigrations(): Migration[] {
  return readdirSync(MIGRATIONS_DIR)
    .filter((f) => /^\d{4}-[\w-]+\.sql$/.test(f))
    .sort()
    .map((name) => ({ version: Number(name.slice(0, 4)), name, sql: readFileSync(new URL(name, MIGRATIONS_DIR), 'utf8') }));
}

/**
 * Brings the schema up to date. Many processes may start at once: the first
 * takes a transaction-scoped advisory lock keyed by the schema name, the
 * others wait on it and then find nothing left to do. Each migration commits
 * with its version row, so a crash leaves the schema at a known version.
 */
export async function migrate(client: pg.PoolClient, schema: string): Promise<number[]> {
  const applied: number[] = [];
  await client.query('BEGIN');
  try {
    await client.query("SELECT pg_advisory_xact_lock(hashtext('jobshard-migrate'), hashtext($1))", [schema]);
    // The schema name is validated (lowercase letters, digits, _) and quoted by the driver: it is the one identifier we cannot pass as a parameter.
    await client.query(`CREATE SCHEMA IF NOT EXISTS ${client.escapeIdentifier(schema)}`);
    await client.query(
      'CREATE TABLE IF NOT EXISTS jobshard_migrations (version integer PRIMARY KEY, name text NOT NULL, applied_at timestamptz NOT NULL DEFAULT now())',
    );
    const { rows } = await client.query<{ version: number }>('SELECT version FROM jobshard_migrations');
    const done = new Set(rows.map((r) => r.version));
    for (const m of loadMigrations()) {
      if (done.has(m.version)) continue;
      await client.query(m.sql);
      await client.query('INSERT INTO jobshard_migrations (version, name) VALUES ($1, $2)', [m.version, m.name]);
      applied.push(m.version);
    }
    await client.query('COMMIT');
  } catch (err) {
    await client.query('ROLLBACK').catch(() => {});
    throw err;
  }
  return applied;
}
