// Placement directory benchmark. Run: npm run bench:directory
// 1. The hot-path cost of routing by the directory and following shard refusals: routed vs direct
//    (the backend's own storage, whose writes carry the same ownership check) for enqueue and
//    fetch+ack on Redis and Postgres, alternated round by round in one run.
// 2. Directory propagation across processes: another process adopting each change, by push
//    (LISTEN/NOTIFY on a Postgres directory store) and by 200 ms polling alone.
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { createRouter as createRouterFromSource } from '../src/router/router.js';
import type { Backend, Storage } from '../src/storage/storage.js';
import { fleetRouterConfig, type FleetConfig } from '../test/helpers/fleet-router.js';
import { deleteRedisPrefix, dropSchema, freshPrefix, freshSchema, PG_URL, REDIS_URL } from '../test/helpers/servers.js';
import { enqueueOne } from './lib/queue-bench.js';
import { loadBuild } from './peers/jobshard-build.js';
import { median } from './lib/median.js';

// Part 1 runs jobshard from its build, as users run it: through tsx every named closure of the
// routed path is wrapped in a __name() call per call, which is tsx's cost, not jobshard's.
const { MemoryBackend, PostgresBackend, RedisBackend, createRouter } = await loadBuild();

const ROUNDS = 7;
// BENCH_PARTS=1 or 2 runs one part only.
const PARTS = (process.env['BENCH_PARTS'] ?? '1,2').split(',');

/** One operation, timed (µs). */
async function oneOp(s: Storage, op: 'enqueue' | 'fetch+ack'): Promise<number> {
  const t0 = performance.now();
  if (op === 'enqueue') await enqueueOne(s, 'bench');
  else await (await s.queues.tryFetch(['bench']))!.ack();
  return (performance.now() - t0) * 1000;
}

/**
 * n operations on each side, interleaved one by one (direct, routed, then routed, direct, …), so
 * that drift on this shared machine (GC, JIT, the servers' other clients) hits both sides alike;
 * per side, the mean with the slowest 1% of calls left out (stalls that land on one side by chance).
 */
async function interleaved(direct: Storage, routed: Storage, op: 'enqueue' | 'fetch+ack', n: number): Promise<{ d: number; r: number }> {
  const d: number[] = [];
  const r: number[] = [];
  for (let i = 0; i < n; i++) {
    if (i % 2) {
      r.push(await oneOp(routed, op));
      d.push(await oneOp(direct, op));
    } else {
      d.push(await oneOp(direct, op));
      r.push(await oneOp(routed, op));
    }
  }
  const trimmedMean = (xs: number[]) => {
    const kept = [...xs].sort((a, b) => a - b).slice(0, Math.ceil(xs.length * 0.99));
    return kept.reduce((a, b) => a + b, 0) / kept.length;
  };
  return { d: trimmedMean(d), r: trimmedMean(r) };
}

const range = (xs: number[]) => `${Math.min(...xs).toFixed(3)}–${Math.max(...xs).toFixed(3)}`;
const signed = (x: number) => `${x >= 0 ? '+' : '−'}${Math.abs(x).toFixed(1)}`;

if (PARTS.includes('1')) await routedVsDirect();
if (PARTS.includes('2')) await propagation();

async function routedVsDirect(): Promise<void> {
  console.log(
    `\n1. Routed vs direct (µs per operation, sequential; ${ROUNDS} rounds, each interleaving the two sides call by call; ratio median and range of per-round ratios)`,
  );
  const schema = freshSchema();
  const prefix = freshPrefix();
  try {
    // Memory first: with no network its difference is the routed path's own CPU cost per call.
    for (const kind of ['memory', 'redis', 'postgres'] as const) {
      const backend: Backend =
        kind === 'memory'
          ? new MemoryBackend()
          : kind === 'redis'
            ? new RedisBackend({ url: REDIS_URL, prefix })
            : new PostgresBackend({ connectionString: PG_URL, schema });
      const router = await createRouter({ shards: [{ id: 'only', backend }] });
      const direct = backend.storage('direct-tenant');
      const routed = router.tenant('routed-tenant');
      const n = kind === 'memory' ? 10_000 : kind === 'redis' ? 2_000 : 1_000;
      for (const op of ['enqueue', 'fetch+ack'] as const) {
        // Warm-up; the enqueue rounds leave exactly the jobs the fetch+ack rounds take.
        await interleaved(direct, routed, op, 300);
        const d: number[] = [];
        const r: number[] = [];
        for (let round = 0; round < ROUNDS; round++) {
          const x = await interleaved(direct, routed, op, n);
          d.push(x.d);
          r.push(x.r);
        }
        const ratios = r.map((x, i) => x / d[i]!);
        console.log(
          `  ${kind.padEnd(8)} ${op.padEnd(10)} direct ${median(d).toFixed(1).padStart(7)} µs   routed ${median(r).toFixed(1).padStart(7)} µs   routed/direct ${median(ratios).toFixed(3)} (rounds ${range(ratios)})   ${signed(median(r) - median(d))} µs`,
        );
      }
      await router.close();
    }
  } finally {
    await dropSchema(schema);
    await deleteRedisPrefix(prefix);
  }
}

async function propagation(): Promise<void> {
  console.log('\n2. Directory propagation to another process (ms from the start of admin.pin to adoption there)');
  const directorySchema = freshSchema();
  const shardPrefixes = [freshPrefix(), freshPrefix()];
  const cfg = (more: Partial<FleetConfig>): FleetConfig => ({
    pg: PG_URL,
    redis: REDIS_URL,
    directorySchema,
    shards: [
      { id: 'a', redisPrefix: shardPrefixes[0]! },
      { id: 'b', redisPrefix: shardPrefixes[1]! },
    ],
    ...more,
  });
  const admin = await createRouterFromSource(fleetRouterConfig(cfg({})));
  const CHANGES = 100;
  const tenants = Array.from({ length: CHANGES }, (_, i) => `moved${i}`);
  const helper = fileURLToPath(new URL('../test/helpers/fleet-router.ts', import.meta.url));
  const start = (more: Partial<FleetConfig>) => {
    const child = spawn(process.execPath, ['--import', 'tsx', helper, JSON.stringify(cfg(more))], { stdio: ['ignore', 'pipe', 'inherit'] });
    const seen = new Map<number, number>();
    let out = '';
    const ready = new Promise<void>((resolve) =>
      child.stdout.on('data', (d) => {
        out += d;
        for (const m of out.matchAll(/^epoch (\d+) ([\d.]+)/gm)) seen.set(Number(m[1]), Number(m[2]));
        if (/^ready/m.test(out)) resolve();
      }),
    );
    return { child, seen, ready };
  };
  const pushed = start({ watch: ['x'], pollMs: 3_600_000 });
  const polled = start({ watch: ['x'], push: false, pollMs: 200 });
  try {
    await Promise.all([pushed.ready, polled.ready]);
    const delays = { push: [] as number[], poll: [] as number[] };
    for (const tn of tenants) {
      const to = admin.shardFor(tn).shard === 'a' ? 'b' : 'a';
      const t0 = performance.timeOrigin + performance.now();
      const { epoch } = await admin.admin.pin(tn, to);
      const deadline = Date.now() + 5_000;
      while ((!pushed.seen.has(epoch) || !polled.seen.has(epoch)) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 2));
      if (pushed.seen.has(epoch)) delays.push.push(pushed.seen.get(epoch)! - t0);
      if (polled.seen.has(epoch)) delays.poll.push(polled.seen.get(epoch)! - t0);
    }
    const pct = (xs: number[], p: number) => [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor(xs.length * p))]!;
    for (const [name, xs] of Object.entries(delays)) {
      console.log(
        `  ${name.padEnd(5)} ${xs.length}/${CHANGES} seen   p50 ${pct(xs, 0.5).toFixed(1)} ms   p99 ${pct(xs, 0.99).toFixed(1)} ms   max ${Math.max(...xs).toFixed(1)} ms`,
      );
    }
  } finally {
    pushed.child.kill('SIGKILL');
    polled.child.kill('SIGKILL');
    await admin.close();
    await dropSchema(directorySchema);
    for (const p of shardPrefixes) await deleteRedisPrefix(p);
  }
}
