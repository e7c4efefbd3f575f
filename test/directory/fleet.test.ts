// The placement directory across processes: a fleet of routers sharing a Postgres directory store.
import test, { type ExecutionContext } from 'ava';
import { Redis } from 'ioredis';
import pg from 'pg';
import type { ChildProcess } from 'node:child_process';
import { JobClient } from '../../src/processing/job-client.js';
import { createRouter, type Router } from '../../src/router/router.js';
import { kill, startChild } from '../helpers/child.js';
import { fleetRouterConfig, type FleetConfig } from '../helpers/fleet-router.js';
import { freshTenant } from '../helpers/mixed-router.js';
import { adminQuery, deleteRedisPrefix, dropSchema, freshPrefix, freshSchema, PG_URL, REDIS_URL, redisDb } from '../helpers/servers.js';
import { until } from '../helpers/until.js';

/**
 * The fleet's Redis shards and Redis directory store live in their own Redis database: a pin checks
 * that the unit holds no data with a SCAN of its shard's whole keyspace, and the propagation
 * figures count from the pin's start. In db 0, under the full suite's keys, that scan alone took
 * a pin past 1 s.
 */
const FLEET_REDIS = redisDb(9);

function fleet() {
  const directorySchema = freshSchema();
  const cSchema = freshSchema();
  const directoryPrefix = freshPrefix();
  const prefixes = [freshPrefix(), freshPrefix(), directoryPrefix];
  const two: FleetConfig['shards'] = [
    { id: 'a', redisPrefix: prefixes[0]! },
    { id: 'b', redisPrefix: prefixes[1]! },
  ];
  const three: FleetConfig['shards'] = [...two, { id: 'c', pgSchema: cSchema }];
  const config = (shards: FleetConfig['shards'], more: Partial<FleetConfig> = {}): FleetConfig => ({
    pg: PG_URL,
    redis: FLEET_REDIS,
    shards,
    directorySchema,
    ...more,
  });
  const cleanup = async () => {
    for (const s of [directorySchema, cSchema]) await dropSchema(s);
    for (const p of prefixes) await deleteRedisPrefix(p, FLEET_REDIS);
  };
  return { two, three, config, cleanup, directorySchema, directoryPrefix, cSchema };
}

/** The distinct job ids in children's "done <tenant> <id>" lines (their whole output so far). */
function doneIds(outputs: Array<() => string>): Set<string> {
  const ids = new Set<string>();
  for (const out of outputs) for (const m of out().matchAll(/^done \S+ (\S+)$/gm)) ids.add(m[1]!);
  return ids;
}

test("adding a shard to a running fleet of two router processes: every old and new job is processed by its tenant's servers, 0 JobNotFoundError", async (t) => {
  const f = fleet();
  const tenants = Array.from({ length: 200 }, (_, i) => `tenant${i}`);
  const children: ChildProcess[] = [];
  let admin: Router | null = null;
  try {
    // A fleet that has run on two shards: one job per tenant waits.
    const seed = await createRouter(fleetRouterConfig(f.config(f.two)));
    const first = await Promise.all(tenants.map((tn) => new JobClient(seed.tenant(tn)).enqueue('work', [], { queue: 'q' })));
    await seed.close();

    // One process keeps the old config, the other is deployed with shard c appended.
    const old = await startChild('./fleet-router.ts', [JSON.stringify(f.config(f.two, { serve: tenants.slice(0, 100) }))], /ready (\d+)/, 60_000);
    children.push(old.child);
    const grown = await startChild('./fleet-router.ts', [JSON.stringify(f.config(f.three, { serve: tenants.slice(100) }))], /ready (\d+)/, 60_000);
    children.push(grown.child);
    t.is(old.match[1], '1');
    t.is(grown.match[1], '2', 'registering c is a directory change');
    const done = () => doneIds([old.output, grown.output]);

    admin = await createRouter(fleetRouterConfig(f.config(f.three)));
    const view = await admin.admin.directory();
    t.deepEqual(
      view.shards.map((s) => [s.id, s.slots]),
      [
        ['a', 8192],
        ['b', 8192],
        ['c', 0],
      ],
    );
    const second = await Promise.all(tenants.map((tn) => new JobClient(admin!.tenant(tn)).enqueue('work', [], { queue: 'q' })));
    await until(
      () => done().size >= 400,
      60_000,
      () => `${done().size} of 400 jobs done`,
    );

    const all = [...first, ...second];
    const ran = done();
    t.deepEqual(
      all.filter((id) => !ran.has(id)),
      [],
      'every job processed',
    );
    let notFound = 0;
    await Promise.all(
      tenants.map(async (tn, i) => {
        for (const id of [first[i]!, second[i]!]) {
          try {
            // A handler's "done" comes before its outcome's commit, which is off the worker's path.
            let state = (await admin!.tenant(tn).jobs.get(id)).state;
            for (let waited = 0; state === 'Processing' && waited < 10_000; waited += 50) {
              await new Promise((r) => setTimeout(r, 50));
              state = (await admin!.tenant(tn).jobs.get(id)).state;
            }
            t.is(state, 'Succeeded');
          } catch (err) {
            if ((err as { code?: string }).code === 'JOB_NOT_FOUND') notFound++;
            else throw err;
          }
        }
      }),
    );
    t.is(notFound, 0);
    t.false(await admin.shards.get('c')!.backend.hasData('tenant0'), 'nothing was placed on the new shard');
  } finally {
    await Promise.all(children.map(kill));
    await admin?.close();
    await f.cleanup();
  }
});

interface Watcher {
  label: string;
  child: ChildProcess;
}

/** Follows each child's "epoch …" lines: epoch -> when it was adopted and the watched tenants' shards. */
function followEpochs(children: Watcher[]): Map<ChildProcess, Map<number, { at: number; shards: string[] }>> {
  const seen = new Map<ChildProcess, Map<number, { at: number; shards: string[] }>>();
  for (const { child } of children) {
    const m = new Map<number, { at: number; shards: string[] }>();
    seen.set(child, m);
    let buf = '';
    child.stdout!.on('data', (d) => {
      buf += d;
      for (const line of buf.split('\n').slice(0, -1)) {
        const x = /^epoch (\d+) ([\d.]+) (\S+)$/.exec(line);
        if (x) m.set(Number(x[1]), { at: Number(x[2]), shards: x[3]!.split(',') });
      }
      buf = buf.slice(buf.lastIndexOf('\n') + 1);
    });
  }
  return seen;
}

/** Eight tenants on shard a that the children watch. */
function watchedTenants(admin: Router): string[] {
  const watched: string[] = [];
  while (watched.length < 8) {
    const tn = freshTenant();
    if (admin.shardFor(tn).shard === 'a') watched.push(tn);
  }
  return watched;
}

/**
 * Pins each watched tenant elsewhere, one change at a time, and measures how long each change
 * takes to reach each child: from the write of its epoch (the record's writtenAt), which is what
 * "within 1 s" is about, and from the start of the pin (its freeze and emptiness checks included).
 * Asserts that every change reached every child, which routes by it.
 */
async function propagation(
  t: ExecutionContext,
  admin: Router,
  watched: string[],
  children: Watcher[],
): Promise<Map<string, { p50: number; max: number; maxFromStart: number }>> {
  const seen = followEpochs(children);
  const delays = new Map<ChildProcess, number[]>(children.map((c) => [c.child, []]));
  const fromStart = new Map<ChildProcess, number[]>(children.map((c) => [c.child, []]));
  for (const [i, tn] of watched.entries()) {
    const started = Date.now();
    const { epoch, writtenAt } = await admin.admin.pin(tn, i % 2 ? 'b' : 'c');
    const deadline = Date.now() + 3_000;
    while (children.some((c) => !seen.get(c.child)!.has(epoch)) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 5));
    for (const c of children) {
      const got = seen.get(c.child)!.get(epoch);
      t.truthy(got, `epoch ${epoch} reached the ${c.label} process`);
      if (!got) continue;
      t.is(got.shards[i], i % 2 ? 'b' : 'c', 'and it routes by it');
      delays.get(c.child)!.push(got.at - writtenAt);
      fromStart.get(c.child)!.push(got.at - started);
    }
  }
  const out = new Map<string, { p50: number; max: number; maxFromStart: number }>();
  for (const c of children) {
    const s = [...delays.get(c.child)!].sort((a, b) => a - b);
    out.set(c.label, { p50: s[Math.floor(s.length / 2)] ?? NaN, max: s.at(-1) ?? NaN, maxFromStart: Math.max(...fromStart.get(c.child)!) });
  }
  return out;
}

test('a directory change reaches another process within 1 s by push, and by polling alone with push off (measured)', async (t) => {
  const f = fleet();
  const admin = await createRouter(fleetRouterConfig(f.config(f.three)));
  const watched = watchedTenants(admin);
  const children: ChildProcess[] = [];
  try {
    const pushed = await startChild('./fleet-router.ts', [JSON.stringify(f.config(f.three, { watch: watched, pollMs: 60_000 }))], /ready/, 60_000);
    const polled = await startChild('./fleet-router.ts', [JSON.stringify(f.config(f.three, { watch: watched, push: false, pollMs: 200 }))], /ready/, 60_000);
    children.push(pushed.child, polled.child);
    const d = await propagation(t, admin, watched, [
      { label: 'pushed', child: pushed.child },
      { label: 'polling', child: polled.child },
    ]);
    const push = d.get('pushed')!;
    const poll = d.get('polling')!;
    t.log(
      `propagation from the write: push p50 ${push.p50.toFixed(1)} ms max ${push.max.toFixed(1)} ms; polling (200 ms) p50 ${poll.p50.toFixed(1)} ms max ${poll.max.toFixed(1)} ms` +
        ` (from the start of the pin: max ${push.maxFromStart.toFixed(1)} / ${poll.maxFromStart.toFixed(1)} ms)`,
    );
    t.true(push.max < 1_000, `push max ${push.max} ms`);
    t.true(poll.max < 1_000, `poll max ${poll.max} ms`);
  } finally {
    await Promise.all(children.map(kill));
    await admin.close();
    await f.cleanup();
  }
});

/** Terminates the directory store's push connections (LISTEN / SUBSCRIBE) of every router on it; how many. */
async function killPushConnections(store: 'postgres' | 'redis', schema: string, connectionName: string, redis: Redis): Promise<number> {
  if (store === 'postgres') {
    // Materialized first: in a plain WHERE the planner may call pg_terminate_backend before the name test, on every backend.
    const rows = await adminQuery<{ n: number }>(
      `WITH listeners AS MATERIALIZED (SELECT pid FROM pg_stat_activity WHERE application_name = $1)
       SELECT count(*) FILTER (WHERE pg_terminate_backend(pid))::int AS n FROM listeners`,
      [`jobshard-listener:${schema}`],
    );
    return rows[0]!.n;
  }
  const list = (await redis.client('LIST')) as string;
  let n = 0;
  for (const line of list.split('\n')) {
    const f = Object.fromEntries(line.split(' ').map((kv) => kv.split('=') as [string, string]));
    // Subscribers only: the store's other connections keep working, so polling can read.
    if (f['name'] === connectionName && Number(f['sub'] ?? 0) + Number(f['psub'] ?? 0) > 0) n += Number(await redis.client('KILL', 'ID', f['id']!));
  }
  return n;
}

for (const store of ['postgres', 'redis'] as const) {
  test(`with its push channel killed (the ${store} store's LISTEN / SUBSCRIBE connections terminated every 50 ms), polling alone carries every change to another process within 1 s`, async (t) => {
    const f = fleet();
    const connectionName = `jobshard-fleet-${f.directoryPrefix.slice(7, 19)}`;
    const more = store === 'redis' ? { directoryRedisPrefix: f.directoryPrefix, directoryConnectionName: connectionName } : {};
    const admin = await createRouter(fleetRouterConfig(f.config(f.three, more)));
    const watched = watchedTenants(admin);
    const redis = new Redis(REDIS_URL);
    let killed = 0;
    let killing = true;
    let killer: Promise<void> = Promise.resolve();
    const children: ChildProcess[] = [];
    try {
      const child = await startChild(
        './fleet-router.ts',
        [JSON.stringify(f.config(f.three, { ...more, watch: watched, push: true, pollMs: 200 }))],
        /ready/,
        60_000,
      );
      children.push(child.child);
      killer = (async () => {
        while (killing) {
          killed += await killPushConnections(store, f.directorySchema, connectionName, redis);
          await new Promise((r) => setTimeout(r, 50));
        }
      })();
      // The child's push connection was up, and is now down: only then do the changes start.
      await until(
        () => killed >= 2,
        10_000,
        () => `${killed} push connections killed`,
      );
      const d = (await propagation(t, admin, watched, [{ label: 'push-killed', child: child.child }])).get('push-killed')!;
      t.log(
        `${store} store, push connections killed ${killed} times: propagation from the write p50 ${d.p50.toFixed(1)} ms max ${d.max.toFixed(1)} ms, from the start of the pin max ${d.maxFromStart.toFixed(1)} ms (polling every 200 ms)`,
      );
      t.true(d.max < 1_000, `max ${d.max} ms after the change was written`);
    } finally {
      killing = false;
      await killer;
      redis.disconnect();
      await Promise.all(children.map(kill));
      await admin.close();
      await f.cleanup();
    }
  });
}

test('a router SIGKILLed in the middle of a flip (directory written, shard markers not yet set): another router finishes it once the directory lock lapses, and no write lands on the old shard', async (t) => {
  const f = fleet();
  const admin = await createRouter(fleetRouterConfig(f.config(f.three)));
  // Stale on purpose: it routes by the epoch before the pin until a shard tells it otherwise.
  const stale = await createRouter({
    ...fleetRouterConfig(f.config(f.three)),
    directory: { ...fleetRouterConfig(f.config(f.three)).directory, push: false, pollMs: 0 },
  });
  const [tn] = watchedTenants(admin);
  // A writer's transaction on the unit in the target's schema (c, Postgres): the pin's step that
  // clears the target's marker waits for it, so the pinning process is held inside its flip.
  const blocker = new pg.Client({ connectionString: PG_URL });
  await blocker.connect();
  const children: ChildProcess[] = [];
  try {
    await blocker.query('BEGIN');
    await blocker.query("SELECT pg_advisory_xact_lock_shared(hashtext('jobshard-own:' || $1), hashtext($2))", [f.cSchema, tn]);
    const pinner = await startChild('./fleet-router.ts', [JSON.stringify(f.config(f.three, { pin: [tn!, 'c'] }))], /ready/, 60_000);
    children.push(pinner.child);
    const store = admin.directory.store;
    const deadline = Date.now() + 10_000;
    let record = await store.read();
    while (record!.flips.length === 0 && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 10));
      record = await store.read();
    }
    t.deepEqual(
      record!.flips.map((x) => [x.unit, x.from, x.to]),
      [[tn, 'a', 'c']],
      'the pinner wrote the flip',
    );
    await new Promise((r) => setTimeout(r, 100));
    t.notRegex(pinner.output(), /pinned/, 'and is still inside it');
    await kill(pinner.child);
    await blocker.query('COMMIT');
    const a = admin.shards.get('a')!.backend;
    const c = admin.shards.get('c')!.backend;
    t.is((await a.ownership(tn!)).state, 'frozen', 'the old shard is frozen, the marker of the move not set');

    // The dead writer's directory lock lapses (10 s lease); a router then finishes the flip.
    const killedAt = Date.now();
    const finishBy = Date.now() + 20_000;
    // Finished: the old shard's marker set, then the record written without the flip (in that order).
    while (((await a.ownership(tn!)).state !== 'moved' || (await store.read())!.flips.length > 0) && Date.now() < finishBy)
      await new Promise((r) => setTimeout(r, 50));
    const own = await a.ownership(tn!);
    t.is(own.state, 'moved');
    t.is((own as { to?: string }).to, 'c');
    t.deepEqual((await store.read())!.flips, [], 'the flip is finished and cleared');
    t.log(`flip finished ${Date.now() - killedAt} ms after the writer was killed`);

    // The stale router still routes by the old epoch: its writes meet `moved` and land on c.
    t.is(stale.shardFor(tn!).shard, 'a');
    const id = await new JobClient(stale.tenant(tn!)).enqueue('work', [], { queue: 'q' });
    t.is(stale.shardFor(tn!).shard, 'c');
    t.false(await a.hasData(tn!), 'nothing on the old shard');
    t.true(await c.hasData(tn!));
    t.is((await admin.tenant(tn!).jobs.get(id)).state, 'Enqueued');
  } finally {
    await blocker.end().catch(() => {});
    await Promise.all(children.map(kill));
    await stale.close();
    await admin.close();
    await f.cleanup();
  }
});
