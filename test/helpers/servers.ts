import { randomBytes } from 'node:crypto';
import type { Redis } from 'ioredis';
import pg from 'pg';

export const PG_URL = process.env['JOBSHARD_TEST_PG'] ?? 'postgres://postgres@127.0.0.1:5432/test';
export const REDIS_URL = process.env['JOBSHARD_TEST_REDIS'] ?? 'redis://127.0.0.1:6379';

/** A schema name no other test (or parallel test run) uses. */
export function freshSchema(): string {
  return `t_${randomBytes(6).toString('hex')}`;
}

/** Runs SQL as an administrator connection outside any backend (setup, teardown, inspection). */
export async function adminQuery<R extends pg.QueryResultRow = pg.QueryResultRow>(sql: string, params: unknown[] = []): Promise<R[]> {
  const client = new pg.Client({ connectionString: PG_URL });
  await client.connect();
  try {
    return (await client.query<R>(sql, params)).rows;
  } finally {
    await client.end();
  }
}

export async function dropSchema(schema: string): Promise<void> {
  if (!/^t_[0-9a-f]+$/.test(schema)) throw new Error(`refusing to drop ${schema}`);
  await adminQuery(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
}

/** A key prefix no other test (or parallel run) uses. */
export function freshPrefix(): string {
  return `jstest:${randomBytes(6).toString('hex')}:`;
}

/**
 * The test Redis's logical database `db`: for a test whose timings include a SCAN of the whole
 * keyspace (a pin's emptiness check), which the rest of the suite's keys in db 0 would slow down.
 */
export function redisDb(db: number): string {
  const url = new URL(REDIS_URL);
  url.pathname = `/${db}`;
  return url.toString();
}

/** Deletes every key under a test prefix (tests clean up after themselves), in db 0 unless `url` names another. */
export async function deleteRedisPrefix(prefix: string, url = REDIS_URL): Promise<number> {
  if (!/^jstest:[0-9a-f]+:$/.test(prefix)) throw new Error(`refusing to delete ${prefix}*`);
  const { Redis } = await import('ioredis');
  const r = new Redis(url);
  let deleted = 0;
  try {
    let cursor = '0';
    do {
      const [next, keys] = await r.scan(cursor, 'MATCH', `${prefix}*`, 'COUNT', 1000);
      cursor = next;
      if (keys.length) deleted += await r.unlink(...keys);
    } while (cursor !== '0');
  } finally {
    r.disconnect();
  }
  return deleted;
}

/**
 * Fallback poll for the memory and Redis backends under test: long, so a lost wake-up
 * shows as a stuck fetch instead of hiding behind a poll (Postgres polls every 5 s
 * while its listener is connected).
 */
export const TEST_POLL_MS = 30_000;

/** Every key whose name starts with `p` (a test prefix, or a namespace's base under one), by SCAN. */
export async function redisKeysUnder(redis: Redis, p: string): Promise<string[]> {
  const out: string[] = [];
  let cursor = '0';
  do {
    const [next, keys] = await redis.scan(cursor, 'MATCH', `${p}*`, 'COUNT', 1000);
    cursor = next;
    out.push(...keys);
  } while (cursor !== '0');
  return out;
}
