// Pause and resume across a fleet: two service processes serve every tenant; a third (this test) pauses.
import test from 'ava';
import { JobClient } from '../../src/processing/job-client.js';
import { createRouter } from '../../src/router/router.js';
import { kill, startChild } from '../helpers/child.js';
import { fleetRouterConfig, type FleetConfig } from '../helpers/fleet-router.js';
import { deleteRedisPrefix, dropSchema, freshPrefix, freshSchema, PG_URL, REDIS_URL } from '../helpers/servers.js';
import { until } from '../helpers/until.js';

interface Start {
  tenant: string;
  queue: string;
  id: string;
  at: number;
  proc: number;
}

test("pause and resume across processes: a paused queue gets no new starts after 1 s in any process, running jobs finish, the tenant's other queues and other tenants keep running, enqueues succeed", async (t) => {
  const schema = freshSchema();
  const prefix = freshPrefix();
  const cfg: FleetConfig = {
    pg: PG_URL,
    redis: REDIS_URL,
    directorySchema: schema,
    shards: [
      { id: 'r', redisPrefix: prefix },
      { id: 'p', pgSchema: schema },
    ],
  };
  const router = await createRouter(fleetRouterConfig(cfg));
  // A paused tenant on each shard (so each backend's pause read is exercised), and a bystander.
  const pick = (shard: string, from: number) => {
    for (let i = from; ; i++) if (router.shardFor(`pause${i}`).shard === shard) return `pause${i}`;
  };
  const paused = [pick('r', 0), pick('p', 0)];
  const bystander = pick('r', Number(paused[0]!.slice(5)) + 1);
  const children: Array<Awaited<ReturnType<typeof startChild>>> = [];
  let producing = true;
  let producer: Promise<void> | undefined;
  try {
    // Each serves queues 'slow' and 'fast' with 8 workers; every run lasts 100 ms.
    for (let i = 0; i < 2; i++) children.push(await startChild('./capped-server.ts', [JSON.stringify(cfg), '5000', '30000'], /ready/, 60_000));
    const starts = (): Start[] =>
      children.flatMap((c, proc) =>
        [...c.output().matchAll(/^start (\S+) (\S+) (\S+) (\d+)$/gm)].map((m) => ({ tenant: m[1]!, queue: m[2]!, id: m[3]!, at: Number(m[4]), proc })),
      );
    const ended = () => new Set(children.flatMap((c) => [...c.output().matchAll(/^end \S+ \S+ (\S+) \d+$/gm)].map((m) => m[1]!)));
    const after = (ms: number, who: string, queue?: string) =>
      starts().filter((s) => s.at > ms && s.tenant === who && (queue === undefined || s.queue === queue));
    producer = (async () => {
      while (producing) {
        for (const who of [...paused, bystander]) for (const q of ['slow', 'fast']) await new JobClient(router.tenant(who)).enqueue('work', [], { queue: q });
        await new Promise((r) => setTimeout(r, 60));
      }
    })();
    await until(
      () => paused.every((tn) => after(0, tn, 'slow').length > 0),
      20_000,
      () => 'both paused tenants run before the pause',
    );

    for (const tn of paused) t.deepEqual(await router.admin.pause({ tenant: tn, queue: 'slow' }), { tenant: false, queues: ['slow'] });
    const pausedAt = Date.now();
    const runningAtPause = starts().filter((s) => s.at <= pausedAt && paused.includes(s.tenant) && s.queue === 'slow' && !ended().has(s.id));
    await new Promise((r) => setTimeout(r, 2_500));
    for (const tn of paused) {
      const late = after(pausedAt + 1_000, tn, 'slow');
      t.is(
        late.length,
        0,
        `${tn}: no start of the paused queue after 1 s, in either process (${late.map((s) => `process ${s.proc} +${s.at - pausedAt} ms`).join(', ')})`,
      );
      // Liveness is awaited, not timed: a loaded machine may start few jobs in 1.5 s.
      await until(
        () => after(pausedAt + 1_000, tn, 'fast').length >= 3,
        10_000,
        () => `${tn}: its other queue keeps running`,
      );
      const info = await router.tenant(tn).monitoring.queues();
      t.is(info.find((q) => q.name === 'slow')?.paused, true, `${tn}: the monitoring API shows the pause`);
      t.true(info.find((q) => q.name === 'slow')!.waiting > 0, `${tn}: enqueues still succeed`);
    }
    await until(
      () => after(pausedAt + 1_000, bystander, 'slow').length >= 3,
      10_000,
      () => "another tenant's queue of the same name keeps running",
    );
    const ends = ended();
    t.deepEqual(
      runningAtPause.filter((s) => !ends.has(s.id)),
      [],
      'jobs running when the pause landed finished',
    );
    const processes = new Set(after(pausedAt + 1_000, paused[0]!, 'fast').map((s) => s.proc));
    t.log(`running at the pause: ${runningAtPause.length}; processes serving after it: ${[...processes].join(', ')}`);

    for (const tn of paused) await router.admin.resume({ tenant: tn, queue: 'slow' });
    const resumedAt = Date.now();
    await until(
      () => paused.every((tn) => after(resumedAt, tn, 'slow').length >= 3),
      10_000,
      () => 'resume brings the queue back',
    );
    t.log(`first start after the resume: ${paused.map((tn) => `${Math.min(...after(resumedAt, tn, 'slow').map((s) => s.at)) - resumedAt} ms`).join(', ')}`);

    // The whole tenant, and a queue with no job yet (a pause may precede its queue).
    await router.admin.pause({ tenant: paused[1]! });
    t.deepEqual(await router.admin.pause({ tenant: paused[1]!, queue: 'later' }), { tenant: true, queues: ['later'] });
    const allAt = Date.now();
    await new Promise((r) => setTimeout(r, 2_500));
    t.is(after(allAt + 1_000, paused[1]!).length, 0, 'no start of any of its queues');
    await until(
      () => after(allAt + 1_000, paused[0]!).length >= 3,
      10_000,
      () => 'another tenant on another shard keeps running',
    );
    t.deepEqual(
      (await router.tenant(paused[1]!).monitoring.queues()).map((q) => [q.name, q.paused]),
      [
        ['fast', true],
        ['later', true],
        ['slow', true],
      ],
    );
    await router.admin.resume({ tenant: paused[1]! });
    t.deepEqual(await router.admin.pauses(paused[1]!), { tenant: false, queues: ['later'] });
    const wholeResumedAt = Date.now();
    await until(
      () => after(wholeResumedAt, paused[1]!).length >= 3,
      10_000,
      () => 'the whole tenant resumes',
    );
  } finally {
    producing = false;
    await producer;
    await Promise.all(children.map((c) => kill(c.child)));
    await router.close();
    await dropSchema(schema);
    await deleteRedisPrefix(prefix);
  }
});
