import { z } from 'zod';
import { ConfigError } from '../storage/errors.js';
import type { Backend } from '../storage/storage.js';
import { checkName } from '../storage/validate.js';
import { checkGroupName, checkTenantId } from './tenant-id.js';

const backendSpec = z.union([
  z.object({ memory: z.object({ maxPayloadBytes: z.number().int().positive().optional() }).strict() }).strict(),
  z.object({ postgres: z.record(z.string(), z.unknown()) }).strict(),
  z.object({ redis: z.record(z.string(), z.unknown()) }).strict(),
]);

const isBackend = (v: unknown): v is Backend =>
  typeof v === 'object' && v !== null && typeof (v as Backend).storage === 'function' && typeof (v as Backend).close === 'function';

export const backendOrSpec = z.union([z.custom<Backend>(isBackend, 'a Backend instance'), backendSpec]);

export const shardSpecSchema = z
  .object({
    id: z.string().regex(/^[A-Za-z0-9_.-]{1,64}$/, 'shard id: 1-64 letters, digits, _ . -'),
    /** A Backend instance, or (in a JSON file) a spec: {"memory": {}}, {"postgres": {...options}}, {"redis": {...options}}. */
    backend: backendOrSpec,
    /** The slot share the rebalancer aims for. Silent: the directory's (1 for a new shard). */
    weight: z.number().positive('weight must be > 0').finite().optional(),
  })
  .strict();

export type ShardSpec = z.input<typeof shardSpecSchema>;

export const tenantMapSchema = z
  .object({
    shards: z.array(shardSpecSchema).min(1, 'at least one shard is needed'),
    tenants: z
      .record(
        z.string(),
        z
          .object({
            /** Pin the tenant's home unit to this shard instead of hashing. */
            shard: z.string().optional(),
            /** Its share of a server over the router (JobServer(router, …)) while other tenants have work too. Default 1. */
            weight: z.number().positive('weight must be > 0').finite().optional(),
            /** At most this many of its jobs run at once, across every server process of the fleet. */
            maxConcurrent: z.number().int('maxConcurrent must be a whole number').positive('maxConcurrent must be > 0').optional(),
            /** Per queue: at most this many of the queue's jobs run at once, fleet-wide. */
            queues: z
              .record(
                z.string(),
                z
                  .object({
                    maxConcurrent: z.number().int('maxConcurrent must be a whole number').positive('maxConcurrent must be > 0'),
                  })
                  .strict(),
              )
              .optional(),
            queueGroups: z
              .record(
                z.string(),
                z
                  .object({
                    queues: z.array(z.string()).min(1, 'a queue group needs at least one queue'),
                    /** Pin the group to a shard; otherwise it is placed by hashing `tenant:group`. */
                    shard: z.string().optional(),
                  })
                  .strict(),
              )
              .optional(),
          })
          .strict(),
      )
      .default({}),
  })
  .strict();

/** The tenant map as written (JSON or code): shards with backend specs or backends, and tenants with pins, weights, caps and queue groups. */
export type TenantMapInput = z.input<typeof tenantMapSchema>;
export type BackendSpec = z.output<typeof backendSpec>;

export interface ResolvedTenant {
  pin: string | null;
  /** queue -> group */
  groupOfQueue: Map<string, string>;
  /** group -> pinned shard or null */
  groups: Map<string, string | null>;
  /** Fair-share weight for servers over the router (default 1). */
  weight: number;
  /** Fleet-wide concurrency caps: the tenant's (null: none), and per queue. */
  maxConcurrent: number | null;
  queueCaps: Map<string, number>;
}

export interface ResolvedTenantMap {
  shards: Array<{ id: string; backend: Backend | BackendSpec; weight?: number | undefined }>;
  tenants: Map<string, ResolvedTenant>;
}

/**
 * Validates a tenant map and resolves it. Every problem is reported at once,
 * each with where it is and what to fix; nothing is created before this passes.
 */
export function resolveTenantMap(input: unknown): ResolvedTenantMap {
  const parsed = tenantMapSchema.safeParse(input);
  if (!parsed.success) {
    throw new ConfigError(`invalid tenant map: ${parsed.error.issues.map((i) => `${i.path.join('.') || '(root)'}: ${i.message}`).join('; ')}`);
  }
  const map = parsed.data;
  const problems: string[] = [];
  const ids = new Set<string>();
  map.shards.forEach((s, i) => {
    if (ids.has(s.id)) problems.push(`shards.${i}.id: duplicate shard id '${s.id}'`);
    ids.add(s.id);
  });
  const known = () => [...ids].join(', ');
  const tenants = new Map<string, ResolvedTenant>();
  for (const [tenant, cfg] of Object.entries(map.tenants)) {
    const where = `tenants.${tenant}`;
    try {
      checkTenantId(tenant);
    } catch (err) {
      problems.push(`${where}: ${(err as Error).message}`);
      continue;
    }
    if (cfg.shard !== undefined && !ids.has(cfg.shard)) problems.push(`${where}.shard: unknown shard '${cfg.shard}' (known: ${known()})`);
    const resolved: ResolvedTenant = {
      pin: cfg.shard ?? null,
      groupOfQueue: new Map(),
      groups: new Map(),
      weight: cfg.weight ?? 1,
      maxConcurrent: cfg.maxConcurrent ?? null,
      queueCaps: new Map(),
    };
    for (const [queue, q] of Object.entries(cfg.queues ?? {})) {
      try {
        resolved.queueCaps.set(checkName('queue', queue), q.maxConcurrent);
      } catch (err) {
        problems.push(`${where}.queues: ${(err as Error).message}`);
      }
    }
    for (const [group, g] of Object.entries(cfg.queueGroups ?? {})) {
      const gWhere = `${where}.queueGroups.${group}`;
      try {
        checkGroupName(group);
      } catch (err) {
        problems.push(`${gWhere}: ${(err as Error).message}`);
        continue;
      }
      if (g.shard !== undefined && !ids.has(g.shard)) problems.push(`${gWhere}.shard: unknown shard '${g.shard}' (known: ${known()})`);
      resolved.groups.set(group, g.shard ?? null);
      for (const queue of g.queues) {
        try {
          checkName('queue', queue);
        } catch (err) {
          problems.push(`${gWhere}.queues: ${(err as Error).message}`);
          continue;
        }
        const other = resolved.groupOfQueue.get(queue);
        if (other !== undefined) problems.push(`${gWhere}.queues: queue '${queue}' is already in group '${other}'; a queue belongs to one group`);
        else resolved.groupOfQueue.set(queue, group);
      }
    }
    tenants.set(tenant, resolved);
  }
  if (problems.length) throw new ConfigError(`invalid tenant map: ${problems.join('; ')}`);
  return { shards: map.shards, tenants };
}
