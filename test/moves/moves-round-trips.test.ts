// Tenants moved back and forth between a Postgres and a Redis shard, again and again, while jobs
// flow through them in one process: what a unit carries from one stay to the next (aliases, id
// counters, tracked changes) must add up. Moving tenants this way under load found three bugs: job
// ids handed out twice after Redis -> Postgres -> Redis, alias hashes too big for Redis's import,
// and a Postgres change lost to the catch-up (a Succeeded job arriving Processing without its entry).
import test from 'ava';
import { JobClient } from '../../src/processing/job-client.js';
import { JobServer } from '../../src/processing/job-server.js';
import { createRouter, type Router, type RouterConfig } from '../../src/router/router.js';
import { isJobshardError } from '../../src/storage/errors.js';
import { freshTenant } from '../helpers/mixed-router.js';
import { deleteRedisPrefix, dropSchema, freshPrefix, freshSchema, PG_URL, REDIS_URL } from '../helpers/servers.js';

const MOVES = 16;
const TENANTS = 4;

test('tenants moved back and forth between Postgres and Redis while jobs flow: every job Succeeded once enqueued, ids distinct and resolving', async (t) => {
  t.timeout(180_000);
  const schema = freshSchema(),
    directorySchema = freshSchema(),
    prefix = freshPrefix();
  const config = (): RouterConfig => ({
    shards: [
      { id: 'p', backend: { postgres: { connectionString: PG_URL, schema, poolSize: 4 } } },
      { id: 'r', backend: { redis: { url: REDIS_URL, prefix, pollIntervalMs: 1_000 } } },
    ],
    directory: { backend: { postgres: { connectionString: PG_URL, schema: directorySchema, poolSize: 2 } }, pollMs: 200 },
  });
  const routers: Router[] = [];
  const servers: JobServer[] = [];
  try {
    // Workers, producers and the mover each with a router of their own, as separate services would be.
    const [workers, producers, mover] = [await createRouter(config()), await createRouter(config()), await createRouter(config())];
    routers.push(workers!, producers!, mover!);
    const tenants = Array.from({ length: TENANTS }, () => freshTenant());
    let n = 0;
    for (const tenant of tenants) {
      const storage = workers!.tenant(tenant);
      const server = new JobServer(storage, {
        queues: ['q'],
        workerCount: 2,
        invisibilityTimeoutMs: 2_000,
        schedulerIntervalMs: 500,
        retentionMs: 3_600_000,
        handlers: {
          work: async () => {
            // A lock now and then, held across moves as the jobs are.
            if (n++ % 10 !== 0) return;
            const lock = await storage.locks.acquire('res', { timeoutMs: 10_000, ttlMs: 2_000 });
            await new Promise((r) => setTimeout(r, 2));
            await lock.release();
          },
        },
        onError: () => {},
      });
      await server.start();
      servers.push(server);
    }
    let stop = false;
    const enqueued: Array<[string, string]> = [];
    const producing = tenants.map(async (tenant) => {
      const client = new JobClient(producers!.tenant(tenant));
      while (!stop) {
        enqueued.push([tenant, await client.enqueue('work', [], { queue: 'q' })]);
        await new Promise((r) => setTimeout(r, 3));
      }
    });
    const moved: string[] = [];
    let rolledBack = 0;
    for (let i = 0; i < MOVES; i++) {
      await mover!.admin.directory();
      const tenant = tenants[i % TENANTS]!;
      const to = mover!.shardFor(tenant).shard === 'p' ? 'r' : 'p';
      // Freezes of 1-3 s: short ones leave little slack at the flip.
      // A move may be rolled back on a loaded machine (a frozen copy that outlasts a short freeze):
      // the unit stays where it was, with everything, which the checks below cover as well.
      try {
        const r = await mover!.admin.moveUnit(tenant, to, { copyShare: 1, freezeMs: 1_000 + ((i * 700) % 2_000) }).done;
        moved.push(`${r.from}->${r.to} ${r.jobs} jobs ${r.pauseMs} ms`);
      } catch (err) {
        if (!isJobshardError(err, 'MOVE_ABORTED')) throw err;
        rolledBack++;
      }
      await new Promise((r) => setTimeout(r, 200));
    }
    stop = true;
    await Promise.all(producing);
    t.log(`${moved.length} moves, ${rolledBack} rolled back (${moved.slice(-4).join(', ')}), ${enqueued.length} jobs`);
    t.true(moved.length >= MOVES / 2, `${moved.length} of ${MOVES} moves done`);

    const left = async () => {
      let n = 0;
      for (const tenant of tenants) {
        const c = await mover!.tenant(tenant).monitoring.stateCounts();
        n += (c['Enqueued'] ?? 0) + (c['Processing'] ?? 0) + (c['Scheduled'] ?? 0);
      }
      return n;
    };
    const deadline = Date.now() + 60_000;
    while ((await left()) > 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 250));
    const stuck: string[] = [];
    for (const tenant of tenants) {
      const m = mover!.tenant(tenant).monitoring;
      for (const state of ['Enqueued', 'Processing', 'Scheduled']) {
        for (const job of await m.jobsInState(state, { limit: 3 })) {
          const d = await m.jobDetails(job.id);
          stuck.push(`${job.id}: ${d.history.map((h) => h.name).join(' > ')}; queues ${JSON.stringify(await m.queues())}`);
        }
      }
    }
    t.deepEqual(stuck, [], 'no job left Enqueued, Processing or Scheduled');
    t.is(new Set(enqueued.map(([tn, id]) => `${tn}/${id}`)).size, enqueued.length, 'no job id handed out twice');
    let notSucceeded = 0;
    for (let i = 0; i < enqueued.length; i += 200) {
      await Promise.all(
        enqueued.slice(i, i + 200).map(async ([tenant, id]) => {
          const job = await mover!.tenant(tenant).jobs.get(id);
          if (job.state !== 'Succeeded') notSucceeded++;
        }),
      );
    }
    t.is(notSucceeded, 0, 'every id handed out resolves to its job, Succeeded');
    let succeeded = 0;
    for (const tenant of tenants) succeeded += (await mover!.tenant(tenant).monitoring.stateCounts())['Succeeded'] ?? 0;
    t.is(succeeded, enqueued.length, 'as many jobs Succeeded as were enqueued');
  } finally {
    await Promise.all(servers.map((s) => s.stop()));
    for (const r of routers) await r.close();
    await dropSchema(schema);
    await dropSchema(directorySchema);
    await deleteRedisPrefix(prefix);
  }
});
