// The placement directory across processes: a fleet of routers sharing a Postgres directory store.
import test from 'ava';
import type { ChildProcess } from 'node:child_process';
import { JobClient } from '../../src/processing/job-client.js';
import { createRouter, type Router } from '../../src/router/router.js';
import { kill, startChild } from '../helpers/child.js';
import { fleetRouterConfig, type FleetConfig } from '../helpers/fleet-router.js';
import { freshTenant } from '../helpers/mixed-router.js';
import { deleteRedisPrefix, dropSchema, freshPrefix, freshSchema, PG_URL, REDIS_URL } from '../helpers/servers.js';

function fleet() {
  const directorySchema = freshSchema();
  const cSchema = freshSchema();
  const prefixes = [freshPrefix(), freshPrefix()];
  const two: FleetConfig['shards'] = [{ id: 'a', redisPrefix: prefixes[0]! }, { id: 'b', redisPrefix: prefixes[1]! }];
  const three: FleetConfig['shards'] = [...two, { id: 'c', pgSchema: cSchema }];
  const config = (shards: FleetConfig['shards'], more: Partial<FleetConfig> = {}): FleetConfig => ({ pg: PG_URL, redis: REDIS_URL, shards, directorySchema, ...more });
  const cleanup = async () => {
    for (const s of [directorySchema, cSchema]) await dropSchema(s);
    for (const p of prefixes) await deleteRedisPrefix(p);
  };
  return { two, three, config, cleanup };
}

/** The distinct job ids in children's "done <tenant> <id>" lines (their whole output so far). */
function doneIds(outputs: Array<() => string>): Set<string> {
  const ids = new Set<string>();
  for (const out of outputs) for (const m of out().matchAll(/^done \S+ (\S+)$/gm)) ids.add(m[1]!);
  return ids;
}

async function until(cond: () => boolean, ms: number, what: () => string): Promise<void> {
  const deadline = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error(`timed out after ${ms} ms: ${what()}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

test('adding a shard to a running fleet of two router processes: every old and new job is processed by its tenant\'s servers, 0 JobNotFoundError', async (t) => {
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
    t.deepEqual(view.shards.map((s) => [s.id, s.slots]), [['a', 8192], ['b', 8192], ['c', 0]]);
    const second = await Promise.all(tenants.map((tn) => new JobClient(admin!.tenant(tn)).enqueue('work', [], { queue: 'q' })));
    await until(() => done().size >= 400, 60_000, () => `${done().size} of 400 jobs done`);

    const all = [...first, ...second];
    const ran = done();
    t.deepEqual(all.filter((id) => !ran.has(id)), [], 'every job processed');
    let notFound = 0;
    await Promise.all(tenants.map(async (tn, i) => {
      for (const id of [first[i]!, second[i]!]) {
        try {
          t.is((await admin!.tenant(tn).jobs.get(id)).state, 'Succeeded');
        } catch (err) {
          if ((err as { code?: string }).code === 'JOB_NOT_FOUND') notFound++;
          else throw err;
        }
      }
    }));
    t.is(notFound, 0);
    t.false(await admin.shards.get('c')!.backend.hasData('tenant0'), 'nothing was placed on the new shard');
  } finally {
    await Promise.all(children.map(kill));
    await admin?.close();
    await f.cleanup();
  }
});

test('a directory change reaches another process within 1 s by push, and by polling alone with push off (measured)', async (t) => {
  const f = fleet();
  const admin = await createRouter(fleetRouterConfig(f.config(f.three)));
  const watched: string[] = [];
  while (watched.length < 8) {
    const tn = freshTenant();
    if (admin.shardFor(tn).shard === 'a') watched.push(tn);
  }
  const children: ChildProcess[] = [];
  try {
    const pushed = await startChild('./fleet-router.ts', [JSON.stringify(f.config(f.three, { watch: watched, pollMs: 60_000 }))], /ready/, 60_000);
    const polled = await startChild('./fleet-router.ts', [JSON.stringify(f.config(f.three, { watch: watched, push: false, pollMs: 200 }))], /ready/, 60_000);
    children.push(pushed.child, polled.child);
    const seen = new Map<ChildProcess, Map<number, { at: number; shards: string[] }>>();
    for (const c of children) {
      const m = new Map<number, { at: number; shards: string[] }>();
      seen.set(c, m);
      let buf = '';
      c.stdout!.on('data', (d) => {
        buf += d;
        for (const line of buf.split('\n').slice(0, -1)) {
          const x = /^epoch (\d+) ([\d.]+) (\S+)$/.exec(line);
          if (x) m.set(Number(x[1]), { at: Number(x[2]), shards: x[3]!.split(',') });
        }
        buf = buf.slice(buf.lastIndexOf('\n') + 1);
      });
    }
    const delays = new Map<ChildProcess, number[]>(children.map((c) => [c, []]));
    for (const [i, tn] of watched.entries()) {
      // Timed from the start of the pin (its freeze and emptiness checks included): an upper bound.
      const wrote = Date.now();
      const { epoch } = await admin.admin.pin(tn, i % 2 ? 'b' : 'c');
      const deadline = Date.now() + 3_000;
      while (children.some((c) => !seen.get(c)!.has(epoch)) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 5));
      for (const c of children) {
        const got = seen.get(c)!.get(epoch);
        t.truthy(got, `epoch ${epoch} reached ${c === pushed.child ? 'the pushed' : 'the polling'} process`);
        if (!got) continue;
        t.is(got.shards[i], i % 2 ? 'b' : 'c', 'and it routes by it');
        delays.get(c)!.push(got.at - wrote);
      }
    }
    const summary = (xs: number[]) => {
      const s = [...xs].sort((a, b) => a - b);
      return { p50: s[Math.floor(s.length / 2)]!, max: s.at(-1)! };
    };
    const push = summary(delays.get(pushed.child)!);
    const poll = summary(delays.get(polled.child)!);
    t.log(`propagation push p50 ${push.p50.toFixed(1)} ms max ${push.max.toFixed(1)} ms; polling (200 ms) p50 ${poll.p50.toFixed(1)} ms max ${poll.max.toFixed(1)} ms`);
    t.true(push.max < 1_000, `push max ${push.max} ms`);
    t.true(poll.max < 1_000, `poll max ${poll.max} ms`);
  } finally {
    await Promise.all(children.map(kill));
    await admin.close();
    await f.cleanup();
  }
});
