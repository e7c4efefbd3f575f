// Routing benchmark. Run: npm run bench:routing
// 1. placement lookups/s with and without pins; 2. balance (max/mean) of 100,000 tenants on 4/16/64
// shards; 3. tenants moved when a shard is added vs the ideal 1/(N+1); 4. routed vs direct latency
// for enqueue, fetch+ack and lock acquire+release on memory and Redis, measured side by side.
import { randomBytes } from 'node:crypto';
import { MemoryBackend } from '../src/backends/memory/memory-backend.js';
import { RedisBackend } from '../src/backends/redis/redis-backend.js';
import { Router } from '../src/router/router.js';
import type { Backend, Storage } from '../src/storage/storage.js';
import { Placement } from '../src/tenancy/placement.js';
import { resolveTenantMap } from '../src/tenancy/tenant-map.js';
import { deleteRedisPrefix, freshPrefix, REDIS_URL } from '../test/helpers/servers.js';
import { enqueueOne } from './lib/queue-bench.js';

const TENANTS = Array.from({ length: 100_000 }, () => `tenant-${randomBytes(6).toString('hex')}`);
const shardList = (n: number) => Array.from({ length: n }, (_, i) => ({ id: `shard-${i}`, backend: new MemoryBackend() as Backend, weight: 1 }));

function placementFor(n: number, pins = 0): Placement {
  const tenants = Object.fromEntries(TENANTS.slice(0, pins).map((t, i) => [t, { shard: `shard-${i % n}` }]));
  return Placement.fromConfig(resolveTenantMap({ shards: shardList(n), tenants }));
}

console.log('\n1. Placement lookups (100,000 distinct tenants, 16 shards)');
for (const pins of [0, 1_000]) {
  const p = placementFor(16, pins);
  const units = TENANTS.map((tenant) => ({ tenant, group: null }));
  let sink = 0;
  for (let i = 0; i < 200_000; i++) sink += p.shardOf(units[i % units.length]!).length; // warm up
  const rounds = 3_000_000;
  const t0 = performance.now();
  for (let i = 0; i < rounds; i++) sink += p.shardOf(units[i % units.length]!).length;
  const secs = (performance.now() - t0) / 1000;
  console.log(`  ${pins ? `${pins} pinned tenants` : 'no pins'}: ${(rounds / secs / 1e6).toFixed(2)} M lookups/s${sink < 0 ? '' : ''}`);
}

console.log('\n2. Balance of 100,000 tenants (max/mean tenants per shard)');
for (const n of [4, 16, 64]) {
  const p = placementFor(n);
  const counts = new Map<string, number>();
  for (const tenant of TENANTS) {
    const s = p.shardOf({ tenant, group: null });
    counts.set(s, (counts.get(s) ?? 0) + 1);
  }
  const max = Math.max(...counts.values());
  console.log(`  ${String(n).padStart(2)} shards: max/mean ${(max / (TENANTS.length / n)).toFixed(3)}`);
}

console.log('\n3. Tenants moved when a shard is added');
for (const n of [4, 16, 64]) {
  const before = placementFor(n);
  const after = Placement.fromConfig(resolveTenantMap({ shards: [...shardList(n), { id: 'added', backend: new MemoryBackend(), weight: 1 }] }));
  let moved = 0;
  let elsewhere = 0;
  for (const tenant of TENANTS) {
    const a = before.shardOf({ tenant, group: null });
    const b = after.shardOf({ tenant, group: null });
    if (a !== b) {
      moved++;
      if (b !== 'added') elsewhere++;
    }
  }
  const frac = moved / TENANTS.length;
  const ideal = 1 / (n + 1);
  console.log(
    `  ${String(n).padStart(2)} -> ${n + 1} shards: moved ${(frac * 100).toFixed(2)}% (ideal ${(ideal * 100).toFixed(2)}%, ratio ${(frac / ideal).toFixed(3)}); moved between old shards: ${elsewhere}`,
  );
}

console.log('\n4. Routed vs direct latency (mean µs per operation, interleaved in one run)');
async function timeOp(s: Storage, op: 'enqueue' | 'fetch+ack' | 'lock', n: number): Promise<number> {
  const t0 = performance.now();
  for (let i = 0; i < n; i++) {
    if (op === 'enqueue') await enqueueOne(s, 'bench');
    else if (op === 'fetch+ack') {
      const f = await s.queues.tryFetch(['bench']);
      await f!.ack();
    } else {
      const l = await s.locks.acquire('bench-lock', { timeoutMs: 1_000, autoRenew: false });
      await l.release();
    }
  }
  return ((performance.now() - t0) * 1000) / n;
}
const prefix = freshPrefix();
try {
  for (const kind of ['memory', 'redis'] as const) {
    const backend: Backend = kind === 'memory' ? new MemoryBackend() : new RedisBackend({ url: REDIS_URL, prefix });
    const router = new Router({ shards: [{ id: 'only', backend }] });
    const direct = backend.storage('direct-tenant');
    const routed = router.tenant('routed-tenant');
    const n = kind === 'memory' ? 20_000 : 3_000;
    const rows: string[] = [];
    for (const op of ['enqueue', 'fetch+ack', 'lock'] as const) {
      await timeOp(direct, op, 200);
      await timeOp(routed, op, 200);
      // Alternate rounds so drift (GC, JIT, the server) hits both sides alike.
      const d: number[] = [];
      const r: number[] = [];
      for (let round = 0; round < 5; round++) {
        d.push(await timeOp(direct, op, n / 5));
        r.push(await timeOp(routed, op, n / 5));
      }
      const dm = d.reduce((a, b) => a + b) / d.length;
      const rm = r.reduce((a, b) => a + b) / r.length;
      rows.push(
        `  ${kind.padEnd(6)} ${op.padEnd(10)} direct ${dm.toFixed(1).padStart(7)} µs   routed ${rm.toFixed(1).padStart(7)} µs   routed/direct ${(rm / dm).toFixed(3)}`,
      );
    }
    console.log(rows.join('\n'));
    await router.close();
  }
} finally {
  await deleteRedisPrefix(prefix);
}
