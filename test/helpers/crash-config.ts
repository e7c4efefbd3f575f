import { randomBytes } from 'node:crypto';
import type { CrashConfig } from './crash-worker.js';
import { deleteRedisPrefix, dropSchema, freshPrefix, freshSchema, PG_URL, REDIS_URL } from './servers.js';

/** A crash test's storage on the test servers: its own schema, key prefix and namespace (`<label><random hex>`). */
export function freshCrashConfig(kind: CrashConfig['kind'], label: string): CrashConfig {
  return { kind, pg: PG_URL, redis: REDIS_URL, schema: freshSchema(), prefix: freshPrefix(), namespace: `${label}${randomBytes(4).toString('hex')}` };
}

/** Drops what a crash test wrote, whichever backend it used. */
export async function dropCrashData(cfg: CrashConfig): Promise<void> {
  await dropSchema(cfg.schema).catch(() => {});
  await deleteRedisPrefix(cfg.prefix).catch(() => {});
}
