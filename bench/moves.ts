// Online move benchmark. Run: npm run bench:moves   (MOVES_JOBS=20000 for a quicker run)
// For each direction (Redis→Redis, Postgres→Postgres, Postgres→Redis): a unit of MOVES_JOBS enqueued
// jobs is moved while other tenants on the same two shards enqueue, fetch and ack in a loop. The
// move runs as an operator runs it, `jobshard placement move` in its own process (MOVES_IN_PROCESS=1:
// admin.moveUnit in this one; MOVES_NICE=19: under nice). Reports the copy rate (jobs/s over the
// whole move), the unit's write pause (freeze to flip), and the other tenants' throughput during
// the move as a ratio to the windows before and after, in all and by the shard they are on.
import { spawn } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createRouter, type Router, type RouterConfig } from '../src/router/router.js';
import type { BackendSpec } from '../src/tenancy/tenant-map.js';
import { deleteRedisPrefix, dropSchema, freshPrefix, freshSchema, PG_URL, REDIS_URL } from '../test/helpers/servers.js';

const JOBS = Number(process.env['MOVES_JOBS'] ?? 100_000);
const IN_PROCESS = process.env['MOVES_IN_PROCESS'] === '1';
/** The copy's pace (MoveOptions.copyShare); unset = the default. */
const SHARE = process.env['MOVES_COPY_SHARE'];
/** MOVES_NICE=19 runs the mover under `nice -n 19`, as docs/placement.md advises where it shares a machine with workers. */
const NICE = process.env['MOVES_NICE'];
const BIN = fileURLToPath(new URL('../bin/jobshard.js', import.meta.url));
const WINDOW_MS = 3_000;
const OTHERS = 4;

function tenantOn(router: Router, shard: string, prefix: string): string {
  for (let i = 0; ; i++) if (router.shardFor(`${prefix}${i}`).shard === shard) return `${prefix}${i}`;
}

async function fill(router: Router, tenant: string, n: number): Promise<void> {
  const s = router.tenant(tenant);
  let next = 0;
  // 64 concurrent creators: the backends batch them into a few statements or scripts.
  await Promise.all(
    Array.from({ length: 64 }, async () => {
      while (next < n) {
        next++;
        await s.jobs.create({
          type: 'bench.job',
          args: [next, 'payload'],
          queue: 'q',
          parameters: { origin: 'bench' },
          state: { name: 'Enqueued' },
          enqueue: true,
        });
      }
    }),
  );
}

/**
 * Other tenants' enqueue+fetch+ack loop; `take` reads (and resets) the round trips done, in all
 * and by the first half of the tenants (those on the source shard).
 */
function background(router: Router, tenants: string[]): { take: () => { all: number; source: number }; stop: () => Promise<void> } {
  let done = 0;
  let onSource = 0;
  let stopped = false;
  const loops = tenants.map(async (tn, i) => {
    const s = router.tenant(tn);
    while (!stopped) {
      await s.jobs.create({ type: 'other', args: [], queue: 'o', state: { name: 'Enqueued' }, enqueue: true });
      const f = await s.queues.tryFetch(['o']);
      await f?.ack();
      done++;
      if (i < tenants.length / 2) onSource++;
    }
  });
  return {
    take: () => {
      const d = { all: done, source: onSource };
      done = 0;
      onSource = 0;
      return d;
    },
    stop: async () => {
      stopped = true;
      await Promise.all(loops);
    },
  };
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const rate = (n: { all: number; source: number }, ms: number) => ({
  all: n.all / (ms / 1000),
  source: n.source / (ms / 1000),
  target: (n.all - n.source) / (ms / 1000),
});
const ratio = (during: number, before: number, after: number) => (during / ((before + after) / 2)).toFixed(2);

const cleanups: Array<() => Promise<unknown>> = [];
function pg(): BackendSpec {
  const schema = freshSchema();
  cleanups.push(() => dropSchema(schema));
  return { postgres: { connectionString: PG_URL, schema, poolSize: 8 } };
}
function redis(): BackendSpec {
  const prefix = freshPrefix();
  cleanups.push(() => deleteRedisPrefix(prefix));
  return { redis: { url: REDIS_URL, prefix } };
}

/** `jobshard placement move` in its own process; the pause it reports. */
function cliMove(config: string, unit: string, onStart: () => void): Promise<number> {
  return new Promise((resolve, reject) => {
    const move = [process.execPath, BIN, 'placement', 'move', unit, 'to', '--config', config, ...(SHARE ? ['--copy-share', SHARE] : [])];
    const [command, ...args] = NICE ? ['nice', '-n', NICE, ...move] : move;
    const child = spawn(command!, args, { stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    child.stdout.on('data', (d) => {
      // The window starts at the move's first line, not at the process start-up before it.
      if (out === '') onStart();
      out += d;
    });
    child.on('exit', (code) => {
      const m = /writes paused (\d+) ms/.exec(out);
      if (code === 0 && m) resolve(Number(m[1]));
      else reject(new Error(`move exited ${code}: ${out}`));
    });
  });
}
const dir = await mkdtemp(join(tmpdir(), 'jobshard-bench-moves-'));
cleanups.push(() => rm(dir, { recursive: true, force: true }));

console.log(
  `\nMoving a unit of ${JOBS.toLocaleString('en')} enqueued jobs (${IN_PROCESS ? 'admin.moveUnit in this process' : 'jobshard placement move in its own process'}, copyShare ${SHARE ?? 'default 0.5'}${NICE ? `, nice ${NICE}` : ''}) while ${OTHERS} other tenants enqueue+fetch+ack on the same shards`,
);
console.log('direction            move s   jobs/s   pause ms   others during / before+after (ops/s); the same for those on the source and on the target shard');
try {
  for (const [name, make] of [
    ['redis → redis', [redis, redis]],
    ['postgres → postgres', [pg, pg]],
    ['postgres → redis', [pg, redis]],
  ] as const) {
    const [from, to] = [make[0](), make[1]()];
    const config: RouterConfig = {
      shards: [
        { id: 'from', backend: from },
        { id: 'to', backend: to },
      ],
      directory: { backend: pg(), pollMs: 200 },
    };
    const file = join(dir, `${name.replace(/\W+/g, '-')}.json`);
    await writeFile(file, JSON.stringify(config));
    const router = await createRouter(config);
    const unit = tenantOn(router, 'from', 'big');
    await fill(router, unit, JOBS);
    const others = [
      ...Array.from({ length: OTHERS / 2 }, (_, i) => tenantOn(router, 'from', `o${i}-`)),
      ...Array.from({ length: OTHERS / 2 }, (_, i) => tenantOn(router, 'to', `p${i}-`)),
    ];
    const bg = background(router, others);
    await sleep(500);
    bg.take();
    await sleep(WINDOW_MS);
    const before = rate(bg.take(), WINDOW_MS);
    let t0 = performance.now();
    const pauseMs = IN_PROCESS
      ? (await router.admin.moveUnit(unit, 'to', { freezeMs: 30_000, ...(SHARE ? { copyShare: Number(SHARE) } : {}) }).done).pauseMs
      : await cliMove(file, unit, () => {
          bg.take();
          t0 = performance.now();
        });
    const moveMs = performance.now() - t0;
    await router.admin.directory(); // route by the new epoch at once
    const during = rate(bg.take(), moveMs);
    await sleep(WINDOW_MS);
    const after = rate(bg.take(), WINDOW_MS);
    await bg.stop();
    const check = (await router.tenant(unit).monitoring.stateCounts())['Enqueued'];
    if (check !== JOBS) throw new Error(`after the move the unit holds ${check} enqueued jobs, not ${JOBS}`);
    console.log(
      `${name.padEnd(20)} ${(moveMs / 1000).toFixed(1).padStart(6)} ${Math.round(JOBS / (moveMs / 1000))
        .toLocaleString('en')
        .padStart(
          8,
        )} ${String(pauseMs).padStart(10)}   ${ratio(during.all, before.all, after.all)} (${Math.round(during.all)} / ${Math.round(before.all)}, ${Math.round(after.all)}); on the source ${ratio(during.source, before.source, after.source)}, on the target ${ratio(during.target, before.target, after.target)}`,
    );
    await router.close();
  }
} finally {
  for (const c of cleanups) await c().catch(() => {});
}
