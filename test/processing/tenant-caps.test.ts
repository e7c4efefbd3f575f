// Fleet-wide concurrency caps: three processes, one tenant capped at 3 (and its 'slow' queue at 1).
import test from 'ava';
import type { ChildProcess } from 'node:child_process';
import { JobClient } from '../../src/processing/job-client.js';
import { createRouter } from '../../src/router/router.js';
import { kill, startChild } from '../helpers/child.js';
import { fleetRouterConfig, type FleetConfig } from '../helpers/fleet-router.js';
import { deleteRedisPrefix, dropSchema, freshPrefix, freshSchema, PG_URL, REDIS_URL } from '../helpers/servers.js';

interface Run {
  tenant: string;
  queue: string;
  id: string;
  start: number;
  end: number | null;
  proc: number;
}

/** The most runs of `filter` that overlap at one instant (a run ends before one starting at the same ms). */
function maxOverlap(runs: Run[], until: number): number {
  const events = runs.flatMap((r) => [[r.start, 1] as const, [r.end ?? until, -1] as const]).sort((a, b) => a[0] - b[0] || a[1] - b[1]);
  let now = 0;
  let max = 0;
  for (const [, d] of events) max = Math.max(max, (now += d));
  return max;
}

test("caps hold across three processes (tenant 3, its slow queue 1), and a SIGKILLed process's slots come back after their lease", async (t) => {
  const schema = freshSchema();
  const prefixes = [freshPrefix(), freshPrefix()];
  const cfg: FleetConfig = {
    pg: PG_URL,
    redis: REDIS_URL,
    directorySchema: schema,
    shards: [
      { id: 'r', redisPrefix: prefixes[0]! },
      { id: 'p', pgSchema: schema },
    ],
    tenants: { capped: { maxConcurrent: 3, queues: { slow: { maxConcurrent: 1 } } }, free: {} },
  };
  const LEASE = 2_000;
  const router = await createRouter(fleetRouterConfig(cfg));
  const children: Array<{ child: ChildProcess; output: () => string }> = [];
  try {
    for (let i = 0; i < 3; i++) children.push(await startChild('./capped-server.ts', [JSON.stringify(cfg), String(LEASE), '3000'], /ready/, 60_000));
    // Enough for about 5 s at the cap, enqueued once every process serves.
    for (const [tn, n] of [
      ['capped', 150],
      ['free', 60],
    ] as const) {
      const c = new JobClient(router.tenant(tn));
      await Promise.all(Array.from({ length: n }, (_, i) => c.enqueue('work', [], { queue: i % 5 === 0 ? 'slow' : 'fast' })));
    }
    const runs = (): Run[] => {
      const out: Run[] = [];
      children.forEach((c, proc) => {
        const open = new Map<string, Run>();
        for (const m of c.output().matchAll(/^(start|end) (\S+) (\S+) (\S+) (\d+)$/gm)) {
          if (m[1] === 'start') {
            const r: Run = { tenant: m[2]!, queue: m[3]!, id: m[4]!, start: Number(m[5]), end: null, proc };
            open.set(r.id, r);
            out.push(r);
          } else {
            const r = open.get(m[4]!);
            if (r) r.end = Number(m[5]);
          }
        }
      });
      return out;
    };
    // Let the capped tenant fill its slots, then kill the process that runs the most of its jobs.
    // Chosen at a moment it runs one at least: between two jobs every process may run none (a
    // .ci/run once killed one that held no slot, and the test had nothing to check).
    await new Promise((r) => setTimeout(r, 1_500));
    let victim = 0;
    for (const chooseBy = Date.now() + 5_000; Date.now() < chooseBy; await new Promise((r) => setTimeout(r, 20))) {
      const running = runs().filter((r) => r.tenant === 'capped' && r.end === null);
      victim = [0, 1, 2].sort((a, b) => running.filter((r) => r.proc === b).length - running.filter((r) => r.proc === a).length)[0]!;
      if (running.some((r) => r.proc === victim)) break;
    }
    const killedAt = Date.now();
    await kill(children[victim]!.child);
    // What it held: its runs with no end in its whole output, read once the pipe has drained (a line
    // not yet read when it was chosen may say a run had ended, and its slot was free).
    await new Promise((r) => setTimeout(r, 300));
    const held = runs().filter((r) => r.proc === victim && r.tenant === 'capped' && r.end === null).length;
    const done = () =>
      new Set(
        runs()
          .filter((r) => r.end !== null)
          .map((r) => `${r.tenant} ${r.id}`),
      ).size;
    const deadline = Date.now() + 60_000;
    while (done() < 210 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
    const all = runs().map((r) => (r.proc === victim && r.end === null ? { ...r, end: killedAt } : r));
    const capped = all.filter((r) => r.tenant === 'capped');
    const maxAll = maxOverlap(capped, Date.now());
    const maxSlow = maxOverlap(
      capped.filter((r) => r.queue === 'slow'),
      Date.now(),
    );
    // While the dead process's slots are still leased, the others run at most 3 - held at once.
    const survivors = capped.filter((r) => r.proc !== victim);
    const inLease = maxOverlap(
      survivors
        .map((r) => ({ ...r, start: Math.max(r.start, killedAt + 50), end: Math.min(r.end ?? Date.now(), killedAt + LEASE - 300) }))
        .filter((r) => r.start < r.end!),
      Date.now(),
    );
    const afterLease = maxOverlap(
      survivors.filter((r) => r.start > killedAt + LEASE + 500),
      Date.now(),
    );
    const free = maxOverlap(
      all.filter((r) => r.tenant === 'free'),
      Date.now(),
    );
    t.log(
      `capped tenant: max ${maxAll} at once (slow queue ${maxSlow}); victim held ${held}; survivors during its lease ${inLease}, after ${afterLease}; uncapped tenant max ${free}; jobs done ${done()}`,
    );
    t.is(done(), 210, 'every job ran');
    t.true(maxAll <= 3, `tenant cap: ${maxAll}`);
    t.true(maxSlow <= 1, `queue cap: ${maxSlow}`);
    // It held slots: runs with no end, or (a run that printed its end just before the kill, its
    // slot's release not yet written) survivors kept under the cap while the lease lasted.
    t.true(held > 0 || inLease < 3, 'the killed process held slots');
    t.true(inLease <= 3 - held, `while its slots were leased: ${inLease}`);
    t.is(afterLease, 3, 'its slots came back');
    t.true(free > 3, 'a tenant without a cap is not held to one');
  } finally {
    await Promise.all(children.map((c) => kill(c.child)));
    await router.close();
    await dropSchema(schema);
    for (const p of prefixes) await deleteRedisPrefix(p);
  }
});

test('caps in the tenant map: whole numbers above 0, or ConfigError', async (t) => {
  const shards = [{ id: 'm', backend: { memory: {} } }];
  for (const bad of [
    { maxConcurrent: 0 },
    { maxConcurrent: 1.5 },
    { queues: { q: { maxConcurrent: -1 } } },
    { queues: { 'bad queue\n': { maxConcurrent: 1 } } },
  ]) {
    const err = await t.throwsAsync(createRouter({ shards, tenants: { a: bad as never } }));
    t.is((err as { code?: string }).code, 'CONFIG_INVALID', JSON.stringify(bad));
  }
});

test('docs/many-tenants.md: its tenant map snippet is valid and means what the page says', async (t) => {
  const { readFile } = await import('node:fs/promises');
  const { resolveTenantMap } = await import('../../src/tenancy/tenant-map.js');
  const page = await readFile(new URL('../../docs/many-tenants.md', import.meta.url), 'utf8');
  const json = JSON.parse(page.match(/```json\n([\s\S]*?)```/)![1]!) as { tenants: Record<string, unknown> };
  const map = resolveTenantMap({ shards: [{ id: 'm', backend: { memory: {} } }], ...json });
  const acme = map.tenants.get('acme')!;
  t.is(acme.weight, 3);
  t.is(acme.maxConcurrent, 20);
  t.is(acme.queueCaps.get('reports'), 2);
});
