export * from './storage/errors.js';
export type { JsonValue } from './storage/json.js';
export type { CreateJobInput, JobRecord, JobStore, NewState, StateRecord } from './storage/job.js';
export type { FetchedJob, FetchOptions, FetchStateChange, QueueStore } from './storage/queue.js';
export type { AcquireOptions, Lock, LockManager } from './storage/lock.js';
export type { DataStore, StructureKind } from './storage/data.js';
export type { ServerInfo, ServerRecord, ServerRegistry } from './storage/servers.js';
export type { MonitoringApi, Page, QueueInfo, Statistics, StatisticsPoint } from './storage/monitoring.js';
export type { WriteTransaction, WriteOp } from './storage/transaction.js';
export type { Backend, Storage } from './storage/storage.js';
export type { StorageOptions } from './storage/storage-options.js';
export type { NamespaceDriver, LeasedEntry, FetchAttempt, NewJobRow } from './storage/driver.js';
export { createStorage } from './storage/create-storage.js';
export { NAME_LIMITS } from './storage/validate.js';
export { statsKeys, type StatisticKind } from './storage/statistics.js';
export { MemoryBackend, type MemoryBackendOptions } from './backends/memory/memory-backend.js';
export { PostgresBackend } from './backends/postgres/postgres-backend.js';
export type { PostgresBackendOptions } from './backends/postgres/postgres-options.js';
export { RedisBackend } from './backends/redis/redis-backend.js';
export type { RedisBackendOptions } from './backends/redis/redis-options.js';
export {
  createRouter,
  createRouterFromFile,
  Router,
  type RouterConfig,
  type RouterAdmin,
  type TenantPlacement,
  type DirectoryOptions,
} from './router/router.js';
export type { DirectoryView } from './router/router-admin.js';
export type { ShardState } from './directory/directory-record.js';
export { SlotTable, SLOT_COUNT } from './shards/slot-table.js';
export type { ShardHealth } from './shards/shard.js';
export type { CircuitState, CircuitBreakerOptions } from './shards/circuit-breaker.js';
export type { TenantMapInput } from './tenancy/tenant-map.js';
export { JobClient, type JobClientOptions, type RecurringJob, type RecurringJobOptions } from './processing/job-client.js';
export { JobServer, type JobServerOptions, type JobDoneEvent } from './processing/job-server.js';
export type { JobContext, JobHandler, HandlerEntry, RetryPolicy } from './processing/handler.js';
export { STATE } from './processing/states.js';
export { dashboard, type DashboardOptions, type DashboardHandler } from './dashboard/dashboard.js';
