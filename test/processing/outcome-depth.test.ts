// How many outcome writes a worker keeps in flight follows the storage's backend: on Postgres
// eight, so a group commit gathers up to a whole batch; elsewhere, and through a router's
// tenant, three. Counted on a real Postgres whose commits are held back by a row lock.
import test from 'ava';
import pg from 'pg';
import { MemoryBackend } from '../../src/backends/memory/memory-backend.js';
import { PostgresBackend } from '../../src/backends/postgres/postgres-backend.js';
import { JobClient } from '../../src/processing/job-client.js';
import { JobServer } from '../../src/processing/job-server.js';
import { createRouter } from '../../src/router/router.js';
import { outcomeDepth } from '../../src/storage/outcome-depth.js';
import type { Storage } from '../../src/storage/storage.js';
import { delay } from '../conformance/helpers.js';
import { dropSchema, freshSchema, PG_URL } from '../helpers/servers.js';

/** Runs of one worker while every outcome commit waits on a lock of the statistics counter. */
async function runsWhileCommitsWait(storage: Storage, schema: string): Promise<number> {
  const client = new JobClient(storage);
  let runs = 0;
  const server = new JobServer(storage, { workerCount: 1, retentionMs: 0, handlers: { quick: () => void runs++ } });
  await server.start();
  // One job first, so that the counter's row exists to be locked.
  await client.enqueue('quick', []);
  while ((await storage.monitoring.statistics()).succeeded < 1) await delay(10);
  const locker = new pg.Client({ connectionString: PG_URL });
  await locker.connect();
  try {
    await locker.query('BEGIN');
    await locker.query(`SELECT 1 FROM ${schema}.counters WHERE key = 'stats:succeeded' FOR UPDATE`);
    runs = 0;
    for (let i = 0; i < 20; i++) await client.enqueue('quick', []);
    await delay(1_500);
    const counted = runs;
    await locker.query('ROLLBACK');
    while ((await storage.monitoring.statistics()).succeeded < 21) await delay(10);
    return counted;
  } finally {
    await locker.end();
    await server.stop();
  }
}

test('a Postgres storage lets a worker keep eight outcome writes in flight: the ninth job runs, the tenth waits', async (t) => {
  const schema = freshSchema();
  const backend = new PostgresBackend({ connectionString: PG_URL, schema, poolSize: 4 });
  t.teardown(async () => {
    await backend.close();
    await dropSchema(schema);
  });
  const storage = backend.storage('depth');
  t.is(outcomeDepth(storage), 8);
  t.is(await runsWhileCommitsWait(storage, schema), 9);
});

test("a router's tenant on Postgres keeps the default three", async (t) => {
  const schema = freshSchema();
  const router = await createRouter({
    shards: [{ id: 'pg', backend: new PostgresBackend({ connectionString: PG_URL, schema, poolSize: 4 }) }],
    tenants: {},
  });
  t.teardown(async () => {
    await router.close();
    await dropSchema(schema);
  });
  const storage = router.tenant('depth');
  t.is(outcomeDepth(storage), 3);
  t.is(await runsWhileCommitsWait(storage, schema), 4);
});

test('memory keeps the default three', (t) => {
  t.is(outcomeDepth(new MemoryBackend().storage('depth')), 3);
});
