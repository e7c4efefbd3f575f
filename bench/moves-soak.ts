// Moves soak: tenants moved back and forth between two shards again and again while jobs flow
// through them, then every job counted. Run: npm run soak:moves
//   MOVES_SOAK_KINDS   two letters, the shards' kinds: p(ostgres), r(edis), m(emory); default pr
//   MOVES_SOAK_ROUNDS  moves made, tenants in turn (default 30)
//   MOVES_SOAK_GROUPS=1  each tenant also has a queue group (queue q2) moved on its own
//   MOVES_SOAK_POOL=1  one JobServer over the router (the many-tenant server) instead of one per tenant
// Prints every move, then: jobs enqueued and Succeeded, distinct ids, jobs run twice, outcomes other
// than succeeded, and each job left Enqueued, Processing or Scheduled with its history. Exits 1 if a
// job is left, an id was handed out twice, or counts differ. test/moves/moves-round-trips.test.ts
// runs a short form of it in `npm test`.
import { MemoryBackend } from '../src/backends/memory/memory-backend.js';
import { JobClient } from '../src/processing/job-client.js';
import { JobServer } from '../src/processing/job-server.js';
import { createRouter, type RouterConfig } from '../src/router/router.js';
import type { ShardSpec } from '../src/tenancy/tenant-map.js';
import { freshTenant } from '../test/helpers/mixed-router.js';
import { deleteRedisPrefix, dropSchema, freshPrefix, freshSchema, PG_URL, REDIS_URL } from '../test/helpers/servers.js';

const KINDS = process.env['MOVES_SOAK_KINDS'] ?? 'pr';
const ROUNDS = Number(process.env['MOVES_SOAK_ROUNDS'] ?? 30);
const GROUPS = process.env['MOVES_SOAK_GROUPS'] === '1';
const POOL = process.env['MOVES_SOAK_POOL'] === '1';
if (!/^[pmr]{2}$/.test(KINDS)) throw new Error(`MOVES_SOAK_KINDS must be two of p, r, m; got '${KINDS}'`);

const schemas = [freshSchema(), freshSchema(), freshSchema()];
const prefixes = [freshPrefix(), freshPrefix()];
const memories = [new MemoryBackend(), new MemoryBackend()];
const shard = (kind: string, i: number): ShardSpec['backend'] =>
  kind === 'm'
    ? memories[i]!
    : kind === 'p'
      ? { postgres: { connectionString: PG_URL, schema: schemas[i]!, poolSize: 4 } }
      : { redis: { url: REDIS_URL, prefix: prefixes[i]!, pollIntervalMs: 1_000 } };
const tenants = Array.from({ length: 4 }, () => freshTenant());
const config = (): RouterConfig => ({
  shards: [
    { id: 'a', backend: shard(KINDS[0]!, 0) },
    { id: 'b', backend: shard(KINDS[1]!, 1) },
  ],
  ...(GROUPS ? { tenants: Object.fromEntries(tenants.map((tn) => [tn, { queueGroups: { big: { queues: ['q2'] } } }])) } : {}),
  directory: { backend: { postgres: { connectionString: PG_URL, schema: schemas[2]!, poolSize: 2 } }, pollMs: 200 },
});
// Workers, producers and the mover each with a router of their own, as separate services would be.
const workers = await createRouter(config());
const producers = await createRouter(config());
const mover = await createRouter(config());

const runs = new Map<string, number>();
const otherOutcomes: string[] = [];
const errors = new Set<string>();
let n = 0;
const servers: JobServer[] = [];
for (const tenant of POOL ? [null] : tenants) {
  const options = {
    queues: GROUPS ? ['q', 'q2'] : ['q'],
    workerCount: POOL ? 8 : 2,
    invisibilityTimeoutMs: 2_000,
    schedulerIntervalMs: 1_000,
    retentionMs: 3_600_000,
    handlers: {
      work: async (_args: unknown[], ctx: { jobId: string; tenant?: string }) => {
        const tn = ctx.tenant ?? tenant!;
        // A lock now and then, held across moves as the jobs are.
        if (n++ % 10 === 0) {
          const lock = await workers.tenant(tn).locks.acquire('res', { timeoutMs: 10_000, ttlMs: 2_000 });
          await new Promise((r) => setTimeout(r, 2));
          await lock.release();
        }
        const k = `${tn}/${ctx.jobId}`;
        runs.set(k, (runs.get(k) ?? 0) + 1);
      },
    },
    onJobDone: (e: { outcome: string; jobId: string; tenant?: string }) => {
      if (e.outcome !== 'succeeded') otherOutcomes.push(`${e.tenant ?? tenant}/${e.jobId} ${e.outcome}`);
    },
    onError: (err: unknown) => errors.add((err as Error).message.slice(0, 160)),
  };
  const server = tenant === null ? new JobServer(workers, options) : new JobServer(workers.tenant(tenant), options);
  await server.start();
  servers.push(server);
}

let stop = false;
const enqueued: Array<[string, string]> = [];
const producing = tenants.map(async (tenant) => {
  const client = new JobClient(producers.tenant(tenant));
  while (!stop) {
    enqueued.push([tenant, await client.enqueue('work', [], { queue: GROUPS && enqueued.length % 2 ? 'q2' : 'q' })]);
    await new Promise((r) => setTimeout(r, 2));
  }
});

const t0 = performance.now();
for (let i = 0; i < ROUNDS; i++) {
  await mover.admin.directory();
  const tenant = tenants[i % tenants.length]!;
  const group = GROUPS && i % 2 === 1;
  const unit = group ? `${tenant}:big` : tenant;
  const where = mover.shardFor(tenant);
  const to = (group ? where.groups[0]!.shard : where.shard) === 'a' ? 'b' : 'a';
  // Freezes of 1-3 s: short ones leave little slack at the flip.
  const freezeMs = 1_000 + Math.floor(Math.random() * 2_000);
  try {
    const r = await mover.admin.moveUnit(unit, to, { copyShare: 1, freezeMs }).done;
    console.log(`move ${i} ${unit} ${r.from} -> ${r.to}: ${r.jobs} jobs, writes paused ${r.pauseMs} ms; ${enqueued.length} enqueued`);
  } catch (err) {
    console.log(`move ${i} ${unit} not made: ${(err as Error).message}`);
  }
  await new Promise((r) => setTimeout(r, 300 + Math.random() * 700));
}
stop = true;
await Promise.all(producing);

const left = async () => {
  let count = 0;
  for (const tenant of tenants) {
    const c = await mover.tenant(tenant).monitoring.stateCounts();
    count += (c['Enqueued'] ?? 0) + (c['Processing'] ?? 0) + (c['Scheduled'] ?? 0);
  }
  return count;
};
const deadline = Date.now() + 30_000;
while ((await left()) > 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 500));

let succeeded = 0;
const stuck: string[] = [];
for (const tenant of tenants) {
  const m = mover.tenant(tenant).monitoring;
  succeeded += (await m.stateCounts())['Succeeded'] ?? 0;
  for (const state of ['Enqueued', 'Processing', 'Scheduled']) {
    for (const job of await m.jobsInState(state, { limit: 5 })) {
      const d = await m.jobDetails(job.id);
      stuck.push(
        `${job.id}: ${d.history.map((h) => `${h.name}${h.reason ? ` (${h.reason.slice(0, 100)})` : ''}`).join(' > ')}; queues ${JSON.stringify(await m.queues())}`,
      );
    }
  }
}
const distinct = new Set(enqueued.map(([tn, id]) => `${tn}/${id}`)).size;
const twice = [...runs.values()].filter((v) => v > 1).length;
console.log(
  `\n${KINDS}${GROUPS ? ' with queue groups' : ''}${POOL ? ', one server over the router' : ''}: ${ROUNDS} moves in ${((performance.now() - t0) / 1000).toFixed(1)} s; ` +
    `${enqueued.length} jobs enqueued, ${succeeded} Succeeded, ${distinct} distinct ids, ${twice} run twice, ${otherOutcomes.length} other outcomes (${otherOutcomes.slice(0, 3).join(', ') || 'none'})`,
);
for (const s of stuck) console.log(`left: ${s}`);
for (const e of [...errors].slice(0, 5)) console.log(`worker error: ${e}`);

await Promise.all(servers.map((s) => s.stop()));
for (const r of [workers, producers, mover]) await r.close();
for (const s of schemas) await dropSchema(s);
for (const p of prefixes) await deleteRedisPrefix(p);
process.exit(stuck.length > 0 || distinct !== enqueued.length || succeeded !== enqueued.length ? 1 : 0);
