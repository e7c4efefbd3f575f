// What a Redis crash costs, by persistence mode. Run: npm run bench:durability
// A private redis-server per round; 8 producers enqueue as fast as they can for 2 s, then the server
// is SIGKILLed mid-stream and restarted. Counted: enqueues acknowledged before the kill, jobs present
// after the restart, and the difference (lost). Modes alternate within each round.
import { RedisBackend } from '../src/backends/redis/redis-backend.js';
import { JobClient } from '../src/processing/job-client.js';
import { freePort, PrivateRedis } from '../test/helpers/redis-server.js';

const ROUNDS = Number(process.env['BENCH_ROUNDS'] ?? 3);
const RUN_MS = Number(process.env['BENCH_RUN_MS'] ?? 2_000);
process.env['JOBSHARD_ALLOW_REDIS_WITHOUT_AOF'] = '1';
type Mode = 'no AOF' | 'everysec' | 'always';
const MODES: Mode[] = ['no AOF', 'everysec', 'always'];

async function round(mode: Mode): Promise<{ acked: number; kept: number; perSec: number }> {
  const redis = new PrivateRedis(await freePort(), mode === 'no AOF' ? {} : { aof: mode });
  await redis.start();
  try {
    const backend = new RedisBackend({ url: redis.url, prefix: 'bench:', connectTimeoutMs: 500 });
    const client = new JobClient(backend.storage('acme'));
    let acked = 0;
    let stop = false;
    const started = Date.now();
    const producers = Array.from({ length: 8 }, async () => {
      while (!stop) {
        try {
          await client.enqueue('x', [acked], { queue: 'q' });
          if (!stop) acked++;
        } catch {
          return; // the server is gone
        }
      }
    });
    await new Promise((r) => setTimeout(r, RUN_MS));
    stop = true; // acknowledgements from here on are not counted: the kill races them
    const ackedAtKill = acked;
    await redis.kill();
    await Promise.all(producers);
    await backend.close();
    const perSec = ackedAtKill / ((Date.now() - started) / 1000);
    await redis.start();
    const check = new RedisBackend({ url: redis.url, prefix: 'bench:' });
    const kept = (await check.storage('acme').monitoring.stateCounts())['Enqueued'] ?? 0;
    await check.close();
    return { acked: ackedAtKill, kept, perSec };
  } finally {
    await redis.kill();
    redis.cleanup();
  }
}

const results = new Map<Mode, Array<{ acked: number; kept: number; perSec: number }>>(MODES.map((m) => [m, []]));
for (let i = 0; i < ROUNDS; i++) for (const m of MODES) results.get(m)!.push(await round(m));
console.log(`\nRedis crash (SIGKILL mid-stream after ${RUN_MS} ms of 8 producers), ${ROUNDS} rounds, modes alternated:`);
console.log('mode        enqueue jobs/s (range)     acknowledged before the kill → kept after restart (lost)');
for (const [m, rs] of results) {
  const rates = rs.map((r) => r.perSec).sort((a, b) => a - b);
  console.log(
    `${m.padEnd(11)} ${rates[Math.floor(rates.length / 2)]!.toFixed(0).padStart(6)} (${rates[0]!.toFixed(0)}–${rates.at(-1)!.toFixed(0)})       ${rs.map((r) => `${r.acked} → ${r.kept} (${Math.max(0, r.acked - r.kept)})`).join(', ')}`,
  );
}
