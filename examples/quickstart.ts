// The embedded default: jobshard over three in-memory shards, no servers needed.
// Several tenants enqueue jobs; one is pinned to its own shard, one big tenant
// is split into queue groups on different shards. One JobServer over the router
// runs every tenant's jobs, fairly; the summary shows where each tenant lives and
// that none was lost.
// Run: npm run demo
import { createRouter, JobClient, JobServer, MemoryBackend } from '../src/index.js';

const tenants = ['acme', 'globex', 'initech', 'umbrella', 'hooli'];
const JOBS_PER_TENANT = 400;

const router = await createRouter({
  shards: [
    { id: 'mem-a', backend: new MemoryBackend() },
    { id: 'mem-b', backend: new MemoryBackend() },
    { id: 'mem-c', backend: new MemoryBackend(), weight: 2 },
  ],
  tenants: {
    acme: { shard: 'mem-a' }, // pinned
    umbrella: { queueGroups: { reports: { queues: ['reports'], shard: 'mem-c' } } }, // split
  },
});

const started = Date.now();
const processed = new Map<string, number>();
// ctx.tenant says whose job it is; the job's writes go through that tenant's storage.
const server = new JobServer(router, {
  queues: ['emails', 'reports', 'webhooks'],
  workerCount: 8,
  handlers: Object.fromEntries(
    ['email.send', 'report.build', 'webhook.post'].map((type) => [
      type,
      async (_args, ctx) => {
        processed.set(ctx.tenant!, (processed.get(ctx.tenant!) ?? 0) + 1);
      },
    ]),
  ),
});
await server.start();

const kinds = [
  ['email.send', 'emails'],
  ['report.build', 'reports'],
  ['webhook.post', 'webhooks'],
] as const;
await Promise.all(
  tenants.map(async (tenant) => {
    const client = new JobClient(router.tenant(tenant));
    for (let n = 0; n < JOBS_PER_TENANT; n++) {
      const [type, queue] = kinds[n % kinds.length]!;
      await client.enqueue(type, [{ tenant, n }], { queue });
    }
  }),
);

// Wait until every tenant's jobs have all succeeded (or 30 s pass).
let succeeded: number[] = [];
for (const deadline = Date.now() + 30_000; Date.now() < deadline;) {
  succeeded = (await Promise.all(tenants.map((t) => router.tenant(t).monitoring.stateCounts()))).map((c) => c['Succeeded'] ?? 0);
  if (succeeded.every((n) => n === JOBS_PER_TENANT)) break;
  await new Promise((r) => setTimeout(r, 20));
}
await server.stop();
const seconds = (Date.now() - started) / 1000;

console.log('tenant     home shard  groups                 enqueued  processed');
for (const tenant of tenants) {
  const p = router.shardFor(tenant);
  const groups = p.groups.map((g) => `${g.group}@${g.shard}`).join(' ') || '-';
  console.log(
    `${tenant.padEnd(10)} ${p.shard.padEnd(11)} ${groups.padEnd(22)} ${String(JOBS_PER_TENANT).padStart(8)}  ${String(processed.get(tenant) ?? 0).padStart(9)}`,
  );
}
const total = [...processed.values()].reduce((a, b) => a + b, 0);
const lost = succeeded.reduce((a, n) => a + (JOBS_PER_TENANT - n), 0);
console.log(`\n${total} handler runs in ${seconds.toFixed(2)} s; jobs not succeeded (lost): ${lost}`);
console.log('slots per shard:', router.admin.slots().perShard);
await router.close();
