// The dashboard's render times over 4 shards (2 Postgres, 2 Redis) holding BENCH_TENANTS tenants
// (default 10,000) with BENCH_JOBS_PER_TENANT jobs each (default 20: 200,000 jobs) and their
// statistics. Run: npm run bench:dashboard (BENCH_TENANTS=100000 BENCH_JOBS_PER_TENANT=2: the
// tenants page over 100,000 tenants).
// Each measurement renders a page through HTTP from a fresh dashboard (nothing cached), alternating
// with the bare backend reads the overview needs (per shard: queueDepths, counterSums, namespaces),
// so the ratio shows what the dashboard adds over the reads themselves.
// jobshard runs from its build (npm run build), as users run it.
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Router } from '../src/router/router.js';
import { deleteRedisPrefix, dropSchema, freshPrefix, freshSchema, PG_URL, REDIS_URL } from '../test/helpers/servers.js';
import { loadBuild } from './peers/jobshard-build.js';

const { createRouter, RedisBackend, PostgresBackend, dashboard, statsKeys } = await loadBuild();
const TENANTS = Number(process.env['BENCH_TENANTS'] ?? 10_000);
const ROUNDS = Number(process.env['BENCH_ROUNDS'] ?? 7);
const JOBS_PER_TENANT = Number(process.env['BENCH_JOBS_PER_TENANT'] ?? 20);

const schemas = [freshSchema(), freshSchema()];
const prefixes = [freshPrefix(), freshPrefix()];
const router: Router = await createRouter({
  shards: [
    { id: 'pg-a', backend: new PostgresBackend({ connectionString: PG_URL, schema: schemas[0]!, poolSize: 16 }) as never },
    { id: 'pg-b', backend: new PostgresBackend({ connectionString: PG_URL, schema: schemas[1]!, poolSize: 16 }) as never },
    { id: 'redis-a', backend: new RedisBackend({ url: REDIS_URL, prefix: prefixes[0]! }) },
    { id: 'redis-b', backend: new RedisBackend({ url: REDIS_URL, prefix: prefixes[1]! }) },
  ],
});

async function pool(calls: Array<() => Promise<unknown>>, width: number): Promise<void> {
  let next = 0;
  await Promise.all(
    Array.from({ length: width }, async () => {
      while (next < calls.length) await calls[next++]!();
    }),
  );
}

const tenants = Array.from({ length: TENANTS }, (_, i) => `tenant-${String(i).padStart(6, '0')}`);
const started = Date.now();
const now = new Date();
const calls: Array<() => Promise<unknown>> = [];
for (const t of tenants) {
  const s = router.tenant(t);
  for (let i = 0; i < JOBS_PER_TENANT; i++) {
    // 70% Enqueued, 15% Succeeded, 10% Failed, 5% Scheduled (with 20 a tenant: 14, 3, 2, 1).
    const share = i / JOBS_PER_TENANT;
    const state = share < 0.7 ? 'Enqueued' : share < 0.85 ? 'Succeeded' : share < 0.95 ? 'Failed' : 'Scheduled';
    calls.push(() =>
      s.jobs.create({
        type: 'report.build',
        args: [t, i],
        queue: i % 2 ? 'reports' : 'emails',
        state: { name: state, ...(state === 'Failed' ? { data: { error: 'boom' } } : {}) },
        enqueue: state === 'Enqueued',
      }),
    );
  }
  calls.push(() =>
    s.transaction((tx) => {
      for (const [kind, n] of [
        ['succeeded', 3],
        ['failed', 2],
      ] as const) {
        const k = statsKeys(kind, now);
        tx.counterIncrement(k.total, n);
        tx.counterIncrement(k.hour, n, { expireInMs: 2 * 86_400_000 });
      }
    }),
  );
}
await pool(calls, 256);
console.log(`populated ${TENANTS} tenants, ${TENANTS * JOBS_PER_TENANT} jobs over 4 shards in ${((Date.now() - started) / 1000).toFixed(1)} s`);

async function serve(): Promise<{ url: string; server: Server }> {
  const server = createServer(dashboard(router, {}));
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, server };
}

async function timed(fn: () => Promise<unknown>): Promise<number> {
  const t0 = performance.now();
  await fn();
  return performance.now() - t0;
}

async function render(path: string): Promise<number> {
  const { url, server } = await serve(); // fresh: nothing shared from an earlier render
  try {
    return await timed(async () => {
      const res = await fetch(url + path);
      if (res.status !== 200) throw new Error(`${path}: ${res.status} ${await res.text()}`);
      await res.text();
    });
  } finally {
    server.close();
  }
}

const keys = [
  'stats:succeeded',
  'stats:failed',
  ...Array.from({ length: 24 }, (_, i) => new Date(Date.now() - i * 3_600_000).toISOString().slice(0, 13)).flatMap((p) => [
    `stats:succeeded:${p}`,
    `stats:failed:${p}`,
  ]),
];
const bareReads = () =>
  timed(() => Promise.all([...router.shards.values()].map((s) => Promise.all([s.backend.queueDepths(), s.backend.counterSums(keys), s.backend.namespaces()]))));

const stats = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return `median ${s[Math.floor(s.length / 2)]!.toFixed(0)} ms (range ${s[0]!.toFixed(0)}–${s.at(-1)!.toFixed(0)})`;
};

const pages: Record<string, string> = {
  overview: '/',
  'tenants, first page': '/tenants',
  [`tenants, page ${Math.ceil((TENANTS / 50) * 0.75)} of ${Math.ceil(TENANTS / 50)}`]: `/tenants?page=${Math.ceil((TENANTS / 50) * 0.75)}`,
  'tenants, search "0042"': '/tenants?q=0042',
  'a tenant': `/tenants/${tenants[Math.floor(TENANTS * 0.4242)]}`,
  "a tenant's Failed jobs": `/tenants/${tenants[Math.floor(TENANTS * 0.4242)]}/jobs?state=Failed`,
};
const results: Record<string, number[]> = { 'bare overview reads': [] };
for (const name of Object.keys(pages)) results[name] = [];
await render('/'); // warm the connections and the plans
// Each shard's reads on their own, once: where the overview's time goes.
for (const [id, s] of router.shards) {
  const parts = {
    queueDepths: await timed(() => s.backend.queueDepths()),
    counterSums: await timed(() => s.backend.counterSums(keys)),
    namespaces: await timed(() => s.backend.namespaces()),
  };
  console.log(
    `  ${id.padEnd(8)} ${Object.entries(parts)
      .map(([k, v]) => `${k} ${v.toFixed(0)} ms`)
      .join(', ')}`,
  );
}
for (let r = 0; r < ROUNDS; r++) {
  // Alternate the two sides of the ratio within each round.
  results['overview']!.push(await render('/'));
  results['bare overview reads']!.push(await bareReads());
  for (const [name, path] of Object.entries(pages)) if (name !== 'overview') results[name]!.push(await render(path));
}
console.log(`\n${TENANTS} tenants, ${TENANTS * JOBS_PER_TENANT} jobs, 4 shards (2 Postgres, 2 Redis); ${ROUNDS} rounds, each render from a fresh dashboard:`);
for (const [name, xs] of Object.entries(results)) console.log(`  ${name.padEnd(28)} ${stats(xs)}`);
const ratios = results['overview']!.map((o, i) => o / results['bare overview reads']![i]!);
const sorted = [...ratios].sort((a, b) => a - b);
console.log(
  `  overview / bare reads        median ×${sorted[Math.floor(sorted.length / 2)]!.toFixed(2)} (range ${sorted[0]!.toFixed(2)}–${sorted.at(-1)!.toFixed(2)})`,
);

await router.close();
for (const s of schemas) await dropSchema(s);
for (const p of prefixes) await deleteRedisPrefix(p);
