// The tenant map every service of the example loads: the same shards and tenants in each process,
// so they all route identically. Shards come from the command line; none given = the embedded
// default (three in-memory shards, only meaningful inside one process).
import { createRouter, MemoryBackend, PostgresBackend, RedisBackend, type Router, type RouterConfig } from '../../src/index.js';

export const TENANTS = ['acme', 'globex', 'initech', 'umbrella', 'hooli', 'stark', 'wayne', 'megacorp'];
export const JOB_TYPES = [
  { type: 'email.send', queue: 'emails' },
  { type: 'report.build', queue: 'reports' },
  { type: 'webhook.post', queue: 'webhooks' },
] as const;

export interface ShardArgs {
  postgres: string[];
  redis: string[];
  /** Schema / key prefix of this run (so runs never see each other's jobs). */
  namespace: string;
  /** Extra pins from `--pin tenant=shard`: the router validates the shard ids. */
  pins: Record<string, string>;
}

/** Parses `--postgres URL[,URL] --redis URL[,URL] --namespace NAME --pin TENANT=SHARD[,…]`; other flags are kept in `rest`. */
export function parseShardArgs(argv: string[]): ShardArgs & { rest: Map<string, string> } {
  const out: ShardArgs & { rest: Map<string, string> } = { postgres: [], redis: [], namespace: 'demo', pins: {}, rest: new Map() };
  for (let i = 0; i < argv.length; i++) {
    const flag = argv[i]!;
    const value = argv[i + 1];
    if (!flag.startsWith('--') || value === undefined) throw new Error(`expected --flag value pairs, got '${flag}'`);
    i++;
    if (flag === '--postgres') out.postgres.push(...value.split(',').filter(Boolean));
    else if (flag === '--redis') out.redis.push(...value.split(',').filter(Boolean));
    else if (flag === '--namespace') out.namespace = value;
    else if (flag === '--pin') {
      for (const pin of value.split(',').filter(Boolean)) {
        const [tenant, shard, extra] = pin.split('=');
        if (!tenant || !shard || extra !== undefined) throw new Error(`--pin takes tenant=shard, got '${pin}'`);
        out.pins[tenant] = shard;
      }
    } else out.rest.set(flag.slice(2), value);
  }
  return out;
}

export function routerConfig(args: ShardArgs): RouterConfig {
  const shards: RouterConfig['shards'] =
    args.postgres.length + args.redis.length === 0
      ? ['mem-a', 'mem-b', 'mem-c'].map((id) => ({ id, backend: new MemoryBackend() }))
      : [
          ...args.postgres.map((url, i) => ({
            id: `pg-${i + 1}`,
            backend: new PostgresBackend({ connectionString: url, schema: args.namespace.replace(/[^a-z0-9_]/g, '_') }),
          })),
          ...args.redis.map((url, i) => ({ id: `redis-${i + 1}`, backend: new RedisBackend({ url, prefix: `${args.namespace}:` }) })),
        ];
  const ids = shards.map((s) => s.id);
  return {
    shards,
    tenants: {
      acme: { shard: ids[0]! }, // pinned: a big customer on its own shard
      megacorp: { queueGroups: { reporting: { queues: ['reports'], shard: ids[ids.length - 1]! } } }, // split
      ...Object.fromEntries(Object.entries(args.pins).map(([tenant, shard]) => [tenant, { shard }])),
    },
  };
}

export async function openRouter(args: ShardArgs): Promise<Router> {
  const router = await createRouter(routerConfig(args));
  await router.open();
  return router;
}
