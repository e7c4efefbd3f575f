// JobServer's Processing mark at the fetch (markProcessingAfterMs 0, the default) against a
// deferred one (BENCH_MARK_AFTER_MS, default 100). Run: npm run bench:processing-mark
// Each side drains BENCH_JOBS (20,000) no-op jobs with the peer bench's settings (32 workers,
// prefetch 64) after a 3,000-job warm-up, in a fresh schema or key prefix; the sides alternate
// BENCH_ROUNDS (4) times in one process, for each backend of BENCH_KINDS (postgres,redis) and each
// retention of BENCH_RETENTIONS (0 = deleted as they succeed, day = kept a day). Per drain: jobs/s,
// this process's CPU a job and every postgres process's (bench/lib/postgres-cpu.ts; 0 on Redis).
import { deleteRedisPrefix, dropSchema, freshPrefix, freshSchema, PG_URL, REDIS_URL } from '../test/helpers/servers.js';
import { loadBuild } from './peers/jobshard-build.js';
import { postgresCpuUs } from './lib/postgres-cpu.js';

const { JobClient, JobServer, PostgresBackend, RedisBackend } = await loadBuild();
const N = Number(process.env['BENCH_JOBS'] ?? 20_000);
const ROUNDS = Number(process.env['BENCH_ROUNDS'] ?? 4);
const DEFERRED = Number(process.env['BENCH_MARK_AFTER_MS'] ?? 100);
const KINDS = (process.env['BENCH_KINDS'] ?? 'postgres,redis').split(',');
const RETENTIONS = (process.env['BENCH_RETENTIONS'] ?? '0,day').split(',');
const RETENTION_MS: Record<string, number> = { '0': 0, day: 86_400_000 };
for (const k of KINDS) if (k !== 'postgres' && k !== 'redis') throw new Error(`unknown kind ${k}; known: postgres, redis`);
for (const r of RETENTIONS) if (!(r in RETENTION_MS)) throw new Error(`unknown retention ${r}; known: 0, day`);

type Storage = ReturnType<InstanceType<typeof PostgresBackend>['storage']>;

async function drain(storage: Storage, n: number, retentionMs: number, markProcessingAfterMs: number) {
  const client = new JobClient(storage);
  for (let k = 0; k < n; k += 32) await Promise.all(Array.from({ length: Math.min(32, n - k) }, () => client.enqueue('noop', [])));
  let done = 0;
  let finished!: () => void;
  const all = new Promise<void>((r) => (finished = r));
  const server = new JobServer(storage, {
    workerCount: 32,
    prefetch: 64,
    retentionMs,
    markProcessingAfterMs,
    handlers: { noop: () => void (++done === n && finished()) },
  });
  const [c0, p0, t0] = [process.cpuUsage(), postgresCpuUs(), performance.now()];
  await server.start();
  await all;
  const secs = (performance.now() - t0) / 1000;
  const [c, p] = [process.cpuUsage(c0), postgresCpuUs() - p0];
  await server.stop();
  return { perSec: n / secs, nodeUs: (c.user + c.system) / n, pgUs: p / n };
}

async function side(kind: string, retentionMs: number, mark: number) {
  const schema = freshSchema();
  const prefix = freshPrefix();
  const backend = kind === 'postgres' ? new PostgresBackend({ connectionString: PG_URL, schema, poolSize: 10 }) : new RedisBackend({ url: REDIS_URL, prefix });
  try {
    const storage = backend.storage('bench');
    await drain(storage, 3_000, retentionMs, mark);
    return await drain(storage, N, retentionMs, mark);
  } finally {
    await backend.close();
    if (kind === 'postgres') await dropSchema(schema);
    else await deleteRedisPrefix(prefix);
  }
}

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return (s[Math.floor((s.length - 1) / 2)]! + s[Math.ceil((s.length - 1) / 2)]!) / 2;
};
for (const kind of KINDS) {
  for (const retention of RETENTIONS) {
    const ratios: number[] = [];
    for (let round = 1; round <= ROUNDS; round++) {
      const perSec: number[] = [];
      for (const mark of [0, DEFERRED]) {
        const r = await side(kind, RETENTION_MS[retention]!, mark);
        perSec.push(r.perSec);
        const server = kind === 'postgres' ? `, Postgres CPU ${r.pgUs.toFixed(1)} µs` : '';
        console.log(
          `${kind} retention ${retention} round ${round} mark after ${String(mark).padStart(4)} ms: ${r.perSec.toFixed(0).padStart(6)} jobs/s, Node CPU ${r.nodeUs.toFixed(1)} µs${server} a job`,
        );
      }
      ratios.push(perSec[1]! / perSec[0]!);
    }
    console.log(
      `${kind} retention ${retention}: deferred / at fetch by round ${ratios.map((x) => x.toFixed(2)).join(', ')} (median ${median(ratios).toFixed(2)})`,
    );
  }
}
