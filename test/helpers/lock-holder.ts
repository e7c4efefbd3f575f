// A separate process that takes a lock and then holds it until it is killed.
// Usage: tsx lock-holder.ts '<json {kind, url, schema?, prefix?, namespace, resource, ttlMs}>'
// Prints "token <n>" once the lock is held.
import { PostgresBackend } from '../../src/backends/postgres/postgres-backend.js';
import type { Backend } from '../../src/storage/storage.js';

const cfg = JSON.parse(process.argv[2]!) as { kind: string; url: string; schema?: string; prefix?: string; namespace: string; resource: string; ttlMs: number };
const backend: Backend = await openBackend();
const lock = await backend.storage(cfg.namespace).locks.acquire(cfg.resource, { timeoutMs: 10_000, ttlMs: cfg.ttlMs });
process.stdout.write(`token ${lock.token}\n`);
lock.signal.addEventListener('abort', () => process.stdout.write('lost\n'));
setInterval(() => {}, 1_000); // hold the lock (renewing) until killed

async function openBackend(): Promise<Backend> {
  if (cfg.kind === 'postgres') return new PostgresBackend({ connectionString: cfg.url, schema: cfg.schema!, sweepIntervalMs: 0 });
  const { RedisBackend } = await import('../../src/backends/redis/redis-backend.js');
  return new RedisBackend({ url: cfg.url, prefix: cfg.prefix });
}
