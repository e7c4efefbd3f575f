// How a Redis unit is listed for a move's export and its source's cleanup: by its registry (state
// indexes, queues, key registry) against a SCAN of the whole keyspace, with other tenants' keys in
// the same database. Run: npm run bench:redis-listing
// BENCH_JOBS (the unit's jobs, default 20,000), BENCH_FOREIGN (other units' keys, default 300,000),
// BENCH_ROUNDS (default 5): the two listings alternate, and each reports its time and Redis's CPU.
// Then a cleanup (clearUnit) of two copies of the unit, one by each listing, while 4 other tenants
// enqueue, fetch and ack: their rate meanwhile against before.
import { Redis } from 'ioredis';
import { RedisBackend } from '../src/backends/redis/redis-backend.js';
import type { RunCommand } from '../src/backends/redis/redis-data.js';
import { RedisKeys } from '../src/backends/redis/redis-keys.js';
import { listByRegistry, listByScan } from '../src/backends/redis/redis-unit-listing.js';
import { deleteRedisPrefix, freshPrefix, REDIS_URL } from '../test/helpers/servers.js';
import { median } from './lib/median.js';
import { redisCpuUs } from './lib/redis-cpu.js';

const JOBS = Number(process.env['BENCH_JOBS'] ?? 20_000);
const FOREIGN = Number(process.env['BENCH_FOREIGN'] ?? 300_000);
const ROUNDS = Number(process.env['BENCH_ROUNDS'] ?? 5);
const prefix = freshPrefix();
const backend = new RedisBackend({ url: REDIS_URL, prefix });
const admin = new Redis(REDIS_URL);
const run: RunCommand = (fn) => fn(admin);

/** Redis's CPU so far, in ms (user + system). */
const redisCpuMs = async (): Promise<number> => (await redisCpuUs(admin)) / 1000;

async function fill(ns: string): Promise<void> {
  const s = backend.storage(ns);
  for (let i = 0; i < JOBS; i += 500) {
    await Promise.all(
      Array.from({ length: Math.min(500, JOBS - i) }, (_, j) =>
        s.jobs.create({ type: 't', args: [i + j], queue: `q${j % 4}`, state: { name: 'Enqueued' }, enqueue: true }),
      ),
    );
  }
  await s.transaction((tx) => {
    for (let k = 0; k < 50; k++) tx.hashSet(`h${k}`, { f: '1' });
    tx.counterIncrement('c', 1);
  });
}

try {
  // Other tenants' keys: what a SCAN walks past, and the registry never reads.
  for (let i = 0; i < FOREIGN; i += 5_000) {
    const p = admin.pipeline();
    for (let j = i; j < Math.min(FOREIGN, i + 5_000); j++) p.set(`${prefix}{other-${j % 1000}}:c:k${j}`, '1');
    await p.exec();
  }
  await fill('unit');
  const keys = new RedisKeys(prefix, 'unit');
  const sides = { registry: listByRegistry, scan: listByScan } as const;
  const figures: Record<keyof typeof sides, { ms: number[]; cpu: number[] }> = { registry: { ms: [], cpu: [] }, scan: { ms: [], cpu: [] } };
  let listed = 0;
  for (let r = 0; r < ROUNDS; r++) {
    for (const side of r % 2 === 0 ? (['registry', 'scan'] as const) : (['scan', 'registry'] as const)) {
      const cpu = await redisCpuMs();
      const t0 = performance.now();
      const l = await sides[side](run, keys);
      figures[side].ms.push(performance.now() - t0);
      figures[side].cpu.push((await redisCpuMs()) - cpu);
      if (side === 'registry') listed = l.jobIds.size;
      else if (l.jobIds.size !== listed && listed > 0) throw new Error(`the listings differ: ${l.jobIds.size} jobs by SCAN, ${listed} by registry`);
    }
  }
  console.log(`\nListing a unit of ${JOBS} jobs beside ${FOREIGN} other keys, ${ROUNDS} rounds alternated (median, range):`);
  for (const side of ['registry', 'scan'] as const) {
    const { ms, cpu } = figures[side];
    console.log(
      `  ${side.padEnd(8)} ${median(ms).toFixed(0).padStart(6)} ms (${Math.min(...ms).toFixed(0)}–${Math.max(...ms).toFixed(0)}), Redis CPU ${median(cpu).toFixed(0)} ms (${Math.min(...cpu).toFixed(0)}–${Math.max(...cpu).toFixed(0)})`,
    );
  }
  console.log(`  scan / registry: ${(median(figures.scan.ms) / median(figures.registry.ms)).toFixed(1)}× the time`);

  // The cleanup after a move, of two copies: one registered, one whose mark is taken away (SCANned),
  // while 4 other tenants of the shard enqueue, fetch and ack in loops: their rate during the
  // cleanup against the 2 s before it.
  await fill('unit-b');
  await admin.hdel(new RedisKeys(prefix, 'unit-b').ownership, 'reg');
  let ops = 0;
  let running = true;
  const others = Array.from({ length: 4 }, async (_, i) => {
    const s = backend.storage(`other-${i}`);
    while (running) {
      await s.jobs.create({ type: 't', args: [], queue: 'q', state: { name: 'Enqueued' }, enqueue: true });
      await (await s.queues.tryFetch(['q']))?.ack();
      ops++;
    }
  });
  const rate = async (work: Promise<unknown>) => {
    const [n0, t0] = [ops, performance.now()];
    await work;
    const ms = performance.now() - t0;
    return { ms, perSecond: ((ops - n0) * 1000) / ms };
  };
  for (const [ns, side] of [
    ['unit', 'registry'],
    ['unit-b', 'scan'],
  ] as const) {
    await backend.setOwnership(ns, { state: 'moved', to: 'elsewhere', epoch: 1 });
    const before = await rate(new Promise((r) => setTimeout(r, 2_000)));
    const cpu = await redisCpuMs();
    const during = await rate(backend.clearUnit(ns));
    console.log(
      `  clearUnit by ${side.padEnd(8)} ${during.ms.toFixed(0).padStart(6)} ms, Redis CPU ${((await redisCpuMs()) - cpu).toFixed(0)} ms; 4 other tenants meanwhile ${(during.perSecond / before.perSecond).toFixed(2)}× their rate before (${before.perSecond.toFixed(0)} cycles/s)`,
    );
  }
  running = false;
  await Promise.all(others);
} finally {
  await backend.close();
  await deleteRedisPrefix(prefix);
  admin.disconnect();
}
