// A JobServer in its own process, for crash tests: the parent SIGKILLs it mid-run.
// Usage: tsx crash-worker.ts '<json {kind: "postgres"|"redis"|"router", pg, redis, schema, prefix, namespace}>'
// Prints "done <n>" as jobs complete.
import { pathToFileURL } from 'node:url';
import { PostgresBackend } from '../../src/backends/postgres/postgres-backend.js';
import { RedisBackend } from '../../src/backends/redis/redis-backend.js';
import { JobServer } from '../../src/processing/job-server.js';
import { Router } from '../../src/router/router.js';
import type { Storage } from '../../src/storage/storage.js';

export interface CrashConfig {
  kind: 'postgres' | 'redis' | 'router';
  pg: string;
  redis: string;
  schema: string;
  prefix: string;
  namespace: string;
}

export function crashStorage(cfg: CrashConfig): { storage: Storage; close: () => Promise<void> } {
  if (cfg.kind === 'postgres') {
    const b = new PostgresBackend({ connectionString: cfg.pg, schema: cfg.schema, sweepIntervalMs: 0 });
    return { storage: b.storage(cfg.namespace), close: () => b.close() };
  }
  if (cfg.kind === 'redis') {
    const b = new RedisBackend({ url: cfg.redis, prefix: cfg.prefix });
    return { storage: b.storage(cfg.namespace), close: () => b.close() };
  }
  const router = new Router({
    shards: [
      { id: 'pg', backend: new PostgresBackend({ connectionString: cfg.pg, schema: cfg.schema, sweepIntervalMs: 0 }) },
      { id: 'redis', backend: new RedisBackend({ url: cfg.redis, prefix: cfg.prefix }) },
    ],
    tenants: { [cfg.namespace]: { shard: 'pg', queueGroups: { bulk: { queues: ['bulk'], shard: 'redis' } } } },
  });
  return { storage: router.tenant(cfg.namespace), close: () => router.close() };
}

// Run as a script, not when another helper imports crashStorage.
if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const cfg = JSON.parse(process.argv[2]!) as CrashConfig;
  let done = 0;
  const server = new JobServer(crashStorage(cfg).storage, {
    queues: ['default', 'bulk'],
    workerCount: 8,
    invisibilityTimeoutMs: 1_000,
    handlers: {
      work: async () => {
        await new Promise((r) => setTimeout(r, 2));
        done++;
      },
    },
  });
  await server.start();
  setInterval(() => process.stdout.write(`done ${done}\n`), 20);
}
