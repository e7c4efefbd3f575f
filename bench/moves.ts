// Online move benchmark. Run: npm run bench:moves   (MOVES_JOBS=20000 for a quicker run)
// For each direction (Redis→Redis, Postgres→Postgres, Postgres→Redis): a unit of MOVES_JOBS enqueued
// jobs is moved while other tenants on the same two shards enqueue, fetch and ack in a loop. The
// move runs as an operator runs it, `jobshard placement move` in its own process (MOVES_IN_PROCESS=1:
// admin.moveUnit in this one; MOVES_NICE=n: its --copy-nice). Reports the copy rate (jobs/s over the
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
import { median } from './lib/median.js';

const JOBS = Number(process.env['MOVES_JOBS'] ?? 100_000);
const IN_PROCESS = process.env['MOVES_IN_PROCESS'] === '1';
/** The copy's pace (MoveOptions.copyShare); unset = the default. */
const SHARE = process.env['MOVES_COPY_SHARE'];
/** The copy's cap in items a second (MoveOptions.copyRate; an enqueued job is two); unset = none. */
const RATE = process.env['MOVES_COPY_RATE'];
/** The mover's `--copy-nice` (MOVES_NICE=19: its copy on spare CPU only); unset = the command's default, 0. */
const NICE = process.env['MOVES_NICE'];
const BIN = fileURLToPath(new URL('../bin/jobshard.js', import.meta.url));
const WINDOW_MS = 3_000;
/** MOVES_ONLY=redis-redis,postgres-redis runs only those directions. */
const ONLY = process.env['MOVES_ONLY']?.split(',');
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
function background(
  router: Router,
  tenants: string[],
): { take: () => { all: number; source: number }; total: () => { all: number; source: number }; stop: () => Promise<void> } {
  let done = 0;
  let total = 0;
  let totalSource = 0;
  let onSource = 0;
  let stopped = false;
  const loops = tenants.map(async (tn, i) => {
    const s = router.tenant(tn);
    while (!stopped) {
      await s.jobs.create({ type: 'other', args: [], queue: 'o', state: { name: 'Enqueued' }, enqueue: true });
      const f = await s.queues.tryFetch(['o']);
      await f?.ack();
      done++;
      total++;
      if (i < tenants.length / 2) {
        onSource++;
        totalSource++;
      }
    }
  });
  return {
    take: () => {
      const d = { all: done, source: onSource };
      done = 0;
      onSource = 0;
      return d;
    },
    total: () => ({ all: total, source: totalSource }),
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

/**
 * MOVES_ALTERNATE_MS (default 1000; 0 turns it off): while the mover copies its snapshot, it is
 * stopped (SIGSTOP) and continued in turn, windows of about this length, and the other tenants'
 * rate is compared window by window, moving against stopped. Before/after windows drift with this
 * shared machine by more than the effect; adjacent windows of one run do not. The mover is stopped
 * just after it reports a batch copied, so in its rest: stopped in a batch, it would count the stop
 * as the batch's work and rest the longer after it, and the next running window would copy little.
 * Windows run through the snapshot's first 90% of items: its jobs first, then their queue entries
 * (an export lists a unit's jobs before its queues), reported apart, since an entry costs the
 * shards less to copy than a job. A stop never lands in the freeze: it is issued after a snapshot
 * batch, and the catch-up rounds come between the snapshot and the freeze.
 * Both windows fall within the move, so what tracking the unit's changes costs the others for the
 * whole move (on a Postgres source, the row triggers) is in neither: bench/pg-tracking.ts measures it.
 */
const ALTERNATE_MS = Number(process.env['MOVES_ALTERNATE_MS'] ?? 1_000);

/** One window: the others' round trips a ms, in all and by shard, and what the mover copied meanwhile. */
interface Window {
  rate: number;
  source: number;
  target: number;
  jobsPerSec: number;
  itemsPerSec: number;
}

interface CliMove {
  pauseMs: number;
  /** The time the mover was stopped, to leave out of its copy rate. */
  stoppedMs: number;
  /** Per pair of windows: the one with the mover running, and the one with it stopped after it. */
  pairs: Array<{ running: Window; stopped: Window }>;
}

/** `jobshard placement move` in its own process; the pause it reports, and the alternated windows. */
function cliMove(config: string, unit: string, onStart: () => void, others: () => { all: number; source: number }): Promise<CliMove> {
  return new Promise((resolve, reject) => {
    const args = [
      BIN,
      'placement',
      'move',
      unit,
      'to',
      '--config',
      config,
      ...(SHARE ? ['--copy-share', SHARE] : []),
      ...(NICE ? ['--copy-nice', NICE] : []),
      ...(RATE ? ['--copy-rate', RATE] : []),
    ];
    const child = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    let phase = '';
    let copied = 0;
    let items = 0;
    let stoppedMs = 0;
    const pairs: CliMove['pairs'] = [];
    let windowAt = 0;
    let copiedAt = 0;
    let itemsAt = 0;
    let running: Window | null = null;
    let state: 'idle' | 'running' | 'stopping' | 'stopped' = 'idle';
    let timer: NodeJS.Timeout | undefined;
    const window = (): Window => {
      const now = performance.now();
      const ms = now - windowAt;
      const o = others();
      const r = {
        rate: o.all / ms,
        source: o.source / ms,
        target: (o.all - o.source) / ms,
        jobsPerSec: ((copied - copiedAt) * 1000) / ms,
        itemsPerSec: ((items - itemsAt) * 1000) / ms,
      };
      windowAt = now;
      copiedAt = copied;
      itemsAt = items;
      return r;
    };
    // The snapshot's first 90% of its items (a job and its queue entry are two): see ALTERNATE_MS.
    const copying = () => phase === 'copy' && items < JOBS * 2 * 0.9;
    const onBatch = () => {
      if (state === 'idle' && copying()) {
        window();
        state = 'running';
        timer = setTimeout(() => (state = 'stopping'), ALTERNATE_MS);
      } else if (state === 'stopping') {
        if (!copying()) {
          state = 'idle';
          return;
        }
        running = window();
        child.kill('SIGSTOP');
        state = 'stopped';
        timer = setTimeout(() => {
          const stopped = window();
          stoppedMs += ALTERNATE_MS;
          pairs.push({ running: running!, stopped });
          child.kill('SIGCONT');
          state = 'running';
          timer = setTimeout(() => (state = 'stopping'), ALTERNATE_MS);
        }, ALTERNATE_MS);
      }
    };
    child.stdout.on('data', (d) => {
      // The window starts at the move's first line, not at the process start-up before it.
      if (out === '') onStart();
      out += d;
      const last = /(\w[\w-]*) +\S+ +units \d+\/\d+ +jobs copied (\d+) +items (\d+)(?: +nice -?\d+)?\n$/.exec(out.slice(-200));
      if (!last) return;
      [phase, copied, items] = [last[1]!, Number(last[2]), Number(last[3])];
      if (ALTERNATE_MS > 0) onBatch();
    });
    child.on('exit', (code) => {
      clearTimeout(timer);
      const m = /writes paused (\d+) ms/.exec(out);
      if (code === 0 && m) resolve({ pauseMs: Number(m[1]), stoppedMs, pairs });
      else reject(new Error(`move exited ${code}: ${out}`));
    });
  });
}

/**
 * The others' rate, mover running / stopped: the median over every pair (range), then over the
 * pairs whose running window copied jobs and those that copied only queue entries, each with the
 * copy's median rate in items a second.
 */
function windowsSummary(pairs: CliMove['pairs']): string {
  const part = (label: string, ps: CliMove['pairs']) => {
    if (ps.length === 0) return `${label}: no pair`;
    const ratios = ps.map((p) => p.running.rate / p.stopped.rate).sort((a, b) => a - b);
    const by = (k: 'source' | 'target') => median(ps.map((p) => p.running[k] / p.stopped[k])).toFixed(2);
    // The others' mean rate over every running window against that over every stopped one: their
    // throughput during the copy as a ratio to without it, where the median is that of one pair.
    const pooled = ps.reduce((n, p) => n + p.running.rate, 0) / ps.reduce((n, p) => n + p.stopped.rate, 0);
    return `${label} ${median(ratios).toFixed(2)} (${ratios[0]!.toFixed(2)}–${ratios.at(-1)!.toFixed(2)}, ${ps.length} pairs, pooled ${pooled.toFixed(2)}, source ${by('source')}, target ${by('target')}, copy ${Math.round(median(ps.map((p) => p.running.itemsPerSec))).toLocaleString('en')} items/s)`;
  };
  const jobs = pairs.filter((p) => p.running.jobsPerSec > 0);
  const entries = pairs.filter((p) => p.running.jobsPerSec === 0);
  return `${part('all', pairs)}; ${part('copying jobs', jobs)}; ${part('copying queue entries', entries)}`;
}

const dir = await mkdtemp(join(tmpdir(), 'jobshard-bench-moves-'));
cleanups.push(() => rm(dir, { recursive: true, force: true }));

console.log(
  `\nMoving a unit of ${JOBS.toLocaleString('en')} enqueued jobs (${IN_PROCESS ? 'admin.moveUnit in this process' : 'jobshard placement move in its own process'}, copyShare ${SHARE ?? 'default 0.5'}${RATE ? `, copyRate ${RATE} items/s` : ''}${IN_PROCESS ? '' : `, --copy-nice ${NICE ?? 'default 0'}`}) while ${OTHERS} other tenants enqueue+fetch+ack on the same shards`,
);
console.log(
  ALTERNATE_MS > 0 && !IN_PROCESS
    ? `direction            move s   jobs/s   pause ms   others' rate, mover running / stopped, windows of ${ALTERNATE_MS} ms alternated: median of the pairs (range), pooled (the mean rate over every running window / over every stopped one); move s leaves out the stopped time`
    : 'direction            move s   jobs/s   pause ms   others during / before+after (ops/s); the same for those on the source and on the target shard',
);
try {
  for (const [name, make] of [
    ['redis → redis', [redis, redis]],
    ['postgres → postgres', [pg, pg]],
    ['postgres → redis', [pg, redis]],
  ] as const) {
    if (ONLY && !ONLY.includes(name.replace(' → ', '-'))) continue;
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
    let seen = { all: 0, source: 0 };
    const moved: CliMove = IN_PROCESS
      ? {
          pauseMs: (
            await router.admin.moveUnit(unit, 'to', {
              freezeMs: 30_000,
              ...(SHARE ? { copyShare: Number(SHARE) } : {}),
              ...(RATE ? { copyRate: Number(RATE) } : {}),
            }).done
          ).pauseMs,
          stoppedMs: 0,
          pairs: [],
        }
      : await cliMove(
          file,
          unit,
          () => {
            bg.take();
            t0 = performance.now();
          },
          () => {
            const now = bg.total();
            const n = { all: now.all - seen.all, source: now.source - seen.source };
            seen = now;
            return n;
          },
        );
    const moveMs = performance.now() - t0;
    await router.admin.directory(); // route by the new epoch at once
    const during = rate(bg.take(), moveMs);
    await sleep(WINDOW_MS);
    const after = rate(bg.take(), WINDOW_MS);
    await bg.stop();
    const check = (await router.tenant(unit).monitoring.stateCounts())['Enqueued'];
    if (check !== JOBS) throw new Error(`after the move the unit holds ${check} enqueued jobs, not ${JOBS}`);
    const runMs = moveMs - moved.stoppedMs;
    const othersRate =
      moved.pairs.length > 0
        ? windowsSummary(moved.pairs)
        : `${ratio(during.all, before.all, after.all)} (${Math.round(during.all)} / ${Math.round(before.all)}, ${Math.round(after.all)}); on the source ${ratio(during.source, before.source, after.source)}, on the target ${ratio(during.target, before.target, after.target)}`;
    console.log(
      `${name.padEnd(20)} ${(runMs / 1000).toFixed(1).padStart(6)} ${Math.round(JOBS / (runMs / 1000))
        .toLocaleString('en')
        .padStart(8)} ${String(moved.pauseMs).padStart(10)}   ${othersRate}`,
    );
    await router.close();
  }
} finally {
  for (const c of cleanups) await c().catch(() => {});
}
