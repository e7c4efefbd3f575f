import { z } from 'zod';
import type { Cluster, ClusterOptions, Redis, RedisOptions } from 'ioredis';

export const redisOptionsSchema = z
  .object({
    /** e.g. `redis://127.0.0.1:6379/1`. Either this, `redis` options, or `client`. */
    url: z.string().min(1).optional(),
    /** ioredis options (host, port, db, password, tls…). */
    redis: z.custom<RedisOptions>((v) => v === undefined || (typeof v === 'object' && v !== null)).optional(),
    /**
     * A Redis Cluster's seed nodes, as `host:port` (e.g. `["10.0.0.1:7000", "10.0.0.2:7000"]`):
     * jobshard opens an ioredis Cluster over them, with `redis` as each node's options. The way to
     * name a Cluster in a JSON config; in code, `client` may also be a Cluster you created.
     */
    cluster: z
      .array(z.string().regex(/^[^\s:]+:\d{1,5}$/, 'must be host:port, e.g. 127.0.0.1:7000'))
      .min(1)
      .optional(),
    /** ioredis Cluster options for `cluster` (e.g. `maxRedirections`, `retryDelayOnTryAgain`: how long a call waits out a slot's migration). */
    clusterOptions: z
      .custom<ClusterOptions>(
        (v) => v === undefined || (typeof v === 'object' && v !== null && !Array.isArray(v)),
        'must be an object of ioredis Cluster options',
      )
      .optional(),
    /** An ioredis client or Cluster you created; jobshard duplicates it for pub/sub and does not close it. */
    client: z.custom<Redis | Cluster>((v) => v === undefined || (typeof v === 'object' && v !== null && 'duplicate' in (v as object))).optional(),
    /**
     * Prefix of every key. Several backends may share one Redis with different
     * prefixes. No braces: the namespace inside `{…}` is the Cluster hash tag.
     */
    prefix: z
      .string()
      .max(100)
      .regex(/^[^{}\s]*$/, 'must not contain braces or spaces')
      .default('jobshard:'),
    /** Fail a call this long after the server stopped answering (no silent hang). Default 2000 ms. */
    connectTimeoutMs: z.number().int().min(1).default(2_000),
    /** Fallback poll between fetch attempts when no pub/sub wake-up arrives. Default 1000 ms. */
    pollIntervalMs: z.number().int().min(1).default(1_000),
    /**
     * How often lapsed jobs leave the state indexes (their keys expire by themselves; the index
     * entries would otherwise wait for a monitoring read). 0 turns the sweeper off. Default 30 s.
     */
    sweepIntervalMs: z.number().int().min(0).default(30_000),
    maxPayloadBytes: z.number().int().min(1).optional(),
  })
  .strict()
  .refine((o) => o.url !== undefined || o.redis !== undefined || o.client !== undefined || o.cluster !== undefined, {
    message: 'give url (e.g. redis://127.0.0.1:6379/0), redis options, cluster seed nodes, or client',
  })
  .refine((o) => [o.url, o.cluster, o.client].filter((x) => x !== undefined).length <= 1, {
    message: 'give only one of url, cluster and client',
  })
  .refine((o) => o.clusterOptions === undefined || o.cluster !== undefined, { message: 'clusterOptions needs cluster (seed nodes)' });

/** Options of `new RedisBackend(options)`: a URL, ioredis options or a client (Redis or Cluster), the key prefix, timeouts (docs/backends.md). */
export type RedisBackendOptions = z.input<typeof redisOptionsSchema>;
export type ResolvedRedisOptions = z.output<typeof redisOptionsSchema>;
