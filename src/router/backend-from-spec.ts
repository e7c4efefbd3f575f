import { MemoryBackend } from '../backends/memory/memory-backend.js';
import { PostgresBackend } from '../backends/postgres/postgres-backend.js';
import { RedisBackend } from '../backends/redis/redis-backend.js';
import type { Backend } from '../storage/storage.js';
import type { BackendSpec } from '../tenancy/tenant-map.js';

/** Builds a backend from a JSON tenant map's spec: {"memory": {}}, {"postgres": {...}}, {"redis": {...}}. */
export function backendFromSpec(spec: Backend | BackendSpec): Backend {
  if ('storage' in spec && typeof spec.storage === 'function') return spec as Backend;
  if ('memory' in spec) return new MemoryBackend(spec.memory);
  if ('postgres' in spec) return new PostgresBackend(spec.postgres as never);
  return new RedisBackend((spec as { redis: Record<string, unknown> }).redis as never);
}
