// Resharding a real Redis Cluster under jobshard: a namespace whose slot is half migrated, and a
// drain while `redis-cli --cluster reshard` moves a third of the slots. The long version is
// `npm run bench:reshard`.
import test from 'ava';
import { execFile } from 'node:child_process';
import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import calculateSlot from 'cluster-key-slot';
import { Redis } from 'ioredis';
import { RedisBackend } from '../../src/backends/redis/redis-backend.js';
import { JobClient } from '../../src/processing/job-client.js';
import { createRouterFromFile } from '../../src/router/router.js';
import { ShardUnavailableError } from '../../src/storage/errors.js';
import { PrivateRedisCluster } from '../helpers/redis-cluster.js';
import { drainDuringReshard } from '../helpers/reshard-drain.js';
import { TEST_POLL_MS } from '../helpers/servers.js';

const run = promisify(execFile);
const cluster = new PrivateRedisCluster();
await cluster.start();
test.after.always(() => cluster.stop());

const cli = async (port: number, ...args: string[]) => (await run('redis-cli', ['-p', String(port), ...args])).stdout.trim();
const nodeId = async (port: number) => (await cluster.nodeIds())[cluster.ports.indexOf(port)]!;
async function ownerOf(slot: number): Promise<number> {
  for (const port of cluster.ports) {
    const line = (await cli(port, 'cluster', 'nodes')).split('\n').find((l) => l.includes('myself'))!;
    const owns = line
      .split(' ')
      .slice(8)
      .some((range) => {
        const [a, b] = range.split('-').map(Number);
        return slot >= a! && slot <= (b ?? a!);
      });
    if (owns) return port;
  }
  throw new Error(`no master owns slot ${slot}`);
}

test.serial('a JSON tenant map names a Cluster by its seed nodes; jobs run on it and land on its masters', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'jobshard-map-'));
  const path = join(dir, 'tenants.json');
  const seeds = cluster.ports.map((p) => `127.0.0.1:${p}`);
  await writeFile(path, JSON.stringify({ shards: [{ id: 'c1', backend: { redis: { cluster: seeds, prefix: 'json:' } } }] }));
  const router = await createRouterFromFile(path);
  t.teardown(() => router.close());
  const ids = await Promise.all(Array.from({ length: 20 }, (_, i) => new JobClient(router.tenant(`json-${i}`)).enqueue('work', [i], { queue: 'q' })));
  const job = await router.tenant('json-3').jobs.get(ids[3]!);
  t.deepEqual(job.args, [3]);
  const perMaster = await Promise.all(cluster.ports.map(async (p) => Number(await cli(p, 'eval', "return #redis.call('keys', 'json:*')", '0'))));
  t.true(perMaster.filter((n) => n > 0).length >= 2, `the tenants' keys spread over the masters: ${perMaster.join(', ')}`);
});

test.serial('a namespace whose slot is half migrated waits for it: no script runs on a part of its keys', async (t) => {
  const client = cluster.client();
  const backend = new RedisBackend({ client, prefix: 'half:', pollIntervalMs: TEST_POLL_MS });
  t.teardown(async () => {
    await backend.close();
    client.disconnect();
  });
  const storage = backend.storage('tenant-half');
  const id = await storage.jobs.create({ type: 'work', args: [1], queue: 'q', state: { name: 'Enqueued' }, enqueue: true });
  const slot = calculateSlot('tenant-half');
  const source = await ownerOf(slot);
  const target = cluster.ports.find((p) => p !== source)!;
  await cli(target, 'cluster', 'setslot', String(slot), 'importing', await nodeId(source));
  await cli(source, 'cluster', 'setslot', String(slot), 'migrating', await nodeId(target));
  // Move the job's own hash but not the rest of the namespace (its queue, its indexes).
  const direct = new Redis(source, '127.0.0.1');
  t.teardown(() => direct.disconnect());
  const jobKey = (await direct.cluster('GETKEYSINSLOT', slot, 1000)).find((k) => k === `half:{tenant-half}:job:${id}`);
  t.truthy(jobKey, 'the job hash is on the source before the move');
  t.is(await direct.migrate('127.0.0.1', target, jobKey!, 0, 5_000), 'OK');

  // Before the slot guard, this script ran on the importing node, found no queue there and answered
  // an empty fetch (and an outcome write, JobNotFoundError): now it is refused with a typed error.
  const err = await storage.queues.tryFetch(['q'], { invisibilityTimeoutMs: 30_000 }).then(
    (job) => `ran: ${JSON.stringify(job?.jobId ?? null)}`,
    (e: unknown) => e,
  );
  t.true(err instanceof ShardUnavailableError, String(err));
  t.regex((err as Error).message, /migrating/);

  // Finish the migration as redis-cli does: every remaining key, then the slot's new owner everywhere.
  for (;;) {
    const keys = await direct.cluster('GETKEYSINSLOT', slot, 1000);
    if (keys.length === 0) break;
    await direct.migrate('127.0.0.1', target, '', 0, 5_000, 'KEYS', ...keys);
  }
  const targetId = await nodeId(target);
  for (const port of cluster.ports) await cli(port, 'cluster', 'setslot', String(slot), 'node', targetId);

  const job = await storage.queues.tryFetch(['q'], { invisibilityTimeoutMs: 30_000 });
  t.is(job?.jobId, id, 'the job is fetched once the slot has settled');
  t.is((await storage.jobs.get(id)).state, 'Enqueued', 'the job kept its state through the move');
});

test.serial('a drain during `redis-cli --cluster reshard`: no job lost, none run twice, no server error', async (t) => {
  const r = await drainDuringReshard(cluster, {
    jobs: 3_000,
    tenants: 12,
    prefix: 'drain:',
    invisibilityTimeoutMs: 4_000,
    pollIntervalMs: TEST_POLL_MS,
    handlerMs: 2,
    slots: 5461,
  });
  t.log(`${r.jobs.size} jobs, ${r.ranDuring} runs during the reshard`);
  t.true(r.ranDuring > 0, 'jobs ran while slots moved');
  t.deepEqual(
    [...r.jobs].filter((k) => !r.runs.has(k)),
    [],
    'no job lost',
  );
  t.deepEqual(r.errors, []);
  t.is(
    [...r.runs.values()].reduce((a, n) => a + n - 1, 0),
    0,
    'no job ran twice',
  );
  t.deepEqual(r.left, {}, 'every job Succeeded');
});
