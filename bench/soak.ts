// The soak: many jobs through a router over 4 shards, 50 tenants, 3 producer and 4 worker
// processes, while a seeded schedule injects faults. The shards: redis-1, a private redis-server
// (AOF, appendfsync always) behind a loopback fault proxy; redis-2, a private 3-master Redis
// Cluster; pg-1, the local Postgres; pg-2, a private Postgres cluster (initdb on a free port).
// The faults: SIGKILLed workers and producers (replaced), every Postgres connection terminated,
// every Redis client connection killed, a worker frozen (SIGSTOP) past its leases and resumed,
// redis-1 SIGKILLed and restarted, pg-2 crashed (immediate shutdown) and restarted, slots of the
// Cluster resharded under load (redis-cli --cluster reshard), 50–200 ms of latency and cut-offs
// on redis-1's link.
// Run: npm run soak (SOAK_JOBS, default 100000; SOAK_SEED; SOAK_MAX_MS, default 900000).
// Counts, exactly: lost jobs (acknowledged to a producer, never run), runs beyond the first, jobs
// left Enqueued or Processing after the drain, typed and untyped producer errors, lock overlaps
// and fencing tokens out of order. Prints a table, writes bench/SOAK.md, exits 1 if an invariant
// breaks. It terminates connections on the local Postgres: run it alone.
import { spawn, type ChildProcess } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { Redis } from 'ioredis';
import pg from 'pg';
import { createRouter } from '../src/router/router.js';
import { FaultProxy } from '../test/helpers/fault-proxy.js';
import { fleetRouterConfig, type FleetConfig } from '../test/helpers/fleet-router.js';
import { PrivatePostgres } from '../test/helpers/postgres-server.js';
import { PrivateRedisCluster } from '../test/helpers/redis-cluster.js';
import { freePort, PrivateRedis } from '../test/helpers/redis-server.js';
import { dropSchema, freshSchema, PG_URL, REDIS_URL } from '../test/helpers/servers.js';

const JOBS = Number(process.env['SOAK_JOBS'] ?? 100_000);
const SEED = Number(process.env['SOAK_SEED'] ?? Date.now() % 1_000_000);
const MAX_MS = Number(process.env['SOAK_MAX_MS'] ?? 900_000);
process.env['JOBSHARD_ALLOW_REDIS_WITHOUT_AOF'] = '1';

// mulberry32: a small seeded generator, so a run's fault schedule can be replayed.
let state = SEED >>> 0;
const random = () => {
  state = (state + 0x6d2b79f5) >>> 0;
  let t = state;
  t = Math.imul(t ^ (t >>> 15), t | 1);
  t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
  return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
};
const pick = <T>(xs: readonly T[]) => xs[Math.floor(random() * xs.length)]!;

const redis1 = new PrivateRedis(await freePort(), { aof: 'always' });
await redis1.start();
const link = new FaultProxy(redis1.port);
await link.start();
const cluster = new PrivateRedisCluster();
await cluster.start();
const pg2 = new PrivatePostgres();
await pg2.start();

const fleet: FleetConfig = {
  pg: PG_URL,
  redis: REDIS_URL,
  shards: [
    { id: 'redis-1', redisPrefix: 'soak:', redisUrl: `redis://127.0.0.1:${link.port}` },
    { id: 'redis-2', redisPrefix: 'soak:', redisCluster: cluster.ports.map((p) => `127.0.0.1:${p}`) },
    { id: 'pg-1', pgSchema: freshSchema() },
    { id: 'pg-2', pgSchema: 'soak', pgUrl: pg2.url },
  ],
  directorySchema: freshSchema(),
};
const tenants = Array.from({ length: 50 }, (_, i) => `soak-${i}`);
const router = await createRouter(fleetRouterConfig(fleet));
const SCRIPT = fileURLToPath(new URL('../test/helpers/soak-process.ts', import.meta.url));

const acked = new Set<string>();
const runs = new Map<string, number>();
const locks: Array<{ tenant: string; token: number; acquired: number; released: number; asked: number }> = [];
let typedRetries = 0;
const untyped: string[] = [];
const workerErrors: string[] = [];
const workerDeaths: string[] = [];
let lastRunAt = Date.now();
// When the first worker process said it was ready, and how many have (replacements included).
let workersUpAt: number | null = null;
let workersReady = 0;
// The last run of a job of each shard's tenants: a shard's fault is over when its tenants run again.
const lastRunOn = new Map<string, number>();
// Acknowledged jobs of each shard's tenants not run yet: a shard with none has nothing to stall on.
const pendingOn = new Map<string, number>();
const reshardErrors: string[] = [];
// Each run's process and start, and when each process was SIGKILLed or frozen: a job's extra run is
// put down to what happened to the process of the run before it (or to the fault nearest before).
const runLog = new Map<string, Array<{ child: ChildProcess; at: number }>>();
const killedAt = new Map<ChildProcess, number>();
const frozenAt = new Map<ChildProcess, number[]>();

interface Proc {
  child: ChildProcess;
  role: 'producer' | 'worker';
  slot: number;
}
const producers: Array<{ from: number; to: number; next: number; done: boolean; proc: Proc | null }> = [0, 1, 2].map((i) => ({
  from: Math.floor((JOBS * i) / 3),
  to: Math.floor((JOBS * (i + 1)) / 3),
  next: Math.floor((JOBS * i) / 3),
  done: false,
  proc: null,
}));
const workers: Array<Proc | null> = [null, null, null, null];

function start(role: 'producer' | 'worker', slot: number): Proc {
  const p = role === 'producer' ? producers[slot]! : null;
  const args = { role, fleet, tenants, ...(p ? { from: p.next, to: p.to } : {}) };
  const child = spawn(process.execPath, ['--import', 'tsx', SCRIPT, JSON.stringify(args)], { stdio: ['ignore', 'pipe', 'pipe'] });
  let buf = '';
  child.stdout!.on('data', (d) => {
    buf += d;
    const lines = buf.split('\n');
    buf = lines.pop()!;
    for (const l of lines) {
      const w = l.split(' ');
      if (w[0] === 'ready' && role === 'worker') {
        workersUpAt ??= Date.now();
        workersReady++;
      } else if (w[0] === 'enq') {
        acked.add(`${w[2]}/${w[3]}`);
        const on = router.shardFor(w[2]!).shard;
        // A worker may report the run before its producer reports the enqueue.
        if (!runs.has(`${w[2]}/${w[3]}`)) pendingOn.set(on, (pendingOn.get(on) ?? 0) + 1);
        p!.next = Math.max(p!.next, Number(w[1]) + 1);
      } else if (w[0] === 'run') {
        const k = `${w[1]}/${w[2]}`;
        const on = router.shardFor(w[1]!).shard;
        if (!runs.has(k) && acked.has(k)) pendingOn.set(on, pendingOn.get(on)! - 1);
        runs.set(k, (runs.get(k) ?? 0) + 1);
        (runLog.get(k) ?? runLog.set(k, []).get(k)!).push({ child, at: Number(w[3]) });
        lastRunAt = Date.now();
        lastRunOn.set(on, lastRunAt);
      } else if (w[0] === 'lock') locks.push({ tenant: w[1]!, token: Number(w[2]), acquired: Number(w[3]), released: Number(w[4]), asked: Number(w[5]) });
      else if (w[0] === 'retry') typedRetries++;
      else if (w[0] === 'untyped') untyped.push(l);
      else if (w[0] === 'error') workerErrors.push(l);
      else if (w[0] === 'produced') p!.done = true;
    }
  });
  let stderrTail = '';
  child.stderr!.on('data', (d) => {
    stderrTail = (stderrTail + d).slice(-2_000);
  });
  const proc = { child, role, slot };
  child.on('exit', (code, signal) => {
    // A producer that died before it finished is replaced by the fault loop (below) or here.
    if (role === 'producer' && !p!.done && p!.proc === proc && !stopping) p!.proc = start('producer', slot);
    // A worker that died on its own (not SIGKILLed by a fault, which replaces it at once) is replaced and counted.
    if (role === 'worker' && workers[slot]?.child === child && !stopping) {
      workerDeaths.push(`${code ?? signal}: ${stderrTail.trim().split('\n').at(-1)?.slice(0, 160) ?? ''}`);
      workers[slot] = start('worker', slot);
    }
  });
  if (p) p.proc = proc;
  return proc;
}

let stopping = false;
for (let i = 0; i < 4; i++) workers[i] = start('worker', i);
for (let i = 0; i < 3; i++) start('producer', i);

const pgAdmins = [PG_URL, pg2.url].map((url) => new pg.Pool({ connectionString: url, max: 1 }));
for (const a of pgAdmins) a.on('error', () => {});
const redisAdmins = [redis1.port, ...cluster.ports].map((port) => new Redis(port, '127.0.0.1', { maxRetriesPerRequest: 1 }));
for (const a of redisAdmins) a.on('error', () => {});
let resharding = false;
const faults: Array<{ at: number; kind: string; recoveredMs: number | null }> = [];

const SHARD_OF_FAULT: Record<string, string> = {
  'restart redis': 'redis-1',
  'slow link': 'redis-1',
  'cut link': 'redis-1',
  'reshard cluster': 'redis-2',
  'restart postgres': 'pg-2',
};

async function fault(kind: string): Promise<void> {
  const at = Date.now();
  switch (kind) {
    case 'kill worker': {
      const slot = Math.floor(random() * workers.length);
      killedAt.set(workers[slot]!.child, Date.now());
      workers[slot]!.child.kill('SIGKILL');
      workers[slot] = start('worker', slot);
      break;
    }
    case 'kill producer': {
      const live = producers.filter((p) => !p.done && p.proc);
      if (live.length === 0) return;
      pick(live).proc!.child.kill('SIGKILL'); // replaced on exit, from its next unacknowledged job
      break;
    }
    case 'terminate postgres connections':
      for (const admin of pgAdmins)
        await admin
          .query(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid() AND backend_type = 'client backend'",
          )
          .catch(() => {});
      break;
    case 'kill redis clients':
      for (const admin of redisAdmins) {
        const me = (await admin.client('ID').catch(() => -1)) as number;
        const list = (await admin.client('LIST').catch(() => '')) as string;
        for (const line of list.split('\n')) {
          const id = /^id=(\d+)/.exec(line)?.[1];
          if (id && Number(id) !== me) await admin.client('KILL', 'ID', id).catch(() => {});
        }
      }
      break;
    case 'restart redis':
      await redis1.kill();
      await new Promise((r) => setTimeout(r, 500 + random() * 1_500));
      await redis1.start();
      break;
    case 'restart postgres':
      await pg2.restart();
      break;
    case 'reshard cluster': {
      if (resharding) return;
      const from = Math.floor(random() * 3);
      const to = (from + 1 + Math.floor(random() * 2)) % 3;
      const slots = 500 + Math.floor(random() * 2_000);
      resharding = true;
      // In the background: the next faults go on while slots move.
      void cluster
        .reshard(from, to, slots)
        .catch(async (err: Error) => {
          // redis-cli says why on stdout ("[ERR] …"); the error's message is the command line.
          const out = `${(err as Error & { stdout?: string }).stdout ?? ''}\n${(err as Error & { stderr?: string }).stderr ?? ''}`
            // eslint-disable-next-line no-control-regex
            .replace(/\x1b\[[0-9;]*m/g, '')
            .split('\n')
            .filter((l) => l.trim() !== '');
          reshardErrors.push((out.find((l) => /ERR/.test(l)) ?? out.at(-1) ?? err.message).slice(0, 200));
          await cluster.fix().catch(() => {});
        })
        .finally(() => {
          resharding = false;
        });
      break;
    }
    case 'slow link':
      link.delay(50 + Math.floor(random() * 150));
      setTimeout(() => link.restore(), 3_000 + random() * 5_000);
      break;
    case 'cut link':
      link.cut();
      setTimeout(() => link.restore(), 500 + random() * 2_500);
      break;
    case 'freeze worker': {
      const w = workers[Math.floor(random() * workers.length)]!;
      w.child.kill('SIGSTOP');
      frozenAt.set(w.child, [...(frozenAt.get(w.child) ?? []), Date.now()]);
      setTimeout(() => w.child.kill('SIGCONT'), 12_000); // past its 10 s leases
      break;
    }
  }
  const record = { at, kind, recoveredMs: null as number | null };
  faults.push(record);
  // Recovered: jobs run again after the fault, on the shard it hit (any shard for the others).
  const shard = SHARD_OF_FAULT[kind];
  const last = () => (shard ? (lastRunOn.get(shard) ?? 0) : lastRunAt);
  const before = last();
  const watch = setInterval(() => {
    if (last() > Math.max(before, at)) {
      record.recoveredMs = last() - at;
      clearInterval(watch);
    } else if (Date.now() - at > 60_000) clearInterval(watch);
  }, 20);
}

const started = Date.now();
// While a fault hits one shard (until its tenants run again, at most 60 s), how long the other
// shards' tenants go without a run although they have jobs that can be fetched: an outage must stay confined.
// Counted once the first worker processes are up (before that nothing runs anywhere: start-up,
// reported on its own). Each fault keeps its own worst figure, so the table can say where it was.
const crossShardStall = new Map<(typeof faults)[number], { ms: number; kind: string; at: string }>();
// More jobs waiting on a shard than every worker could hold leased (8 per process: the 4 live ones
// and those SIGKILLed or frozen within a lease, whose jobs wait out their 10 s leases) means at
// least one of them can be fetched: only then is a shard without runs stalled.
function mayHold(now: number): number {
  const recent = [...killedAt.values()].filter((at) => now - at < 11_000).length + [...frozenAt.values()].flat().filter((at) => now - at < 11_000).length;
  return 8 * (workers.length + recent);
}
const crossShardSampler = setInterval(() => {
  const now = Date.now();
  if (workersUpAt === null) return;
  // A shard under a fault of its own (a restart during a reshard elsewhere) is not a bystander.
  const live = faults.filter((f) => f.recoveredMs === null && now - f.at <= 60_000);
  const hitNow = new Set(live.map((f) => SHARD_OF_FAULT[f.kind]).filter((x) => x !== undefined));
  for (const f of live) {
    const hit = SHARD_OF_FAULT[f.kind];
    if (!hit) continue;
    const held = mayHold(now);
    for (const [shard, pending] of pendingOn) {
      if (hitNow.has(shard) || pending <= held) continue;
      const stall = now - Math.max(lastRunOn.get(shard) ?? 0, f.at, workersUpAt);
      if (stall <= (crossShardStall.get(f)?.ms ?? 0)) continue;
      crossShardStall.set(f, {
        ms: stall,
        kind: f.kind,
        at: `${shard}'s tenants, ${pending} jobs waiting, during '${f.kind}' on ${hit}, ${((f.at - started) / 1000).toFixed(0)} s in`,
      });
    }
  }
}, 50);
const KINDS = [
  'kill worker',
  'kill producer',
  'terminate postgres connections',
  'kill redis clients',
  'freeze worker',
  'restart redis',
  'restart postgres',
  'reshard cluster',
  'slow link',
  'cut link',
];
const allRun = () => [...acked].every((k) => runs.has(k));
// The faults start once the four workers are up: the figures are of a running fleet, not of
// processes booting (a server starting while a shard is down: test/faults/shard-isolation.test.ts).
while (workersReady < workers.length && Date.now() - started < 60_000) await new Promise((r) => setTimeout(r, 50));
const faultsFrom = Date.now();
while (Date.now() - started < MAX_MS) {
  const producing = producers.some((p) => !p.done);
  if (!producing && allRun()) break;
  // Faults while the producers run and the backlog drains.
  if (producing || Date.now() - started < MAX_MS / 2) await fault(pick(KINDS));
  await new Promise((r) => setTimeout(r, 2_000 + random() * 3_000));
  process.stdout.write(`\r${((Date.now() - started) / 1000).toFixed(0)} s: ${acked.size} acknowledged, ${runs.size} run, ${faults.length} faults   `);
}
// Past every lease (10 s) and the frozen worker's resume, then the leftovers.
link.restore();
await new Promise((r) => setTimeout(r, 15_000));
while (resharding) await new Promise((r) => setTimeout(r, 500));
stopping = true;
clearInterval(crossShardSampler);
const counts = await router.admin.tenantCounts(tenants);
const left = Object.values(counts).reduce((a, c) => a + (c['Enqueued'] ?? 0) + (c['Processing'] ?? 0), 0);
for (const w of workers) w?.child.kill('SIGKILL');
for (const p of producers) p.proc?.child.kill('SIGKILL');

const lost = [...acked].filter((k) => !runs.has(k)).length;
const duplicates = [...runs.values()].reduce((a, n) => a + n - 1, 0);
const LEASE_MS = 10_000;
const causes = new Map<string, number>();
for (const log of runLog.values()) {
  for (let i = 1; i < log.length; i++) {
    const before = log[i - 1]!;
    const again = log[i]!.at;
    const killed = killedAt.get(before.child);
    const frozen = (frozenAt.get(before.child) ?? []).find((f) => f >= before.at - LEASE_MS && f <= again);
    const nearest = faults.filter((f) => f.kind !== 'kill producer' && f.at <= again && f.at >= before.at - LEASE_MS).at(-1);
    const cause =
      killed !== undefined && killed >= before.at && killed <= again
        ? 'the worker of its run before was SIGKILLed'
        : frozen !== undefined
          ? 'the worker of its run before was frozen past its lease'
          : nearest
            ? `the nearest fault before it: '${nearest.kind}'`
            : 'no fault within a lease before it';
    causes.set(cause, (causes.get(cause) ?? 0) + 1);
  }
}
// A holder frozen (SIGSTOP) past its lease loses the lock while it sleeps: the next holder may be
// granted before the frozen one records its grant or its release. Its times are then not the
// grant's, so an overlap or an order of tokens involving it is what fencing tokens are for, and is
// counted apart. A holder is "frozen" when asking or holding took longer than the lease.
const LOCK_TTL_MS = 5_000;
const frozen = (l: (typeof locks)[number]) => l.acquired - l.asked > LOCK_TTL_MS || l.released - l.acquired > LOCK_TTL_MS;
let lockOverlaps = 0;
let lapsedOverlaps = 0;
let tokensOutOfOrder = 0;
const lockViolations: string[] = [];
for (const tn of tenants) {
  const ls = locks.filter((l) => l.tenant === tn).sort((x, y) => x.acquired - y.acquired);
  for (let i = 1; i < ls.length; i++) {
    const prev = ls[i - 1]!;
    const cur = ls[i]!;
    const fenced = frozen(prev) || frozen(cur);
    if (cur.token <= prev.token || cur.acquired < prev.released) {
      if (fenced) lapsedOverlaps++;
      else {
        if (cur.token <= prev.token) tokensOutOfOrder++;
        else lockOverlaps++;
        const t0 = prev.asked;
        lockViolations.push(
          `${tn} on ${router.shardFor(tn).shard}: token ${prev.token} asked +0, granted +${(prev.acquired - t0).toFixed(1)}, released +${(prev.released - t0).toFixed(1)} ms; token ${cur.token} asked +${(cur.asked - t0).toFixed(1)}, granted +${(cur.acquired - t0).toFixed(1)}, released +${(cur.released - t0).toFixed(1)} ms`,
        );
      }
    }
  }
}
const lockFaults = lockOverlaps + tokensOutOfOrder;
const worstStalls = [...crossShardStall.values()].sort((a, b) => b.ms - a.ms);
const byKind = new Map<string, number[]>();
for (const f of faults) byKind.set(f.kind, [...(byKind.get(f.kind) ?? []), f.recoveredMs ?? -1]);
const seconds = ((Date.now() - started) / 1000).toFixed(0);
const lines = [
  `# Soak, ${new Date().toISOString().slice(0, 10)} (seed ${SEED})`,
  '',
  `${JOBS} jobs, 50 tenants, 4 shards (a private redis-server with AOF behind a fault proxy, a private 3-master Redis Cluster, the local Postgres, a private Postgres cluster), 3 producer and 4 worker processes, ${seconds} s, on this 2-core machine. Reproduce: \`SOAK_SEED=${SEED} SOAK_JOBS=${JOBS} npm run soak\`.`,
  '',
  '| figure | value |',
  '|---|---|',
  `| jobs acknowledged to producers | ${acked.size} |`,
  `| jobs run at least once | ${[...acked].filter((k) => runs.has(k)).length} |`,
  `| **lost** | **${lost}** |`,
  `| runs beyond the first | ${duplicates} |`,
  ...[...causes].sort((a, b) => b[1] - a[1]).map(([cause, n]) => `| — after ${cause} | ${n} |`),
  `| left Enqueued or Processing | ${left} |`,
  `| longest time other shards' tenants ran nothing, with more jobs waiting than every worker could hold leased, while one shard was restarted, resharded, slowed or cut off | ${worstStalls[0] ? `${worstStalls[0].ms} ms (${worstStalls[0].at})` : '0 ms'} |`,
  `| — the next longest, each during another fault | ${
    worstStalls
      .slice(1, 4)
      .map((x) => `${x.ms} ms ('${x.kind}')`)
      .join(', ') || 'none'
  } |`,
  `| worker processes up, before the first fault | ${((faultsFrom - started) / 1000).toFixed(1)} s |`,
  `| producer errors retried (typed) / untyped | ${typedRetries} / ${untyped.length} |`,
  `| lock grants recorded | ${locks.length} |`,
  `| **lock overlaps while both leases were live / tokens out of order** | **${lockOverlaps} / ${tokensOutOfOrder}** |`,
  `| overlaps or orders involving a holder frozen past its lease (fenced by its older token) | ${lapsedOverlaps} |`,
  ...lockViolations.map((v) => `| — lock overlap or order: | ${v} |`),
  `| worker errors survived | ${workerErrors.length} |`,
  `| worker processes that died on their own (replaced) | ${workerDeaths.length}${workerDeaths.length ? ` (${workerDeaths[0]})` : ''} |`,
  `| reshards cut short by the faults, then closed with \`redis-cli --cluster fix\` | ${reshardErrors.length}${reshardErrors.length ? ` (${reshardErrors[0]})` : ''} |`,
  '',
  '| fault | times | time until jobs ran again, ms (max) |',
  '|---|---|---|',
  ...[...byKind].map(([kind, rs]) => {
    // A fault near the end may leave its shard with nothing more to run: no recovery to time.
    const idle = rs.filter((r) => r === -1).length;
    return `| ${kind} | ${rs.length} | ${Math.max(...rs.filter((r) => r !== -1), 0)}${idle ? ` (${idle} after which no job of the shard ran again: none was left or it never recovered; lost and left above tell which)` : ''} |`;
  }),
  '',
];
console.log(`\n${lines.join('\n')}`);
writeFileSync(new URL('./SOAK.md', import.meta.url), lines.join('\n'));

for (const a of pgAdmins) await a.end();
for (const a of redisAdmins) a.disconnect();
await router.close();
await link.close();
await redis1.kill();
redis1.cleanup();
await cluster.stop();
await pg2.stop();
await dropSchema(fleet.shards[2]!.pgSchema!);
await dropSchema(fleet.directorySchema);
process.exit(lost > 0 || left > 0 || untyped.length > 0 || lockFaults > 0 ? 1 : 0);
