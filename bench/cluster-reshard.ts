// Resharding a Redis Cluster while jobs run. Run: npm run bench:reshard (RESHARD_JOBS, RESHARD_ROUNDS)
// A private 3-master cluster; RESHARD_JOBS jobs over 30 tenants; a JobServer drains them while
// `redis-cli --cluster reshard` moves 5,461 slots between masters. Per round it counts jobs lost
// (never run), runs beyond the first, and jobs left in a state other than Succeeded once the
// drain is done, with the server's errors. Exits 1 if any job is lost or left behind.
// test/backends/redis-cluster-reshard.test.ts runs a short version in npm test.
import { PrivateRedisCluster } from '../test/helpers/redis-cluster.js';
import { drainDuringReshard } from '../test/helpers/reshard-drain.js';

const JOBS = Number(process.env['RESHARD_JOBS'] ?? 20_000);
const ROUNDS = Number(process.env['RESHARD_ROUNDS'] ?? 3);
process.env['JOBSHARD_ALLOW_REDIS_WITHOUT_AOF'] = '1';

let broken = false;
for (let i = 0; i < ROUNDS; i++) {
  const cluster = new PrivateRedisCluster();
  await cluster.start();
  try {
    const r = await drainDuringReshard(cluster, { jobs: JOBS, tenants: 30, prefix: 'reshard:', invisibilityTimeoutMs: 5_000, handlerMs: 3, slots: 5461 });
    const lost = [...r.jobs].filter((k) => !r.runs.has(k)).length;
    const duplicates = [...r.runs.values()].reduce((a, n) => a + n - 1, 0);
    console.log(
      `round ${i + 1}: ${JOBS} jobs, reshard ${r.reshardMs} ms with ${r.ranDuring} runs during it; lost ${lost}, runs beyond the first ${duplicates}, left ${JSON.stringify(r.left)}, server errors ${r.errors.length}${r.errors.length ? `: ${r.errors.slice(0, 3).join(' | ')}` : ''}`,
    );
    if (lost > 0 || Object.keys(r.left).length > 0) broken = true;
  } finally {
    await cluster.stop();
  }
}
process.exitCode = broken ? 1 : 0;
