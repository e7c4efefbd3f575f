// Postgres-only behaviour: migrations, LISTEN fallback, crashes, sweeper, connection errors.
import test, { type ExecutionContext } from 'ava';
import { randomUUID } from 'node:crypto';
import pg from 'pg';
import { PostgresBackend } from '../../src/backends/postgres/postgres-backend.js';
import { sessionOptions } from '../../src/backends/postgres/postgres-session.js';
import { SQL } from '../../src/backends/postgres/postgres-statements.js';
import { UNIT_SQL } from '../../src/backends/postgres/postgres-unit-stream.js';
import { loadMigrations } from '../../src/backends/postgres/postgres-migrate.js';
import type { Storage } from '../../src/storage/storage.js';

/** Every migration the package ships, each applied once: [version, 1]. */
const EACH_ONCE = loadMigrations().map((m) => [m.version, 1]);
import { enqueueJob } from '../conformance/helpers.js';
import { kill, startChild } from '../helpers/child.js';
import { adminQuery, dropSchema, freshSchema, PG_URL } from '../helpers/servers.js';

const schemas: string[] = [];
const backends: PostgresBackend[] = [];
function backendFor(schema: string, extra: Partial<ConstructorParameters<typeof PostgresBackend>[0]> = {}): PostgresBackend {
  if (!schemas.includes(schema)) schemas.push(schema);
  const b = new PostgresBackend({ connectionString: PG_URL, schema, poolSize: 4, ...extra });
  backends.push(b);
  return b;
}
test.after.always(async () => {
  await Promise.all(backends.map((b) => b.close()));
  for (const s of schemas) await dropSchema(s);
});

test('migrations: 8 backends (8 separate sessions) starting at once apply each migration exactly once', async (t) => {
  const schema = freshSchema();
  const many = Array.from({ length: 8 }, () => backendFor(schema, { poolSize: 1 }));
  await Promise.all(many.map((b) => b.open()));
  const rows = await adminQuery<{ version: number; n: string }>(
    `SELECT version, count(*) AS n FROM ${schema}.jobshard_migrations GROUP BY version ORDER BY version`,
  );
  t.true(EACH_ONCE.length >= 3);
  t.deepEqual(
    rows.map((r) => [r.version, Number(r.n)]),
    EACH_ONCE,
  );
  // And they all work on the shared schema.
  const id = await enqueueJob(many[3]!.storage('mig'), 'q');
  t.is((await many[6]!.storage('mig').queues.fetch(['q'])).jobId, id);
});

test('migrations: opening an up-to-date schema again applies nothing and keeps data', async (t) => {
  const schema = freshSchema();
  const first = backendFor(schema);
  const id = await enqueueJob(first.storage('keep'), 'q');
  await first.close();
  const second = backendFor(schema);
  await second.open();
  t.is((await second.storage('keep').jobs.get(id)).state, 'Enqueued');
  const rows = await adminQuery(`SELECT * FROM ${schema}.jobshard_migrations`);
  t.is(rows.length, EACH_ONCE.length);
});

test('LISTEN: a waiting fetch wakes within milliseconds, and still gets jobs by polling when the listener is killed', async (t) => {
  const schema = freshSchema();
  const consumer = backendFor(schema, { fallbackPollMs: 100 });
  const producer = backendFor(schema);
  const ns = `n-${randomUUID()}`;
  await Promise.all([consumer.open(), producer.open()]);

  // Enqueued by another backend (another process, as far as Postgres knows): only NOTIFY can wake us early.
  let waiting = consumer.storage(ns).queues.fetch(['q'], { signal: AbortSignal.timeout(5_000) });
  await new Promise((r) => setTimeout(r, 100));
  let started = Date.now();
  let id = await enqueueJob(producer.storage(ns), 'q');
  t.is((await waiting).jobId, id);
  const notifyLatency = Date.now() - started;
  t.true(notifyLatency < 1_000, `woken after ${notifyLatency} ms`);

  const killed = await adminQuery<{ ok: boolean }>('SELECT pg_terminate_backend(pid) AS ok FROM pg_stat_activity WHERE application_name = $1', [
    `jobshard-listener:${schema}`,
  ]);
  t.true(killed.length >= 2, 'both listeners were terminated');
  waiting = consumer.storage(ns).queues.fetch(['q'], { signal: AbortSignal.timeout(5_000) });
  await new Promise((r) => setTimeout(r, 50));
  started = Date.now();
  id = await enqueueJob(producer.storage(ns), 'q');
  t.is((await waiting).jobId, id);
  t.true(Date.now() - started < 2_000, `fetched after ${Date.now() - started} ms without LISTEN`);

  // The listener comes back by itself.
  for (let i = 0; i < 50; i++) {
    const rows = await adminQuery('SELECT 1 FROM pg_stat_activity WHERE application_name = $1', [`jobshard-listener:${schema}`]);
    if (rows.length >= 2) break;
    await new Promise((r) => setTimeout(r, 100));
  }
  const back = await adminQuery('SELECT 1 FROM pg_stat_activity WHERE application_name = $1', [`jobshard-listener:${schema}`]);
  t.is(back.length, 2, 'listeners reconnected');
});

test('locks: a killed holder process loses its lock when the lease lapses; the next token is larger', async (t) => {
  const schema = freshSchema();
  const b = backendFor(schema);
  await b.open();
  const ns = `n-${randomUUID()}`;
  const holder = await startChild(
    './lock-holder.ts',
    [JSON.stringify({ kind: 'postgres', url: PG_URL, schema, namespace: ns, resource: 'crash-lock', ttlMs: 1_500 })],
    /token (\d+)/,
  );
  const heldToken = Number(holder.match[1]);
  // While the holder lives, its renewals keep the lock even across a connection it loses.
  await adminQuery('SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = $1 AND pid <> pg_backend_pid()', [`jobshard:${schema}`]);
  await new Promise((r) => setTimeout(r, 2_000)); // past the first lease: only renewals keep it
  await t.throwsAsync(b.storage(ns).locks.acquire('crash-lock', { timeoutMs: 0 }), { name: 'LockTimeoutError' });
  await kill(holder.child);
  const started = Date.now();
  const next = await b.storage(ns).locks.acquire('crash-lock', { timeoutMs: 8_000 });
  const waited = Date.now() - started;
  t.true(waited < 4_000, `free after ${waited} ms (lease 1.5 s)`);
  t.true(next.token > heldToken);
  await next.release();
});

test('deadlock: a commit Postgres picks as a deadlock victim is sent again, and lands', async (t) => {
  const schema = freshSchema();
  const s = backendFor(schema).storage('deadlock');
  const id = await s.jobs.create({ type: 't', args: [], queue: 'q', state: { name: 'Enqueued' }, enqueue: true });
  const fetched = (await s.queues.tryFetch(['q']))!;
  const other = new pg.Client({ connectionString: PG_URL });
  await other.connect();
  t.teardown(() => other.end());
  // This session checks for deadlocks only after 30 s, the commit's after 1 s (the default): the
  // commit's check finds the cycle first whatever the machine's load. With both at 1 s, a stalled
  // commit backend once let this session's check run first, and this session was the victim.
  await other.query("SET deadlock_timeout = '30s'");
  await other.query('BEGIN');
  await other.query(`SELECT 1 FROM ${schema}.queue_entries WHERE job_id = $1 FOR UPDATE`, [id]);
  // The commit locks the job, then waits for the entry this session holds...
  const commit = s.transaction((tx) => {
    tx.setJobState(id, { name: 'Succeeded' });
    tx.removeFromQueue(fetched);
  });
  // Awaited, not timed: on a loaded machine the commit may take longer than any fixed wait to
  // reach the entry, and then the two waits begin close together and either may be the victim.
  const otherPid = (await other.query<{ pid: number }>('SELECT pg_backend_pid() AS pid')).rows[0]!.pid;
  for (let i = 0; ; i++) {
    // From a session of its own: inside `other`'s transaction, pg_stat_activity would stay as first read.
    if ((await adminQuery('SELECT 1 FROM pg_stat_activity WHERE $1::int = ANY (pg_blocking_pids(pid))', [otherPid])).length > 0) break;
    if (i > 300) throw new Error('the commit never waited for the entry');
    await new Promise((r) => setTimeout(r, 20));
  }
  // ...and this session then waits for the job. The commit's deadlock check (after 1 s) finds the
  // cycle and rolls the commit back; the backend sends it again.
  await other.query(`SELECT 1 FROM ${schema}.jobs WHERE id = $1 FOR UPDATE`, [id]);
  await other.query('ROLLBACK');
  await commit;
  t.is((await s.jobs.get(id)).state, 'Succeeded');
  t.deepEqual(await s.monitoring.queues(), []);
});

test('sweeper: lapsed rows are deleted in batches, live ones kept', async (t) => {
  const schema = freshSchema();
  const b = backendFor(schema, { sweepIntervalMs: 0, sweepBatch: 7 });
  const s = b.storage('sweep');
  for (let i = 0; i < 20; i++) {
    // Expiry is set in the same transaction as the state: a slow round trip cannot expire the job first.
    const id = await s.jobs.create({ type: 't', args: [], queue: 'q' });
    await s.transaction((tx) => {
      tx.addJobState(id, { name: 'Created' });
      tx.expireJob(id, 50);
    });
  }
  const kept = await s.jobs.create({ type: 't', args: [], queue: 'q' });
  await s.transaction((tx) => {
    for (let i = 0; i < 15; i++) tx.hashSet(`h${i}`, { f: 'v' });
    for (let i = 0; i < 15; i++) tx.expire('hash', `h${i}`, 50);
    tx.counterIncrement('c', 1, { expireInMs: 50 });
    tx.listInsert('l', 'x');
    tx.expire('list', 'l', 50);
  });
  await new Promise((r) => setTimeout(r, 150));
  t.is(await b.sweep(), 20 + 15 + 1 + 1);
  const count = async (table: string) => Number((await adminQuery<{ n: string }>(`SELECT count(*) AS n FROM ${schema}.${table}`))[0]!.n);
  t.is(await count('jobs'), 1, 'each with its history (jobs.history, in the row)');
  t.is(await count('hashes'), 0);
  t.is(await count('counters'), 0);
  t.is((await s.jobs.get(kept)).id, kept);
  t.is(await b.sweep(), 0);
});

test('expireJob 0: the job is deleted in the commit; a later op of the same call that keeps it keeps its new state too', async (t) => {
  const schema = freshSchema();
  const b = backendFor(schema, { sweepIntervalMs: 0 });
  const s = b.storage('gone');
  const ids = await createEnqueued(s, 6);
  await s.transaction((tx) => {
    for (const id of ids.slice(0, 3)) {
      tx.setJobState(id, { name: 'Succeeded' });
      tx.expireJob(id, 0);
    }
    // The commit skips the state's UPDATE of a job it is about to delete (0015); these jobs are
    // kept by a later op, so their UPDATE must still land.
    tx.setJobState(ids[3]!, { name: 'Succeeded', reason: 'kept' });
    tx.expireJob(ids[3]!, 0);
    tx.persistJob(ids[3]!);
    tx.setJobState(ids[4]!, { name: 'Succeeded' });
    tx.expireJob(ids[4]!, 0);
    tx.expireJob(ids[4]!, 60_000);
  });
  const count = async (table: string) => Number((await adminQuery<{ n: string }>(`SELECT count(*) AS n FROM ${schema}.${table}`))[0]!.n);
  t.is(await count('jobs'), 3);
  for (const id of [ids[3]!, ids[4]!]) {
    const job = await s.jobs.get(id);
    t.is(job.state, 'Succeeded');
    t.deepEqual(
      (await s.jobs.history(id)).map((h) => h.name),
      ['Enqueued', 'Succeeded'],
    );
  }
  t.is((await s.jobs.get(ids[3]!)).stateReason, 'kept');
  t.is((await s.jobs.get(ids[3]!)).expireAt, null);
  t.truthy((await s.jobs.get(ids[4]!)).expireAt);
  t.deepEqual(
    (await s.jobs.history(ids[5]!)).map((h) => h.name),
    ['Enqueued'],
  );
  t.is(await b.sweep(), 0, 'nothing left for the sweeper');
});

test('sweeper: runs on its own timer', async (t) => {
  const schema = freshSchema();
  const b = backendFor(schema, { sweepIntervalMs: 100 });
  const s = b.storage('timer');
  await s.jobs.create({ type: 't', args: [], queue: 'q', expireInMs: 10 });
  await new Promise((r) => setTimeout(r, 600));
  t.is(Number((await adminQuery<{ n: string }>(`SELECT count(*) AS n FROM ${schema}.jobs`))[0]!.n), 0);
});

test('connection errors: an unreachable server fails fast with ShardUnavailableError naming host and port', async (t) => {
  const b = new PostgresBackend({ connectionString: 'postgres://postgres@127.0.0.1:5999/test', connectTimeoutMs: 1_000 });
  backends.push(b);
  const started = Date.now();
  const err = await t.throwsAsync(b.storage('x').jobs.create({ type: 't', args: [], queue: 'q' }));
  t.is((err as { code?: string }).code, 'SHARD_UNAVAILABLE');
  t.regex(err!.message, /127\.0\.0\.1:5999/);
  t.true(Date.now() - started < 1_500);
});

test('config: bad options get a ConfigError that says what to fix', (t) => {
  const bad: Array<[unknown, RegExp]> = [
    [{ connectionString: PG_URL, schema: 'Bad-Schema' }, /schema/],
    [{ connectionString: PG_URL, schema: 'x; drop table jobs' }, /schema/],
    [{}, /connectionString/],
    [{ connectionString: PG_URL, poolSize: 0 }, /poolSize/],
    [{ connectionString: PG_URL, bogus: 1 }, /bogus/],
    [{ connectionString: PG_URL, preparedStatements: 'yes' }, /preparedStatements/],
  ];
  for (const [options, message] of bad) {
    const err = t.throws(() => new PostgresBackend(options as never));
    t.is((err as { code?: string }).code, 'CONFIG_INVALID');
    t.regex(err!.message, message);
  }
});

test('config: options in the connection string are kept, and cannot move the backend out of its schema', async (t) => {
  // pg lets the connection string's parameters override the config it is given: an options=…
  // in the URL replaced the schema's search_path, and two backends of different schemas wrote
  // into one (public), each migrating it under its own lock.
  // 1.5 s, not less: every commit that notifies waits for Postgres' cluster-wide NOTIFY lock, and
  // beside the whole suite that wait alone passed 100 ms (CI failed on it).
  const url = new URL(PG_URL);
  url.searchParams.set('options', '-c lock_timeout=1500');
  const [a, b] = [freshSchema(), freshSchema()];
  const [ba, bb] = [backendFor(a, { connectionString: url.toString() }), backendFor(b, { connectionString: url.toString() })];
  await enqueueJob(ba.storage('n'), 'q');
  await enqueueJob(bb.storage('n'), 'q');
  await enqueueJob(bb.storage('n'), 'q');
  t.deepEqual(
    (await adminQuery<{ n: string }>(`SELECT count(*) AS n FROM ${a}.jobs`)).map((r) => Number(r.n)),
    [1],
  );
  t.deepEqual(
    (await adminQuery<{ n: string }>(`SELECT count(*) AS n FROM ${b}.jobs`)).map((r) => Number(r.n)),
    [2],
  );
  // The URL's own option still holds: an enqueue behind a held table lock gives up after 1.5 s.
  const holder = new pg.Client({ connectionString: PG_URL });
  await holder.connect();
  t.teardown(() => holder.end());
  await holder.query('BEGIN');
  await holder.query(`LOCK TABLE ${a}.queue_entries IN ACCESS EXCLUSIVE MODE`);
  const started = Date.now();
  const err = await t.throwsAsync(enqueueJob(ba.storage('n'), 'q'));
  t.regex(String(err?.message), /lock timeout/);
  const waited = Date.now() - started;
  t.true(waited >= 1_400 && waited < 10_000, `gave up after ${waited} ms`);
  await holder.query('ROLLBACK');
});

test('durability: fetch and ack commit without waiting for the WAL flush; enqueues, job writes and outcomes with acks wait for it', async (t) => {
  const schema = freshSchema();
  const backend = backendFor(schema);
  const ns = `d-${randomUUID()}`;
  const id = await enqueueJob(backend.storage(ns), 'q');
  const client = new pg.Client({ connectionString: PG_URL, options: `-c search_path=${schema}` });
  await client.connect();
  t.teardown(() => client.end());
  // Each statement runs in an explicit transaction, so SHOW reads the setting its commit would use.
  const commitMode = async (sql: string, params: unknown[]) => {
    await client.query('BEGIN');
    try {
      await client.query(sql, params);
      return (await client.query<{ synchronous_commit: string }>('SHOW synchronous_commit')).rows[0]!.synchronous_commit;
    } finally {
      await client.query('ROLLBACK');
    }
  };
  t.is(await commitMode(SQL.fetch, [ns, ['q'], 60_000, 1, false, null, null]), 'off');
  t.is(await commitMode(SQL.ack, [ns, ['1'], ['x']]), 'off');
  const row = [['t'], ['[]'], ['q'], ['{}'], [null], [null], [true]];
  t.is(await commitMode(SQL.createJobs, [ns, ...row]), 'on');
  t.is(await commitMode(SQL.commit, [ns, [id], JSON.stringify([{ op: 'setJobParameter', jobId: id, name: 'p', value: 'v' }])]), 'on');
  t.is(
    await commitMode(SQL.commitRemoving, [ns, [id], JSON.stringify([{ op: 'setJobParameter', jobId: id, name: 'p', value: 'v' }]), [], []]),
    'on',
    'an outcome with its acks waits for the flush',
  );
  const kept = JSON.stringify({ names: ['Succeeded'], reasons: [null], data: [{}], entries: ['[]'], expireMs: [60_000] });
  t.is(await commitMode(SQL.commitSetStates, [ns, [id], kept, '[]', [], []]), 'on', 'so does one that sets states in one UPDATE');
  t.is(await commitMode(SQL.commitDeleting, [ns, [id], '[]', [], []]), 'on', 'and one that deletes its jobs');
  t.is(await commitMode(SQL.tryLock, [ns, 'r', 1_000]), 'on');
});

test('preparedStatements: false (for poolers in transaction mode): enqueue, fetch, commit and ack still work', async (t) => {
  const backend = backendFor(freshSchema(), { preparedStatements: false });
  const s = backend.storage(`u-${randomUUID()}`);
  const id = await enqueueJob(s, 'q');
  const fetched = await s.queues.fetch(['q'], { withJob: true });
  t.is(fetched.job?.id, id);
  await s.transaction((tx) => tx.setJobState(id, { name: 'Succeeded' }));
  await fetched.ack();
  t.is((await s.jobs.get(id)).state, 'Succeeded');
  t.is(await s.queues.tryFetch(['q']), null);
});

/** A fresh schema and a namespace in it, for the 'plans' tests. */
function planScene(): { schema: string; ns: string; s: Storage } {
  const schema = freshSchema();
  const ns = `plan-${randomUUID()}`;
  return { schema, ns, s: backendFor(schema).storage(ns) };
}

/** n jobs created at once, each enqueued on queue 'q'. */
function createEnqueued(s: Storage, n: number): Promise<string[]> {
  return Promise.all(Array.from({ length: n }, () => s.jobs.create({ type: 't', args: [], queue: 'q', state: { name: 'Enqueued' }, enqueue: true })));
}

/**
 * A session on the schema that first analyzes `analyze` (the tables whose statistics the test
 * wants), then logs the plan of every statement it runs, nested ones included, to `plans`
 * (auto_explain, as notices to this session).
 */
async function explainingClient(t: ExecutionContext, schema: string, analyze: string[]): Promise<{ client: pg.Client; plans: string[] }> {
  // A session as the backend opens them (its planner settings included).
  const client = new pg.Client({ connectionString: PG_URL, options: sessionOptions(schema) });
  await client.connect();
  t.teardown(() => client.end());
  // Table names from the test itself, never input.
  for (const table of analyze) await client.query(`ANALYZE ${table}`);
  const plans: string[] = [];
  client.on('notice', (msg) => plans.push(msg.message ?? ''));
  for (const sql of [
    "LOAD 'auto_explain'",
    'SET auto_explain.log_min_duration = 0',
    'SET auto_explain.log_nested_statements = on',
    "SET auto_explain.log_level = 'notice'",
    "SET client_min_messages = 'notice'",
  ])
    await client.query(sql);
  return { client, plans };
}

test('plans: a fetch reaches each leased job by primary key when only queue_entries has statistics', async (t) => {
  // The slow peer runs (150-200 ms a fetch at a 10,000-job backlog) came when autovacuum had
  // analyzed queue_entries but not yet jobs: the fetch's plan then scanned the namespace's part of
  // jobs_by_state once per leased entry (8 of 8 fetches here, with the joins of the first 0006).
  // auto_explain, logged to this session as notices, shows every nested statement's plan.
  const { schema, ns, s } = planScene();
  await createEnqueued(s, 300);
  const { client, plans } = await explainingClient(t, schema, ['queue_entries']);
  const processing = JSON.stringify({ name: 'Processing', data: {} });
  for (let i = 0; i < 8; i++) {
    const { rows } = await client.query(SQL.fetch, [ns, ['q'], 60_000, 10, true, processing, ['Enqueued']]);
    t.is(rows.filter((r: { seq: unknown }) => r.seq !== null).length, 10);
    t.true(rows.every((r: { seq: unknown; j_state_name: unknown }) => r.seq === null || r.j_state_name === 'Processing'));
  }
  const fetchPlans = plans.filter((p) => p.includes('queue_entries'));
  t.true(fetchPlans.length >= 8, `${fetchPlans.length} fetch plans seen`);
  // Plan nodes name the index ("using jobs_by_state", "on jobs_by_state"); the query text's comments may too.
  t.deepEqual(
    fetchPlans.filter((p) => /(using|on) jobs_by_state/.test(p)),
    [],
    'no fetch plan scans jobs by state',
  );
});

test('plans: without statistics, a fetch at a 100,000-entry backlog walks the queue in index order and sorts nothing', async (t) => {
  // A never-analyzed queue_entries is estimated from its size: at 100,000 entries the planner
  // believed a queue held 2 of them and picked them with a bitmap scan of the whole queue and a
  // sort, a plan plpgsql then kept for the session: 46-52 ms a 64-entry fetch, 2.9-3.1 ms with
  // the index walk (50 fetches each way, the scenario of this test).
  const { schema, ns, s } = planScene();
  await s.queues.tryFetch(['q']);
  const { client, plans } = await explainingClient(t, schema, []);
  // Entries only (fetched without their jobs): 100,000 job rows would add seconds and change no plan.
  await client.query("INSERT INTO queue_entries (ns, queue, job_id) SELECT $1, 'q', g FROM generate_series(1, 100000) g", [ns]);
  for (let i = 0; i < 8; i++) {
    const { rows } = await client.query(SQL.fetch, [ns, ['q'], 60_000, 64, false, null, null]);
    t.deepEqual(
      rows
        .filter((r: { seq: unknown }) => r.seq !== null)
        .map((r: { job_id: string }) => Number(r.job_id))
        .sort((a, b) => a - b),
      Array.from({ length: 64 }, (_, k) => i * 64 + k + 1),
      "the queue's head, in order",
    );
  }
  // An empty queue: the function's other statement, the next lease to lapse, runs too.
  await client.query(SQL.fetch, [ns, ['none'], 60_000, 64, false, null, null]);
  const picks = plans.filter((p) => p.includes('CTE picked'));
  t.true(picks.length >= 9, `${picks.length} fetch plans seen`);
  t.true(
    plans.some((p) => p.includes('min(c.lease_until)')),
    'the next-lapse statement was planned',
  );
  t.deepEqual(
    picks.filter((p) => /Sort Key: c(_\d+)?\.seq|Bitmap Heap Scan on queue_entries c\b/.test(p)),
    [],
    'no pick sorts the queue',
  );
  t.deepEqual(
    plans.filter((p) => /Seq Scan on|Bitmap Heap Scan on|JIT:/.test(p)),
    [],
    'every statement reaches its rows by an index, without JIT',
  );
});

test("plans: a fetch from a namespace behind another's backlog walks its own queue by the fetch index", async (t) => {
  // The fetch runs with generic plans (0021). With the namespace tested by =, the generic plan of
  // the pick walked the primary key (entries in the order they were made) and filtered by
  // namespace: behind another namespace's 20,000 entries, 10 ms a fetch against 0.2.
  const { schema, ns, s } = planScene();
  await s.queues.tryFetch(['q']);
  const { client, plans } = await explainingClient(t, schema, []);
  // Made first, and named to sort after this test's namespace: the index led by the namespace is
  // then out of the table's order, which made the generic plan prefer the primary key.
  await client.query("INSERT INTO queue_entries (ns, queue, job_id) SELECT 'zz-other', 'q', g FROM generate_series(1, 20000) g");
  await client.query("INSERT INTO queue_entries (ns, queue, job_id) SELECT $1, 'q', g FROM generate_series(1, 200) g", [ns]);
  await client.query('VACUUM ANALYZE queue_entries');
  for (let i = 0; i < 8; i++) {
    const { rows } = await client.query(SQL.fetch, [ns, ['q'], 60_000, 16, false, null, null]);
    t.is(rows.filter((r: { seq: unknown }) => r.seq !== null).length, 16);
  }
  await client.query(SQL.fetch, [ns, ['q', 'none'], 60_000, 200, false, null, null]);
  const picks = plans.filter((p) => p.includes('CTE picked'));
  t.true(picks.length >= 9, `${picks.length} pick plans seen`);
  t.deepEqual(
    picks.filter((p) => !/Index Scan using queue_entries_fetch on queue_entries c(_\d+)?\b/.test(p)),
    [],
    "every pick walks the namespace's queue in the fetch index",
  );
  const next = plans.filter((p) => p.includes('min(c.lease_until)'));
  t.true(next.length >= 1, 'the next-lapse statement was planned');
  t.deepEqual(
    next.filter((p) => !/queue_entries_fetch/.test(p)),
    [],
    "the next lapse is read from the namespace's queues in the fetch index",
  );
});

test('plans: commits, acks and sweeps first planned on small tables reach rows by index at a 20,000-job backlog', async (t) => {
  // plpgsql keeps a statement's plan for the session. The commit's deletes by id (= ANY) were
  // first planned while the tables were a page or two, as sequential scans, and kept them: in the
  // slow peer-bench rounds every group commit scanned all of jobs and job_states (4.5 ms each, a
  // third of the drain's rate).
  const { schema, ns, s } = planScene();
  await createEnqueued(s, 400);
  const { client, plans } = await explainingClient(t, schema, []);
  const processing = JSON.stringify({ name: 'Processing', data: {} });
  // A worker's round: 50 jobs fetched and acknowledged, 25 kept with their outcome, 24 deleted at
  // the end of their commit (expired with 0), one left for the sweeper (1 ms).
  const round = async () => {
    const { rows } = await client.query(SQL.fetch, [ns, ['q'], 60_000, 50, true, processing, ['Enqueued']]);
    const leased = rows.filter((r: { seq: unknown }) => r.seq !== null) as Array<{ seq: string; token: string; job_id: string }>;
    t.is(leased.length, 50);
    t.is((await client.query(SQL.ack, [ns, leased.map((r) => r.seq), leased.map((r) => r.token)])).rows.length, 50);
    const ids = leased.map((r) => r.job_id);
    // Half kept, their outcomes set in one UPDATE (0026), some with a Processing state added first;
    // the rest deleted (49 with 0 ms, one left for the sweeper with 1 ms).
    const kept = ids.slice(0, 25);
    const entry = (name: string) => ({ n: name, r: null, d: {}, t: 0 });
    const states = {
      names: kept.map(() => 'Succeeded'),
      reasons: kept.map(() => null),
      data: kept.map(() => ({})),
      entries: kept.map((_, i) => JSON.stringify([...(i % 2 ? [entry('Processing')] : []), entry('Succeeded')])),
      expireMs: kept.map(() => 60_000),
    };
    await client.query(SQL.commitSetStates, [ns, kept, JSON.stringify(states), '[]', [], []]);
    // A commit that only deletes takes the DELETE as its lock (0016; 0025 as the client sends it
    // now, with a counter); one with 1 ms locks first.
    const gone = ids.slice(26);
    const half = gone.length >> 1;
    await client.query(SQL.commit, [ns, gone.slice(0, half), JSON.stringify(gone.slice(0, half).map((jobId) => ({ op: 'expireJob', jobId, ms: 0 })))]);
    const counter = [{ op: 'counterIncrement', key: 'stats:succeeded', by: gone.length - half, expireInMs: null }];
    await client.query(SQL.commitDeleting, [ns, gone.slice(half), JSON.stringify(counter), [], []]);
    await client.query(SQL.commit, [ns, [ids[25]], JSON.stringify([{ op: 'expireJob', jobId: ids[25], ms: 1 }])]);
    await new Promise((r) => setTimeout(r, 5));
    t.is((await client.query(SQL.sweep, [100])).rows[0].deleted, '1');
  };
  for (let i = 0; i < 8; i++) await round();
  for (let i = 0; i < 10; i++) await createEnqueued(s, 2_000);
  for (let i = 0; i < 8; i++) await round();
  const writes = plans.filter((p) => /Query Text: (DELETE|UPDATE|PERFORM|SELECT 1 FROM)/.test(p));
  t.true(writes.length >= 16 * 4, `${writes.length} plans of the commit, ack and sweep seen`);
  t.deepEqual(
    writes.filter((p) => /Seq Scan on|JIT:/.test(p)),
    [],
    'no statement scans a whole table or compiles',
  );
  // The commit's lock by id, first planned here on 400 jobs, kept jobs_by_state (ns, …, id) for
  // ns = $1 AND id = x: at 20,000 jobs each commit of 50 read 21,700 buffers, 115 ms.
  t.deepEqual(
    writes.filter((p) => /(using|on) (jobs_by_state|queue_entries_fetch)/.test(p)),
    [],
    'rows by id are reached by primary key',
  );
});

/**
 * Prepares each statement (name, text, values, the index it must use) 10 times on a 10-job table,
 * as a session of the backend, then grows the table to 20,000 jobs: each generic plan must still
 * reach its rows through its index, with no index led by ns, no sequential scan and no sort.
 */
async function assertPlansKeepToKeys(t: ExecutionContext, statements: (ns: string) => Array<[string, string, unknown[], string]>): Promise<void> {
  const { schema, ns, s } = planScene();
  await createEnqueued(s, 10);
  const client = new pg.Client({ connectionString: PG_URL, options: sessionOptions(schema) });
  await client.connect();
  t.teardown(() => client.end());
  const list = statements(ns);
  // Statement names from the test's own list, never input.
  for (const [name, text, values] of list) for (let i = 0; i < 10; i++) await client.query({ name, text, values });
  for (let i = 0; i < 10; i++) await createEnqueued(s, 2_000);
  for (const [name, , values, index] of list) {
    const literal = values.map((v) => (typeof v === 'number' ? String(v) : client.escapeLiteral(Array.isArray(v) ? `{${v.join(',')}}` : String(v)))).join(', ');
    const plan = (await client.query(`EXPLAIN EXECUTE ${client.escapeIdentifier(name)}(${literal})`)).rows
      .map((r: Record<string, string>) => r['QUERY PLAN'])
      .join('\n');
    t.regex(plan, new RegExp(`using ${index} on`), `${name}:\n${plan}`);
    t.notRegex(plan, /jobs_by_state|queue_entries_fetch|Seq Scan|Sort/, `${name}:\n${plan}`);
  }
}

test('plans: lookups by id first planned on a 10-job table keep to the primary key at 20,000 jobs', async (t) => {
  // A prepared statement's generic plan is kept for the session. Made on a tiny table, the plan
  // of ns = $1 AND id = $2 took jobs_by_state (ns, …, id) for its two conditions, and getJobs's a
  // sequential scan of jobs: at 20,000 jobs each getJob walked the namespace's whole part of that
  // index, and each getJobs read every job.
  await assertPlansKeepToKeys(t, (ns) => [
    ['getJob', SQL.getJob, [ns, '1'], 'jobs_pkey'],
    ['getJobs', SQL.getJobs, [ns, ['1', '2']], 'jobs_pkey'],
    ['getHistory', SQL.getHistory, [ns, '1'], 'jobs_pkey'],
    ['getParameter', SQL.getParameter, [ns, '1', 'p'], 'jobs_pkey'],
    ['setParameter', SQL.setParameter, [ns, '1', 'p', 'v'], 'jobs_pkey'],
    ['requeue', SQL.requeue, [ns, '1', 'no-such-token'], 'queue_entries_pkey'],
    ['extend', SQL.extend, [ns, '1', 'no-such-token', 1000], 'queue_entries_pkey'],
  ]);
});

test("plans: a move's pages and lookups of jobs and queue entries, first planned on 10 jobs, keep to the primary key at 20,000", async (t) => {
  // A unit's export pages through its jobs and queue entries. Planned generically as ns = $1, each
  // page walked the namespace's whole part of jobs_by_state and sorted it: 23.7 ms a page with
  // 15,000 jobs left (1.1 ms by primary key), a time in the square of the unit's size.
  await assertPlansKeepToKeys(t, (ns) => [
    ['jobs', UNIT_SQL.jobs, [ns, '0', 500], 'jobs_pkey'],
    ['entries', UNIT_SQL.entries, [ns, '0', 500], 'queue_entries_pkey'],
    ['jobsById', UNIT_SQL.jobsById, [ns, ['1', '2']], 'jobs_pkey'],
    ['entriesBySeq', UNIT_SQL.entriesBySeq, [ns, ['1', '2']], 'queue_entries_pkey'],
    ['deleteJobs', UNIT_SQL.deleteJobs, [ns, ['999999']], 'jobs_pkey'],
    ['deleteEntries', UNIT_SQL.deleteEntries, [ns, ['999999']], 'queue_entries_pkey'],
  ]);
});

test('plans: ordered reads first planned on a few rows walk their index at 100,000 rows', async (t) => {
  // The scheduler's due-job read (setFirstByScore) and the monitoring pages: prepared while their
  // tables held a few rows, then run on 100,000, each must still read only its page by index.
  const { schema, ns, s } = planScene();
  await s.queues.tryFetch(['q']);
  const client = new pg.Client({ connectionString: PG_URL, options: sessionOptions(schema) });
  await client.connect();
  t.teardown(() => client.end());
  const fill = async (from: number, to: number) => {
    await client.query("INSERT INTO sets (ns, key, member, score) SELECT $1, 'schedule', g::text, g FROM generate_series($2::int, $3::int) g", [ns, from, to]);
    await client.query("INSERT INTO lists (ns, key, value) SELECT $1, 'l', g::text FROM generate_series($2::int, $3::int) g", [ns, from, to]);
    const ids = await client.query(
      "INSERT INTO jobs (ns, type, args, queue, state_name, state_at) SELECT $1, 't', '[]', 'q', 'Enqueued', now() FROM generate_series($2::int, $3::int) RETURNING id",
      [ns, from, to],
    );
    await client.query("INSERT INTO queue_entries (ns, queue, job_id) SELECT $1, 'q', unnest($2::bigint[])", [ns, ids.rows.map((r: { id: string }) => r.id)]);
  };
  const reads: Array<['setFirstByScore' | 'setRange' | 'listRange' | 'jobsInState' | 'queueJobs', unknown[], string]> = [
    ['setFirstByScore', [ns, 'schedule', 0, 1e12, 10], 'sets_by_score'],
    ['setRange', [ns, 'schedule', 0, 10], 'sets_by_score'],
    ['listRange', [ns, 'l', 0, 10], 'lists_by_key'],
    ['jobsInState', [ns, 'Enqueued', 0, 10], 'jobs_by_state'],
    ['queueJobs', [ns, 'q', 0, 10], 'queue_entries_fetch'],
  ];
  await fill(1, 5);
  for (const [name, values] of reads) for (let i = 0; i < 10; i++) await client.query({ name, text: SQL[name], values });
  await fill(6, 100_000);
  for (const [name, values, index] of reads) {
    const literal = values.map((v) => client.escapeLiteral(String(v))).join(', ');
    const plan = (await client.query(`EXPLAIN EXECUTE ${client.escapeIdentifier(name)}(${literal})`)).rows
      .map((r: Record<string, string>) => r['QUERY PLAN'])
      .join('\n');
    t.regex(plan, new RegExp(`^Limit[^]*Index Scan using ${index} on`), `${name}:\n${plan}`);
    t.notRegex(plan, /Sort|Seq Scan|Bitmap/, `${name}:\n${plan}`);
  }
});

test('plans: with statistics, a batch fetch and its ack reach entries and jobs by primary key, not by a scan of the table', async (t) => {
  // Written as UPDATE … FROM the leased rows, a 128-job fetch at a 19,200-job backlog got hash
  // joins over sequential scans of every queue entry and every job: 9.5 ms a fetch instead of 4.4.
  const { schema, ns, s } = planScene();
  for (let i = 0; i < 5; i++) {
    await createEnqueued(s, 600);
  }
  const { client, plans } = await explainingClient(t, schema, ['jobs', 'queue_entries']);
  const processing = JSON.stringify({ name: 'Processing', data: {} });
  for (let i = 0; i < 8; i++) {
    const { rows } = await client.query(SQL.fetch, [ns, ['q'], 60_000, 128, true, processing, ['Enqueued']]);
    const leased = rows.filter((r: { seq: unknown }) => r.seq !== null) as Array<{ seq: string; token: string }>;
    t.is(leased.length, 128);
    const acked = await client.query(SQL.ack, [ns, leased.map((r) => r.seq), leased.map((r) => r.token)]);
    t.is(acked.rows.length, 128);
  }
  t.true(plans.length >= 16, `${plans.length} plans seen`);
  t.deepEqual(
    plans.filter((p) => /Seq Scan on (queue_entries|jobs)\b/.test(p)),
    [],
    'no plan scans a whole table',
  );
});

test("change tracking: the triggers' WHEN clauses let through exactly the tracked units, follow them as units turn on and off, and are gone after the last", async (t) => {
  const schema = freshSchema();
  const b = backendFor(schema);
  await b.open();
  // Each trigger with the namespace hashes its WHEN clause lets through (migration 0022).
  const triggers = async () =>
    (
      await adminQuery<{ rel: string; name: string; def: string }>(
        `SELECT c.relname AS rel, g.tgname AS name, pg_get_triggerdef(g.oid) AS def FROM pg_trigger g JOIN pg_class c ON c.oid = g.tgrelid
          JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = $1 AND g.tgname LIKE 'jobshard_track%' ORDER BY 1, 2`,
        [schema],
      )
    ).map((r) => [
      r.rel,
      r.name,
      /ANY \('\{([^}]*)\}'/
        .exec(r.def)?.[1]
        ?.split(',')
        .map(Number)
        .sort((x, y) => x - y) ?? 'no WHEN clause',
    ]);
  const hashOf = async (ns: string) => (await adminQuery<{ h: number }>('SELECT hashtext($1) AS h', [ns]))[0]!.h;
  const expected = (hashes: number[]) =>
    ['counters', 'hashes', 'jobs', 'lists', 'locks', 'queue_entries', 'servers', 'sets'].flatMap((rel) =>
      ['delete', 'write'].map((op) => [rel, `jobshard_track_${op}`, [...hashes].sort((x, y) => x - y)]),
    );
  const kinds = (refs: string[]) => [...new Set(refs.map((r) => r.slice(0, 2)))].sort();

  t.deepEqual(await triggers(), [], 'none while nothing is tracked');
  await b.trackChanges('a', true);
  await b.trackChanges('b', true);
  t.deepEqual(await triggers(), expected([await hashOf('a'), await hashOf('b')]));

  // Tracked units' writes are recorded, deletes included; an untracked unit's are not.
  const ja = await enqueueJob(b.storage('a'), 'q');
  await b.storage('a').transaction((tx) => tx.hashSet('h', { f: '1' }));
  await enqueueJob(b.storage('c'), 'q');
  const changesA = await b.takeChanges('a');
  t.true(changesA.includes(`j:${ja}`) && changesA.includes('h:h'), changesA.join(' '));
  t.deepEqual(kinds(changesA), ['e:', 'h:', 'j:']);
  t.deepEqual(await b.takeChanges('c'), []);

  // Turning one unit off narrows the triggers to the other, whose writes are still recorded.
  await b.trackChanges('a', false);
  t.deepEqual(await triggers(), expected([await hashOf('b')]));
  const jb = await enqueueJob(b.storage('b'), 'q');
  const fetched = await b.storage('b').queues.fetch(['q']);
  const changesB = await b.takeChanges('b');
  t.true(changesB.includes(`j:${jb}`), changesB.join(' '));
  t.deepEqual(kinds(changesB), ['e:', 'j:']);
  await fetched.ack(); // deletes the entry, and writes nothing to the job
  const deleted = await b.takeChanges('b');
  t.deepEqual(kinds(deleted), ['e:'], 'the delete trigger records the entry');
  await b.storage('a').transaction((tx) => tx.hashSet('h', { f: '2' }));
  t.deepEqual(await b.takeChanges('a'), [], 'a unit no longer tracked records nothing');

  await b.trackChanges('b', false);
  t.deepEqual(await triggers(), [], 'all dropped after the last');
});

test('change tracking: a write that commits after a take removed its ref is taken by the next one (0023)', async (t) => {
  // The writer's ref is already recorded when it writes; a take then removes that row and the
  // mover reads the item before the writer commits. With a row per ref, the writer's trigger had
  // found its ref there and recorded nothing: the next take missed the write.
  const schema = freshSchema();
  const b = backendFor(schema);
  await b.open();
  await b.trackChanges('u', true);
  const id = await enqueueJob(b.storage('u'), 'q');
  const writer = new pg.Client({ connectionString: PG_URL });
  await writer.connect();
  try {
    await writer.query(`SET search_path TO ${schema}`); // as the backend's sessions: the trigger's function names its tables bare
    await writer.query('BEGIN');
    await writer.query(`UPDATE jobs SET state_reason = 'written' WHERE id = $1`, [id]);
    const taken = await b.takeChanges('u');
    t.true(taken.includes(`j:${id}`), 'the take has the ref recorded before the write');
    t.is((await b.storage('u').jobs.get(id)).stateReason, null, 'and the mover reads the job as it was');
    await writer.query('COMMIT');
    t.deepEqual(await b.takeChanges('u'), [`j:${id}`], 'the write is taken by the next take');
    // Several writes of one ref between takes come back as one ref.
    await b.storage('u').jobs.setParameter(id, 'a', '1');
    await b.storage('u').jobs.setParameter(id, 'b', '2');
    t.deepEqual(await b.takeChanges('u'), [`j:${id}`]);
  } finally {
    await writer.end();
    await b.trackChanges('u', false);
  }
});
