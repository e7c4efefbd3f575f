// Tenants moved back and forth between two shards while their jobs flow, then every job counted:
// the body of test/moves/moves-round-trips.test.ts and of `npm run soak:moves` (bench/moves-soak.ts).
import { MemoryBackend } from '../../src/backends/memory/memory-backend.js';
import { JobClient } from '../../src/processing/job-client.js';
import { JobServer, type JobServerOptions } from '../../src/processing/job-server.js';
import { createRouter, type Router, type RouterConfig } from '../../src/router/router.js';
import type { ShardSpec } from '../../src/tenancy/tenant-map.js';
import { freshTenant } from './mixed-router.js';
import { deleteRedisPrefix, dropSchema, freshPrefix, freshSchema, PG_URL, REDIS_URL } from './servers.js';

export interface ChurnOptions {
  /** Two letters, the shards' kinds: p(ostgres), r(edis), m(emory). */
  kinds: string;
  /** Moves made, the tenants in turn. */
  rounds: number;
  tenants?: number;
  /** Each tenant also has a queue group (queue q2), moved on every other of its turns. */
  groups?: boolean;
  /** One JobServer over the router (the many-tenant server) instead of one per tenant. */
  pool?: boolean;
  /** The freeze of move i. */
  freezeMs: (i: number) => number;
  /** The rest after move i. */
  restMs: (i: number) => number;
  /** Each producer's rest between enqueues. */
  produceGapMs: number;
  schedulerIntervalMs: number;
  /** How long the jobs left after the last move may take to finish. */
  settleMs: number;
  /** Each move made or not, as it happens. */
  log?: (line: string) => void;
}

export interface ChurnReport {
  moved: string[];
  /** The error code of each move not made (a rolled-back move is MOVE_ABORTED). */
  notMade: string[];
  enqueued: number;
  distinctIds: number;
  succeeded: number;
  /** Ids handed out that do not resolve to a Succeeded job. */
  notSucceeded: number;
  /** Each job left Enqueued, Processing or Scheduled, with its history and its queues' depths. */
  left: string[];
  /** Jobs whose handler ran more than once (at-least-once allows it). */
  ranTwice: number;
  /** Job outcomes other than succeeded (a skip is a delivery of a job already done). */
  otherOutcomes: string[];
  workerErrors: string[];
  seconds: number;
}

export async function churnMoves(o: ChurnOptions): Promise<ChurnReport> {
  if (!/^[pmr]{2}$/.test(o.kinds)) throw new Error(`kinds must be two of p, r, m; got '${o.kinds}'`);
  const schemas = [freshSchema(), freshSchema(), freshSchema()];
  const prefixes = [freshPrefix(), freshPrefix()];
  const memories = [new MemoryBackend(), new MemoryBackend()];
  const shard = (kind: string, i: number): ShardSpec['backend'] =>
    kind === 'm'
      ? memories[i]!
      : kind === 'p'
        ? { postgres: { connectionString: PG_URL, schema: schemas[i]!, poolSize: 4 } }
        : { redis: { url: REDIS_URL, prefix: prefixes[i]!, pollIntervalMs: 1_000 } };
  const tenants = Array.from({ length: o.tenants ?? 4 }, () => freshTenant());
  const config = (): RouterConfig => ({
    shards: [
      { id: 'a', backend: shard(o.kinds[0]!, 0) },
      { id: 'b', backend: shard(o.kinds[1]!, 1) },
    ],
    ...(o.groups ? { tenants: Object.fromEntries(tenants.map((tn) => [tn, { queueGroups: { big: { queues: ['q2'] } } }])) } : {}),
    // Calls wait out a freeze up to frozenWaitMs, then fail with ShardUnavailableError. Under a full
    // test run a move's pause outlasted the default 2 s once and a producer's enqueue failed; this
    // counts jobs, not pauses, so callers wait out any freeze the moves set.
    directory: { backend: { postgres: { connectionString: PG_URL, schema: schemas[2]!, poolSize: 2 } }, pollMs: 200, frozenWaitMs: 30_000 },
  });
  const routers: Router[] = [];
  const servers: JobServer[] = [];
  try {
    // Workers, producers and the mover each with a router of their own, as separate services would be.
    const [workers, producers, mover] = [await createRouter(config()), await createRouter(config()), await createRouter(config())];
    routers.push(workers!, producers!, mover!);

    const runs = new Map<string, number>();
    const otherOutcomes: string[] = [];
    const workerErrors = new Set<string>();
    let n = 0;
    for (const tenant of o.pool ? [null] : tenants) {
      const options: JobServerOptions = {
        queues: o.groups ? ['q', 'q2'] : ['q'],
        workerCount: o.pool ? 8 : 2,
        invisibilityTimeoutMs: 2_000,
        schedulerIntervalMs: o.schedulerIntervalMs,
        retentionMs: 3_600_000,
        handlers: {
          work: async (_args, ctx) => {
            const tn = ctx.tenant ?? tenant!;
            // A lock now and then, held across moves as the jobs are.
            if (n++ % 10 === 0) {
              const lock = await workers!.tenant(tn).locks.acquire('res', { timeoutMs: 10_000, ttlMs: 2_000 });
              await new Promise((r) => setTimeout(r, 2));
              await lock.release();
            }
            const k = `${tn}/${ctx.jobId}`;
            runs.set(k, (runs.get(k) ?? 0) + 1);
          },
        },
        onJobDone: (e) => {
          if (e.outcome !== 'succeeded') otherOutcomes.push(`${e.tenant ?? tenant}/${e.jobId} ${e.outcome}`);
        },
        onError: (err) => workerErrors.add((err as Error).message.slice(0, 160)),
      };
      const server = tenant === null ? new JobServer(workers!, options) : new JobServer(workers!.tenant(tenant), options);
      await server.start();
      servers.push(server);
    }

    let stop = false;
    const enqueued: Array<[string, string]> = [];
    const producing = tenants.map(async (tenant) => {
      const client = new JobClient(producers!.tenant(tenant));
      while (!stop) {
        enqueued.push([tenant, await client.enqueue('work', [], { queue: o.groups && enqueued.length % 2 ? 'q2' : 'q' })]);
        await new Promise((r) => setTimeout(r, o.produceGapMs));
      }
    });

    const t0 = performance.now();
    const moved: string[] = [];
    const notMade: string[] = [];
    for (let i = 0; i < o.rounds; i++) {
      await mover!.admin.directory();
      const tenant = tenants[i % tenants.length]!;
      const group = o.groups === true && i % 2 === 1;
      const unit = group ? `${tenant}:big` : tenant;
      const where = mover!.shardFor(tenant);
      const to = (group ? where.groups[0]!.shard : where.shard) === 'a' ? 'b' : 'a';
      // A move may be rolled back on a loaded machine (a frozen copy that outlasts a short freeze):
      // the unit stays where it was, with everything, which the counts below cover as well.
      try {
        const r = await mover!.admin.moveUnit(unit, to, { copyShare: 1, freezeMs: o.freezeMs(i) }).done;
        moved.push(`${unit} ${r.from}->${r.to} ${r.jobs} jobs ${r.pauseMs} ms`);
        o.log?.(`move ${i} ${unit} ${r.from} -> ${r.to}: ${r.jobs} jobs, writes paused ${r.pauseMs} ms; ${enqueued.length} enqueued`);
      } catch (err) {
        notMade.push((err as { code?: string }).code ?? String(err));
        o.log?.(`move ${i} ${unit} not made: ${(err as Error).message}`);
      }
      await new Promise((r) => setTimeout(r, o.restMs(i)));
    }
    stop = true;
    await Promise.all(producing);
    const seconds = (performance.now() - t0) / 1000;

    const leftCount = async () => {
      let count = 0;
      for (const tenant of tenants) {
        const c = await mover!.tenant(tenant).monitoring.stateCounts();
        count += (c['Enqueued'] ?? 0) + (c['Processing'] ?? 0) + (c['Scheduled'] ?? 0);
      }
      return count;
    };
    const deadline = Date.now() + o.settleMs;
    while ((await leftCount()) > 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 250));

    let succeeded = 0;
    const left: string[] = [];
    for (const tenant of tenants) {
      const m = mover!.tenant(tenant).monitoring;
      succeeded += (await m.stateCounts())['Succeeded'] ?? 0;
      for (const state of ['Enqueued', 'Processing', 'Scheduled']) {
        for (const job of await m.jobsInState(state, { limit: 5 })) {
          const d = await m.jobDetails(job.id);
          left.push(
            `${job.id}: ${d.history.map((h) => `${h.name}${h.reason ? ` (${h.reason.slice(0, 100)})` : ''}`).join(' > ')}; queues ${JSON.stringify(await m.queues())}`,
          );
        }
      }
    }
    let notSucceeded = 0;
    for (let i = 0; i < enqueued.length; i += 200) {
      await Promise.all(
        enqueued.slice(i, i + 200).map(async ([tenant, id]) => {
          const job = await mover!.tenant(tenant).jobs.get(id);
          if (job.state !== 'Succeeded') notSucceeded++;
        }),
      );
    }
    return {
      moved,
      notMade,
      enqueued: enqueued.length,
      distinctIds: new Set(enqueued.map(([tn, id]) => `${tn}/${id}`)).size,
      succeeded,
      notSucceeded,
      left,
      ranTwice: [...runs.values()].filter((v) => v > 1).length,
      otherOutcomes,
      workerErrors: [...workerErrors],
      seconds,
    };
  } finally {
    await Promise.all(servers.map((s) => s.stop()));
    for (const r of routers) await r.close();
    for (const s of schemas) await dropSchema(s);
    for (const p of prefixes) await deleteRedisPrefix(p);
  }
}
