// Every statement the Postgres backend runs, as constants: values only ever
// travel as parameters ($1…). Tables resolve through the connection's
// search_path, which is the backend's schema.

const LIVE = '(expire_at IS NULL OR expire_at > now())';
/** A job's columns as JobRow holds them (prefixed with `alias.` where given): not `history` (0015), which only getHistory reads. */
const jobColumns = (alias?: string) =>
  ['id', 'type', 'args', 'queue', 'parameters', 'state_name', 'state_reason', 'state_data', 'state_at', 'created_at', 'expire_at']
    .map((c) => (alias ? `${alias}.${c}` : c))
    .join(', ');
const JOB_COLUMNS = jobColumns();

/*
 * A row by its primary key ($2) in the namespace ($1). The namespace test is
 * wrapped (IS TRUE) so that it cannot drive an index: as plain ns = $1 beside
 * the key, a prepared statement first planned on a tiny table took an index led
 * by ns (jobs_by_state, queue_entries_fetch) for both conditions and kept that
 * generic plan for the session, walking the namespace's whole part of it per
 * lookup once the table had grown.
 */
const JOB_BY_ID = 'id = $2 AND (ns = $1) IS TRUE';
const ENTRY_BY_SEQ = 'seq = $2 AND (ns = $1) IS TRUE';

/*
 * Joined into a statement, makes its (implicit) transaction commit without
 * waiting for the WAL flush: set_config(…, true) lasts to the end of the
 * transaction, and the commit reads the setting. Used only where losing the
 * write to a server crash keeps at-least-once: a lost lease makes the job
 * visible again (its old holder's ack then fails its fencing check), and a
 * lost ack re-delivers a job whose outcome, written durably, came first (WAL
 * is flushed in order, so a durable commit also makes every earlier one
 * durable). Job writes, enqueues and locks always wait for the flush.
 * Measured: a quarter of the WAL flushes; fetch+ack about +8%, inside this
 * machine's run-to-run noise.
 */
const ASYNC = "(SELECT set_config('synchronous_commit', 'off', true)) AS async";

/*
 * Every write and fetch passes jobshard_owns($1) (0012-unit-ownership.sql) in its own statement,
 * so in its own transaction: the unit's ownership record is checked atomically with the write,
 * and a refusal (moved, frozen) aborts the statement before anything commits. Functions take
 * the checked namespace through LATERAL, which makes the check run first; a plain DML runs as
 * a CTE beside it, and the final SELECT reads both, so neither can be skipped by the planner.
 */
const OWN = 'own AS MATERIALIZED (SELECT jobshard_owns($1) AS ns)';
const OWNS = 'jobshard_owns($1) AS own(ns)';
const fenced = (dml: string) => `WITH ${OWN}, w AS (${dml}) SELECT (SELECT ns FROM own) AS own, (SELECT count(*) FROM w)::int AS n`;

export const SQL = {
  // Many creates in one statement, so one commit. Ids are drawn first and paired with each input's
  // position: INSERT … RETURNING has no order. A job may come with its first state (current state and
  // history entry) and its queue entry, written in the same statement; queue entries are inserted in
  // input order, so FIFO follows the order of the calls. Listeners are notified once per statement
  // (Postgres folds identical notifications of one transaction).
  createJobs: `WITH ${OWN}, input AS (
      SELECT nextval(pg_get_serial_sequence('jobs', 'id')) AS id, clock_timestamp() AS at, u.*
      FROM own, unnest($2::text[], $3::text[], $4::text[], $5::jsonb[], $6::bigint[], $7::jsonb[], $8::boolean[])
        WITH ORDINALITY AS u(type, args, queue, parameters, expire_ms, state, enqueue, pos)
    ), inserted AS (
      INSERT INTO jobs (id, ns, type, args, queue, parameters, expire_at, state_name, state_reason, state_data, state_at, history)
      SELECT id, $1, type, args, queue, parameters, now() + expire_ms * interval '1 millisecond',
             state->>'name', state->>'reason', state->'data', CASE WHEN state IS NOT NULL THEN at END,
             CASE WHEN state IS NOT NULL
               THEN jsonb_build_array(jobshard_history_entry(state->>'name', state->>'reason', state->'data', at))
               ELSE '[]'::jsonb END
      FROM input
    ), entries AS (
      INSERT INTO queue_entries (ns, queue, job_id) SELECT $1, queue, id FROM input WHERE enqueue ORDER BY pos
    )
    SELECT id, CASE WHEN enqueue THEN pg_notify('jobshard', json_build_array(current_schema(), $1::text)::text) END
    FROM input ORDER BY pos`,
  getJob: `SELECT ${JOB_COLUMNS} FROM jobs WHERE ${JOB_BY_ID} AND ${LIVE}`,
  // One primary-key lookup per id (LATERAL): as id = ANY(…) beside ns = $1, a young table's
  // statistics made the planner scan every job of the namespace.
  getJobs: `SELECT j.* FROM unnest($2::bigint[]) AS x(id)
    CROSS JOIN LATERAL (SELECT ${JOB_COLUMNS} FROM jobs WHERE id = x.id AND (ns = $1) IS TRUE AND ${LIVE}) j`,
  // The history array as stored (0015): no row means no such job, [] a job without states.
  getHistory: `SELECT history FROM jobs WHERE ${JOB_BY_ID} AND ${LIVE}`,
  getParameter: `SELECT parameters->>$3 AS value FROM jobs WHERE ${JOB_BY_ID} AND ${LIVE}`,
  setParameter: fenced(`UPDATE jobs SET parameters = parameters || jsonb_build_object($3::text, $4::text)
    WHERE ${JOB_BY_ID} AND ${LIVE} RETURNING 1`),
  commit: `SELECT jobshard_commit(own.ns, $2::bigint[], $3::jsonb) FROM ${OWNS}`,
  // A transaction with removeFromQueue: its writes and the fenced removals, one commit (0007).
  commitRemoving: `SELECT jobshard_commit_removing(own.ns, $2::bigint[], $3::jsonb, $4::bigint[], $5::text[]) FROM ${OWNS}`,
  // A commit that sets each of its jobs' state once, in one UPDATE, its parts as arrays in $3, the ops naming no job ($4)
  // and its removals ($5, $6; may be empty) (0026).
  commitSetStates: `SELECT jobshard_commit_set_states(own.ns, $2::bigint[], $3::jsonb, $4::jsonb, $5::bigint[], $6::text[]) FROM ${OWNS}`,
  // A commit that only deletes its jobs ($2), with the ops naming no job ($3) and its removals ($4, $5; may be empty) (0025).
  commitDeleting: `SELECT jobshard_commit_deleting(own.ns, $2::bigint[], $3::jsonb, $4::bigint[], $5::text[]) FROM ${OWNS}`,

  // The leased entries with their jobs (columns j_*), optionally marked with a new state, in one
  // round trip: see 0003-fetch-with-job.sql and 0006-fetch-sets-state.sql.
  // Fetch and ack commit without waiting for the WAL flush (ASYNC, below); see there why that is safe.
  fetch: `SELECT f.* FROM ${ASYNC}, ${OWNS}, LATERAL jobshard_fetch(own.ns, $2::text[], $3, $4, $5, $6::jsonb, $7::text[]) AS f`,
  ack: `SELECT a.seq, a.token FROM ${ASYNC}, ${OWNS}, LATERAL jobshard_ack_pairs(own.ns, $2::bigint[], $3::text[]) AS a`,
  requeue: `WITH ${OWN}, r AS (UPDATE queue_entries SET token = NULL, lease_until = NULL WHERE ${ENTRY_BY_SEQ} AND token = $3 RETURNING 1)
    SELECT (SELECT ns FROM own) AS own, count(*)::int AS n,
      CASE WHEN count(*) > 0 THEN pg_notify('jobshard', json_build_array(current_schema(), $1::text)::text) END FROM r`,
  extend: fenced(`UPDATE queue_entries SET lease_until = clock_timestamp() + $4::bigint * interval '1 millisecond'
    WHERE ${ENTRY_BY_SEQ} AND token = $3 RETURNING 1`),

  // Granted when the row is new or its lease lapsed; token grows on every grant. One row always: token null = not granted.
  tryLock: `WITH ${OWN}, w AS (INSERT INTO locks AS l (ns, resource, token, lease_until) VALUES ($1, $2, 1, clock_timestamp() + $3::bigint * interval '1 millisecond')
    ON CONFLICT (ns, resource) DO UPDATE SET token = l.token + 1, lease_until = EXCLUDED.lease_until
    WHERE l.lease_until IS NULL OR l.lease_until <= clock_timestamp()
    RETURNING token)
    SELECT (SELECT ns FROM own) AS own, (SELECT token FROM w) AS token`,
  // Not a released grant (lease_until NULL): a renewal sent before the release and run after it
  // would revive the lease, and the lock would stay taken for a ttl after its holder let it go.
  extendLock: fenced(`UPDATE locks SET lease_until = clock_timestamp() + $4::bigint * interval '1 millisecond'
    WHERE ns = $1 AND resource = $2 AND token = $3 AND lease_until IS NOT NULL RETURNING 1`),
  releaseLock: fenced('UPDATE locks SET lease_until = NULL WHERE ns = $1 AND resource = $2 AND token = $3 RETURNING 1'),

  hashGetAll: `SELECT field, value FROM hashes WHERE ns = $1 AND key = $2 AND ${LIVE}`,
  hashGet: `SELECT value FROM hashes WHERE ns = $1 AND key = $2 AND field = $3 AND ${LIVE}`,
  hashCount: `SELECT count(*)::int AS n FROM hashes WHERE ns = $1 AND key = $2 AND ${LIVE}`,
  setAll: `SELECT member FROM sets WHERE ns = $1 AND key = $2 AND ${LIVE} ORDER BY score, member`,
  setRange: `SELECT member FROM sets WHERE ns = $1 AND key = $2 AND ${LIVE} ORDER BY score, member OFFSET $3 LIMIT $4`,
  setFirstByScore: `SELECT member FROM sets WHERE ns = $1 AND key = $2 AND ${LIVE} AND score BETWEEN $3 AND $4
    ORDER BY score, member LIMIT $5`,
  setCount: `SELECT count(*)::int AS n FROM sets WHERE ns = $1 AND key = $2 AND ${LIVE}`,
  setScore: `SELECT score FROM sets WHERE ns = $1 AND key = $2 AND member = $3 AND ${LIVE}`,
  listRange: `SELECT value FROM lists WHERE ns = $1 AND key = $2 AND ${LIVE} ORDER BY id DESC OFFSET $3 LIMIT $4`,
  listCount: `SELECT count(*)::int AS n FROM lists WHERE ns = $1 AND key = $2 AND ${LIVE}`,
  counterGet: `SELECT value FROM counters WHERE ns = $1 AND key = $2 AND ${LIVE}`,
  ttl: {
    hash: `SELECT min(expire_at) AS at, clock_timestamp() AS now, count(*)::int AS n FROM hashes WHERE ns = $1 AND key = $2 AND ${LIVE}`,
    set: `SELECT min(expire_at) AS at, clock_timestamp() AS now, count(*)::int AS n FROM sets WHERE ns = $1 AND key = $2 AND ${LIVE}`,
    list: `SELECT min(expire_at) AS at, clock_timestamp() AS now, count(*)::int AS n FROM lists WHERE ns = $1 AND key = $2 AND ${LIVE}`,
    counter: `SELECT min(expire_at) AS at, clock_timestamp() AS now, count(*)::int AS n FROM counters WHERE ns = $1 AND key = $2 AND ${LIVE}`,
  },

  announceServer:
    fenced(`INSERT INTO servers (ns, id, queues, worker_count, started_at, heartbeat_at) VALUES ($1, $2, $3, $4, clock_timestamp(), clock_timestamp())
    ON CONFLICT (ns, id) DO UPDATE SET queues = EXCLUDED.queues, worker_count = EXCLUDED.worker_count,
      started_at = EXCLUDED.started_at, heartbeat_at = EXCLUDED.heartbeat_at RETURNING 1`),
  heartbeat: fenced('UPDATE servers SET heartbeat_at = clock_timestamp() WHERE ns = $1 AND id = $2 RETURNING 1'),
  removeServer: fenced('DELETE FROM servers WHERE ns = $1 AND id = $2 RETURNING 1'),
  removeTimedOut: fenced(`DELETE FROM servers WHERE ns = $1 AND heartbeat_at < clock_timestamp() - $2::bigint * interval '1 millisecond' RETURNING 1`),

  ownership: `SELECT state, to_shard, epoch, floor(extract(epoch FROM frozen_until) * 1000)::float8 AS until FROM unit_ownership WHERE ns = $1`,
  setOwnership: 'SELECT jobshard_set_ownership($1, $2, $3, $4, $5)',
  hasData: `SELECT EXISTS (SELECT 1 FROM jobs WHERE ns = $1) OR EXISTS (SELECT 1 FROM queue_entries WHERE ns = $1)
    OR EXISTS (SELECT 1 FROM locks WHERE ns = $1) OR EXISTS (SELECT 1 FROM hashes WHERE ns = $1)
    OR EXISTS (SELECT 1 FROM sets WHERE ns = $1) OR EXISTS (SELECT 1 FROM lists WHERE ns = $1)
    OR EXISTS (SELECT 1 FROM counters WHERE ns = $1) OR EXISTS (SELECT 1 FROM servers WHERE ns = $1) AS has`,
  listServers: 'SELECT * FROM servers WHERE ns = $1 ORDER BY id',

  queueInfo: `SELECT queue,
      count(*) FILTER (WHERE lease_until IS NULL OR lease_until <= clock_timestamp())::int AS waiting,
      count(*) FILTER (WHERE lease_until > clock_timestamp())::int AS in_flight
    FROM queue_entries WHERE ns = $1 GROUP BY queue ORDER BY queue`,
  queueJobs: `SELECT ${jobColumns('j')} FROM queue_entries e JOIN jobs j ON j.id = e.job_id AND j.ns = e.ns
    WHERE e.ns = $1 AND e.queue = $2 AND (e.lease_until IS NULL OR e.lease_until <= clock_timestamp())
      AND (j.expire_at IS NULL OR j.expire_at > now())
    ORDER BY e.seq OFFSET $3 LIMIT $4`,
  stateCounts: `SELECT state_name, count(*)::int AS n FROM jobs WHERE ns = $1 AND state_name IS NOT NULL AND ${LIVE} GROUP BY state_name`,
  jobsInState: `SELECT ${JOB_COLUMNS} FROM jobs WHERE ns = $1 AND state_name = $2 AND ${LIVE} ORDER BY state_at DESC, id DESC OFFSET $3 LIMIT $4`,

  sweep: 'SELECT jobshard_sweep($1) AS deleted',
  signal: "SELECT pg_notify('jobshard', json_build_array(current_schema(), $1::text)::text)",
  /*
   * The namespaces with a visible entry in any of $1's queues. The recursive part walks the
   * distinct namespaces of queue_entries_fetch, one index probe each (a loose index scan), so the
   * cost follows the namespaces that hold entries; idle ones hold none and are never visited.
   */
  unitsWithWork: `WITH RECURSIVE units(ns) AS (
      (SELECT ns FROM queue_entries ORDER BY ns LIMIT 1)
      UNION ALL
      SELECT (SELECT e.ns FROM queue_entries e WHERE e.ns > u.ns ORDER BY e.ns LIMIT 1) FROM units u WHERE u.ns IS NOT NULL
    )
    SELECT u.ns FROM units u WHERE u.ns IS NOT NULL AND EXISTS (
      SELECT 1 FROM queue_entries e
      WHERE e.ns = u.ns AND e.queue = ANY($1::text[]) AND (e.lease_until IS NULL OR e.lease_until <= clock_timestamp()))`,
  /* The namespaces with a due member in one of $1's sets: a range of sets_due (migration 0014), over due members only. */
  unitsWithDue: `SELECT DISTINCT ns FROM sets
    WHERE key = ANY($1::text[]) AND score <= $2::float8 AND (expire_at IS NULL OR expire_at > clock_timestamp())`,
  /*
   * The namespaces holding jobs (a loose index scan of jobs_by_state: one probe per namespace, not
   * per job) or a member of one of $1's sets (sets_due, migration 0014).
   */
  namespaces: `WITH RECURSIVE units(ns) AS (
      (SELECT ns FROM jobs ORDER BY ns LIMIT 1)
      UNION ALL
      SELECT (SELECT j.ns FROM jobs j WHERE j.ns > u.ns ORDER BY j.ns LIMIT 1) FROM units u WHERE u.ns IS NOT NULL
    )
    SELECT ns FROM units WHERE ns IS NOT NULL
    UNION
    SELECT DISTINCT ns FROM sets WHERE key = ANY($1::text[]) AND (expire_at IS NULL OR expire_at > now())`,
  stateCountsOf: `SELECT ns, state_name, count(*)::int AS n FROM jobs
    WHERE ns = ANY($1::text[]) AND state_name IS NOT NULL AND ${LIVE} GROUP BY ns, state_name`,
  /* Summed over every namespace: no index leads by key, so this reads the counters table (operator use, not per job). */
  counterSums: `SELECT key, sum(value)::float8 AS total FROM counters WHERE key = ANY($1::text[]) AND ${LIVE} GROUP BY key`,
  queueDepths: `SELECT ns, queue,
      count(*) FILTER (WHERE lease_until IS NULL OR lease_until <= clock_timestamp())::int AS waiting,
      count(*) FILTER (WHERE lease_until > clock_timestamp())::int AS in_flight
    FROM queue_entries GROUP BY ns, queue ORDER BY ns, queue`,
} as const;
