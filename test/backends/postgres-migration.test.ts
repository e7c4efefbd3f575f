// Migration 0015 (a job's history moves into jobs.history) run in place on a schema made by the
// migrations before it, holding 50,000 jobs in mixed states: nothing lost, no lease broken.
import test from 'ava';
import pg from 'pg';
import { PostgresBackend } from '../../src/backends/postgres/postgres-backend.js';
import { loadMigrations } from '../../src/backends/postgres/postgres-migrate.js';
import { sessionOptions } from '../../src/backends/postgres/postgres-session.js';
import { SQL } from '../../src/backends/postgres/postgres-statements.js';
import { dropSchema, freshSchema, PG_URL } from '../helpers/servers.js';

const WAITING = 30_000;
const LEASED = 2_000; // of the waiting, leased by the old fetch before the migration
const SCHEDULED = 8_000;
const SUCCEEDED = 12_000; // in a second namespace, kept a day
const PROCESSING = JSON.stringify({ name: 'Processing', data: { server: 'old' } });

/** Every job's history as job_states held it (before) or jobs.history holds it (after): [name, reason, data, whole ms]. */
const HISTORY_BEFORE = `SELECT job_id::text AS id, json_agg(json_build_array(name, reason, data, floor(extract(epoch FROM created_at) * 1000)) ORDER BY id) AS h
  FROM job_states GROUP BY job_id`;
const HISTORY_AFTER = `SELECT id::text AS id, (SELECT json_agg(json_build_array(e->>'n', e->>'r', e->'d', floor((e->>'t')::numeric)) ORDER BY k)
  FROM jsonb_array_elements(history) WITH ORDINALITY AS x(e, k)) AS h FROM jobs WHERE history <> '[]'`;
const ENTRIES = 'SELECT e.seq::text, e.ns, e.queue, e.job_id::text, e.token, e.lease_until, e.deliveries FROM queue_entries e ORDER BY e.seq';
const JOBS =
  'SELECT j.id::text, ns, type, args, queue, parameters, state_name, state_reason, state_data, state_at, created_at, expire_at FROM jobs j ORDER BY j.id';

test('migration 0015: 50,000 jobs made by the earlier migrations keep states, history and queue places; leases taken before it are completed after it', async (t) => {
  t.timeout(180_000);
  const schema = freshSchema();
  const client = new pg.Client({ connectionString: PG_URL, options: sessionOptions(schema) });
  await client.connect();
  let backend: PostgresBackend | undefined;
  t.teardown(async () => {
    await backend?.close();
    await client.end();
    await dropSchema(schema);
  });

  // The schema as migrate() left it before 0015.
  await client.query(`CREATE SCHEMA ${client.escapeIdentifier(schema)}`);
  await client.query('CREATE TABLE jobshard_migrations (version integer PRIMARY KEY, name text NOT NULL, applied_at timestamptz NOT NULL DEFAULT now())');
  const old = loadMigrations().filter((m) => m.version < 15);
  t.true(old.length >= 13);
  for (const m of old) {
    await client.query(m.sql);
    await client.query('INSERT INTO jobshard_migrations (version, name) VALUES ($1, $2)', [m.version, m.name]);
  }

  // Waiting jobs, each with its Enqueued row and queue entry, as the old createJobs wrote them.
  await client.query(
    `WITH j AS (
       INSERT INTO jobs (ns, type, args, queue, parameters, state_name, state_data, state_at)
       SELECT 'mig', 'work', format('[%s]', g), 'q', jsonb_build_object('n', g::text), 'Enqueued', '{}'::jsonb, clock_timestamp()
       FROM generate_series(1, $1::int) g RETURNING id, state_at
     ), s AS (INSERT INTO job_states (job_id, name, data, created_at) SELECT id, 'Enqueued', '{}'::jsonb, state_at FROM j)
     INSERT INTO queue_entries (ns, queue, job_id) SELECT 'mig', 'q', id FROM j ORDER BY id`,
    [WAITING],
  );
  // Leased by the old fetch function, which marks them Processing with a history row of its own.
  const leased = (
    await client.query<{ seq: string; token: string; job_id: string }>(
      "SELECT seq::text, token, job_id::text FROM jobshard_fetch('mig', ARRAY['q'], 600000, $1, true, $2::jsonb, ARRAY['Enqueued']) WHERE seq IS NOT NULL",
      [LEASED, PROCESSING],
    )
  ).rows;
  t.is(leased.length, LEASED);
  // Scheduled: a state with data and a member of the schedule set, no queue entry.
  await client.query(
    `WITH j AS (
       INSERT INTO jobs (ns, type, args, queue, state_name, state_reason, state_data, state_at)
       SELECT 'mig', 'later', '[]', 'q', 'Scheduled', 'in an hour', jsonb_build_object('enqueueAt', g::text), clock_timestamp()
       FROM generate_series(1, $1::int) g RETURNING id, state_at, state_data
     ), s AS (INSERT INTO job_states (job_id, name, reason, data, created_at) SELECT id, 'Scheduled', 'in an hour', state_data, state_at FROM j)
     INSERT INTO sets (ns, key, member, score) SELECT 'mig', 'schedule', id::text, id FROM j`,
    [SCHEDULED],
  );
  // Succeeded and kept: three history rows each, in the order they were written.
  await client.query(
    `WITH j AS (
       INSERT INTO jobs (ns, type, args, queue, state_name, state_data, state_at, expire_at)
       SELECT 'mig2', 'done', '[1]', 'other', 'Succeeded', '{"latency":"3"}'::jsonb, clock_timestamp(), now() + interval '1 day'
       FROM generate_series(1, $1::int) g RETURNING id, state_at
     )
     INSERT INTO job_states (job_id, name, reason, data, created_at)
     SELECT j.id, s.name, s.reason, s.data::jsonb, j.state_at - (3 - s.k) * interval '1 second'
     FROM j CROSS JOIN (VALUES (1, 'Enqueued', NULL, '{}'), (2, 'Processing', NULL, '{"server":"old"}'), (3, 'Succeeded', 'fine', '{"latency":"3"}')) AS s(k, name, reason, data)
     ORDER BY j.id, s.k`,
    [SUCCEEDED],
  );

  const before = {
    jobs: (await client.query(JOBS)).rows,
    entries: (await client.query(ENTRIES)).rows,
    history: new Map((await client.query<{ id: string; h: unknown }>(HISTORY_BEFORE)).rows.map((r) => [r.id, r.h])),
  };
  t.is(before.jobs.length, WAITING + SCHEDULED + SUCCEEDED);
  t.is(before.history.size, before.jobs.length);

  const started = performance.now();
  backend = new PostgresBackend({ connectionString: PG_URL, schema, poolSize: 4, sweepIntervalMs: 0 });
  await backend.open();
  t.log(`migrated ${before.jobs.length} jobs in ${(performance.now() - started).toFixed(0)} ms`);

  const versions = (await client.query<{ version: number }>('SELECT version FROM jobshard_migrations ORDER BY version')).rows.map((r) => r.version);
  t.true(versions.includes(15));
  t.is((await client.query("SELECT to_regclass('job_states') AS t")).rows[0].t, null, 'job_states is gone');

  // Nothing lost or changed: the job rows, every queue entry with its lease, and every history.
  t.deepEqual((await client.query(JOBS)).rows, before.jobs);
  t.deepEqual((await client.query(ENTRIES)).rows, before.entries);
  const after = new Map((await client.query<{ id: string; h: unknown }>(HISTORY_AFTER)).rows.map((r) => [r.id, r.h]));
  t.is(after.size, before.history.size);
  let differing = 0;
  for (const [id, h] of before.history) if (JSON.stringify(after.get(id)) !== JSON.stringify(h)) differing++;
  t.is(differing, 0, 'every history equal, entry by entry');

  // Read through the storage API.
  const mig = backend.storage('mig');
  const succeededId = before.jobs.find((j) => j.ns === 'mig2')!.id as string;
  t.deepEqual(
    (await backend.storage('mig2').jobs.history(succeededId)).map((h) => [h.name, h.reason, h.data]),
    [
      ['Enqueued', null, {}],
      ['Processing', null, { server: 'old' }],
      ['Succeeded', 'fine', { latency: '3' }],
    ],
  );
  t.deepEqual(await backend.storage('mig2').monitoring.stateCounts(), { Succeeded: SUCCEEDED });
  t.deepEqual(await mig.monitoring.stateCounts(), { Enqueued: WAITING - LEASED, Processing: LEASED, Scheduled: SCHEDULED });

  // The leases taken before the migration are completed after it, under their tokens.
  const ops = leased.map((l) => ({ op: 'setJobState', jobId: l.job_id, state: { name: 'Succeeded', data: {} } }));
  await client.query(SQL.commitRemoving, ['mig', leased.map((l) => l.job_id), JSON.stringify(ops), leased.map((l) => l.seq), leased.map((l) => l.token)]);
  t.deepEqual(
    (await mig.jobs.history(leased[0]!.job_id)).map((h) => h.name),
    ['Enqueued', 'Processing', 'Succeeded'],
  );

  // The waiting jobs come out in their old FIFO order, each once, marked by the new fetch.
  const fetched: string[] = [];
  for (;;) {
    const { rows } = await client.query<{ seq: string | null; job_id: string; token: string }>(SQL.fetch, [
      'mig',
      ['q'],
      60_000,
      1_000,
      false,
      PROCESSING,
      ['Enqueued'],
    ]);
    // A batch's rows come in no particular order; the batches come in queue order.
    const got = rows.filter((r) => r.seq !== null).sort((a, b) => Number(a.seq) - Number(b.seq));
    if (got.length === 0) break;
    fetched.push(...got.map((r) => r.job_id));
  }
  const leasedSeqs = new Set(leased.map((l) => l.seq));
  const waitingIds = before.entries.filter((e) => !leasedSeqs.has(e.seq as string)).map((e) => e.job_id as string);
  t.is(fetched.length, WAITING - LEASED);
  t.deepEqual(fetched, waitingIds);
  t.deepEqual(
    (await mig.jobs.history(fetched[fetched.length - 1]!)).map((h) => h.name),
    ['Enqueued', 'Processing'],
  );
  t.deepEqual(await mig.monitoring.stateCounts(), { Processing: WAITING - LEASED, Succeeded: LEASED, Scheduled: SCHEDULED });
});
