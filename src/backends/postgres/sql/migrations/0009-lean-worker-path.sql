-- The worker's path with less work per job:
--
-- * jobshard_fetch as in 0006, but its two UPDATEs reach the leased entries and
--   the marked jobs by primary key (= ANY of an array). Written as UPDATE … FROM
--   the CTE, a batch of 128 got hash joins over a sequential scan of every queue
--   entry and every job: 9.5 ms a fetch at a 19,200-job backlog, 4.4 ms now.
-- * jobshard_commit as in 0008, but a job expired with 0 ms (a worker's
--   retentionMs 0) is deleted at the end of the call instead of taking a new
--   row version with expire_at = now() for the sweeper to delete later; a later
--   expireJob with a positive time or a persistJob in the same call keeps it.
--   Readers cannot tell the difference: an expired job is gone to every read.
-- * job_states loses its foreign key. The key checked every history row on
--   insert (a trigger firing a query) and deleted a job's history row by row
--   (another, per deleted job). The two statements that delete jobs,
--   jobshard_commit and jobshard_sweep, now delete the history of the jobs
--   they delete in one statement each; no other statement deletes jobs, and
--   every writer of history locks its job first.
-- * Queue entries are written with half of each page free (fillfactor 50): a
--   lease (token, deadline, deliveries, none of them indexed) can then be a HOT
--   update, with no new entry in either index; at fillfactor 100 a full page
--   sent each lease's row version elsewhere, with two index entries for the
--   fetch's scan to step over until vacuum. Applies to pages written from now.
-- * jobshard_ack_pairs: the fenced removal as one DELETE by primary key, with
--   the removed (seq, token) pairs, so two leases of one entry acknowledged in
--   one call are told apart. In plpgsql, which keeps its plan (a non-inlined SQL
--   function plans on every call). jobshard_ack stays for older callers.

ALTER TABLE job_states DROP CONSTRAINT IF EXISTS job_states_job_id_fkey;
ALTER TABLE queue_entries SET (fillfactor = 50);

CREATE OR REPLACE FUNCTION jobshard_fetch(p_ns text, p_queues text[], p_invisibility_ms bigint, p_count integer, p_with_job boolean,
                               p_state jsonb, p_from text[])
RETURNS TABLE (seq bigint, job_id bigint, queue text, token text, deliveries integer, next_visible_ms bigint,
               j_id bigint, j_type text, j_args text, j_queue text, j_parameters jsonb, j_state_name text,
               j_state_reason text, j_state_data jsonb, j_state_at timestamptz, j_created_at timestamptz,
               j_expire_at timestamptz)
LANGUAGE plpgsql AS $$
#variable_conflict use_column
DECLARE
  q text;
  v_left integer := p_count;
  v_n integer;
BEGIN
  FOREACH q IN ARRAY p_queues LOOP
    RETURN QUERY
      WITH picked AS (
        SELECT c.seq FROM queue_entries c
         WHERE c.ns = p_ns AND c.queue = q AND (c.lease_until IS NULL OR c.lease_until <= clock_timestamp())
         ORDER BY c.ns, c.queue, c.seq LIMIT v_left
         FOR UPDATE SKIP LOCKED
      ), leased AS (
        UPDATE queue_entries e
           SET token = gen_random_uuid()::text,
               lease_until = clock_timestamp() + p_invisibility_ms * interval '1 millisecond',
               deliveries = e.deliveries + 1
         WHERE e.seq = ANY (ARRAY(SELECT p.seq FROM picked p))
        RETURNING e.seq, e.job_id, e.queue, e.token, e.deliveries
      ), marked AS (
        -- Locked in id order, the order jobshard_commit locks in, so a fetch and a commit cannot
        -- deadlock; the state test reads the newest row version, once it is locked. Each job is
        -- reached by primary key: LATERAL, with the other tests outside the subquery and OFFSET 0
        -- so the planner cannot push them in. Written as a plain join (or with the namespace test
        -- pushed in), a jobs table without statistics (while autovacuum had already analyzed
        -- queue_entries) got a scan of the namespace's part of jobs_by_state per leased entry:
        -- 150-200 ms a fetch at a 10,000-job backlog. See the 'plans' test.
        SELECT lk.id FROM (SELECT DISTINCT l.job_id FROM leased l WHERE p_state IS NOT NULL ORDER BY 1) AS ids
          CROSS JOIN LATERAL (SELECT j.id, j.ns, j.state_name, j.expire_at FROM jobs j WHERE j.id = ids.job_id OFFSET 0 FOR UPDATE) AS lk
         WHERE lk.ns = p_ns AND (lk.expire_at IS NULL OR lk.expire_at > now()) AND lk.state_name = ANY (p_from)
      ), changed AS (
        UPDATE jobs j
           SET state_name = p_state->>'name', state_reason = p_state->>'reason',
               state_data = coalesce(p_state->'data', '{}'::jsonb), state_at = clock_timestamp()
         WHERE j.id = ANY (ARRAY(SELECT m.id FROM marked m))
        RETURNING j.id, j.state_name, j.state_reason, j.state_data, j.state_at
      ), history AS (
        INSERT INTO job_states (job_id, name, reason, data, created_at)
        SELECT c.id, c.state_name, c.state_reason, c.state_data, c.state_at FROM changed c
      )
      -- One snapshot for the whole statement: j is the job before the change, c the change.
      SELECT l.seq, l.job_id, l.queue::text, l.token, l.deliveries, NULL::bigint,
             j.id, j.type, j.args, j.queue::text, j.parameters,
             CASE WHEN c.id IS NULL THEN j.state_name ELSE c.state_name END::text,
             CASE WHEN c.id IS NULL THEN j.state_reason ELSE c.state_reason END,
             CASE WHEN c.id IS NULL THEN j.state_data ELSE c.state_data END,
             CASE WHEN c.id IS NULL THEN j.state_at ELSE c.state_at END,
             j.created_at, j.expire_at
        FROM leased l
        -- By primary key for the same reason; OFFSET 0 keeps the planner from flattening the
        -- subquery and choosing another index for the namespace test.
        LEFT JOIN LATERAL (SELECT * FROM jobs WHERE jobs.id = l.job_id OFFSET 0) AS j
          ON p_with_job AND j.ns = p_ns AND (j.expire_at IS NULL OR j.expire_at > now())
        LEFT JOIN changed c ON c.id = l.job_id;
    GET DIAGNOSTICS v_n = ROW_COUNT;
    v_left := v_left - v_n;
    IF v_left <= 0 THEN
      RETURN;
    END IF;
  END LOOP;
  RETURN QUERY
    SELECT NULL::bigint, NULL::bigint, NULL::text, NULL::text, NULL::integer,
           ceil(extract(epoch FROM min(c.lease_until) - clock_timestamp()) * 1000)::bigint,
           NULL::bigint, NULL::text, NULL::text, NULL::text, NULL::jsonb, NULL::text,
           NULL::text, NULL::jsonb, NULL::timestamptz, NULL::timestamptz, NULL::timestamptz
      FROM queue_entries c
     WHERE c.ns = p_ns AND c.queue = ANY (p_queues) AND c.lease_until > clock_timestamp();
END
$$;

CREATE OR REPLACE FUNCTION jobshard_commit(p_ns text, p_job_ids bigint[], p_ops jsonb) RETURNS void
LANGUAGE plpgsql AS $$
#variable_conflict use_column
DECLARE
  op jsonb;
  v_key text;
  v_locked integer;
  v_missing bigint;
  v_exp timestamptz;
  v_start bigint;
  v_end bigint;
  v_enqueued boolean := false;
  v_ms bigint;
  -- Jobs expired with 0 ms: deleted at the end, unless a later op of this call kept them.
  v_doomed bigint[] := '{}';
BEGIN
  IF cardinality(p_job_ids) > 0 THEN
    -- Lock the jobs in id order (so concurrent commits cannot deadlock) and prove they all
    -- exist. The sorted ids drive one primary-key lookup each (LATERAL): as ns = p_ns AND
    -- id = ANY (p_job_ids), the planner of a young jobs table (or of a tenant it believes
    -- small) scanned every job of the namespace; one plpgsql statement per id cost more
    -- than the scan once the table had statistics.
    PERFORM 1 FROM (SELECT DISTINCT x AS id FROM unnest(p_job_ids) AS x ORDER BY 1) AS ids
      CROSS JOIN LATERAL (SELECT 1 FROM jobs j WHERE j.id = ids.id AND j.ns = p_ns
                            AND (j.expire_at IS NULL OR j.expire_at > now()) FOR UPDATE) AS locked;
    GET DIAGNOSTICS v_locked = ROW_COUNT;
    IF v_locked < cardinality(p_job_ids) THEN
      SELECT x INTO v_missing FROM unnest(p_job_ids) AS x
        WHERE NOT EXISTS (SELECT 1 FROM jobs WHERE id = x AND ns = p_ns AND (expire_at IS NULL OR expire_at > now()))
        ORDER BY x LIMIT 1;
      RAISE EXCEPTION USING ERRCODE = 'P0002', MESSAGE = v_missing::text;
    END IF;
  END IF;

  FOR op IN SELECT * FROM jsonb_array_elements(p_ops) LOOP
    v_key := op->>'key';
    CASE op->>'op'
    WHEN 'setJobState' THEN
      -- expireMs: an expireJob of the same job that followed this op, folded in by the client
      -- (postgres-namespace.ts), so the row takes one new version instead of two.
      v_ms := (op->>'expireMs')::bigint;
      UPDATE jobs SET state_name = op->'state'->>'name', state_reason = op->'state'->>'reason',
                      state_data = coalesce(op->'state'->'data', '{}'::jsonb), state_at = clock_timestamp(),
                      expire_at = CASE WHEN v_ms > 0 THEN now() + v_ms * interval '1 millisecond' ELSE expire_at END
        WHERE id = (op->>'jobId')::bigint;
      IF v_ms <= 0 THEN
        v_doomed := v_doomed || (op->>'jobId')::bigint;
      ELSIF v_ms > 0 THEN
        v_doomed := array_remove(v_doomed, (op->>'jobId')::bigint);
      END IF;
      INSERT INTO job_states (job_id, name, reason, data, created_at)
        VALUES ((op->>'jobId')::bigint, op->'state'->>'name', op->'state'->>'reason', coalesce(op->'state'->'data', '{}'::jsonb), clock_timestamp());
    WHEN 'addJobState' THEN
      INSERT INTO job_states (job_id, name, reason, data, created_at)
        VALUES ((op->>'jobId')::bigint, op->'state'->>'name', op->'state'->>'reason', coalesce(op->'state'->'data', '{}'::jsonb), clock_timestamp());
    WHEN 'setJobParameter' THEN
      UPDATE jobs SET parameters = parameters || jsonb_build_object(op->>'name', op->>'value') WHERE id = (op->>'jobId')::bigint;
    WHEN 'expireJob' THEN
      v_ms := (op->>'ms')::bigint;
      IF v_ms <= 0 THEN
        v_doomed := v_doomed || (op->>'jobId')::bigint;
      ELSE
        v_doomed := array_remove(v_doomed, (op->>'jobId')::bigint);
        UPDATE jobs SET expire_at = now() + v_ms * interval '1 millisecond' WHERE id = (op->>'jobId')::bigint;
      END IF;
    WHEN 'persistJob' THEN
      v_doomed := array_remove(v_doomed, (op->>'jobId')::bigint);
      UPDATE jobs SET expire_at = NULL WHERE id = (op->>'jobId')::bigint;
    WHEN 'enqueue' THEN
      INSERT INTO queue_entries (ns, queue, job_id) VALUES (p_ns, op->>'queue', (op->>'jobId')::bigint);
      v_enqueued := true;

    -- A write to an expiring structure keeps its expiry (as in Redis); a lapsed one starts afresh.
    WHEN 'hashSet' THEN
      DELETE FROM hashes WHERE ns = p_ns AND key = v_key AND expire_at <= now();
      SELECT expire_at INTO v_exp FROM hashes WHERE ns = p_ns AND key = v_key LIMIT 1;
      INSERT INTO hashes (ns, key, field, value, expire_at)
        SELECT p_ns, v_key, f.key, f.value, v_exp FROM jsonb_each_text(op->'fields') AS f
        ON CONFLICT (ns, key, field) DO UPDATE SET value = EXCLUDED.value;
    WHEN 'hashDelete' THEN
      DELETE FROM hashes WHERE ns = p_ns AND key = v_key;
    WHEN 'setAdd' THEN
      DELETE FROM sets WHERE ns = p_ns AND key = v_key AND expire_at <= now();
      SELECT expire_at INTO v_exp FROM sets WHERE ns = p_ns AND key = v_key LIMIT 1;
      INSERT INTO sets (ns, key, member, score, expire_at) VALUES (p_ns, v_key, op->>'member', (op->>'score')::double precision, v_exp)
        ON CONFLICT (ns, key, member) DO UPDATE SET score = EXCLUDED.score;
    WHEN 'setRemove' THEN
      DELETE FROM sets WHERE ns = p_ns AND key = v_key AND member = op->>'member';
    WHEN 'setDelete' THEN
      DELETE FROM sets WHERE ns = p_ns AND key = v_key;
    WHEN 'listInsert' THEN
      DELETE FROM lists WHERE ns = p_ns AND key = v_key AND expire_at <= now();
      SELECT expire_at INTO v_exp FROM lists WHERE ns = p_ns AND key = v_key LIMIT 1;
      INSERT INTO lists (ns, key, value, expire_at) VALUES (p_ns, v_key, op->>'value', v_exp);
    WHEN 'listRemove' THEN
      DELETE FROM lists WHERE ns = p_ns AND key = v_key AND value = op->>'value';
    WHEN 'listTrim' THEN
      v_start := (op->>'start')::bigint;
      v_end := (op->>'end')::bigint;
      DELETE FROM lists WHERE ns = p_ns AND key = v_key AND id NOT IN (
        SELECT id FROM lists WHERE ns = p_ns AND key = v_key AND (expire_at IS NULL OR expire_at > now())
        ORDER BY id DESC OFFSET v_start
        LIMIT CASE WHEN v_end = -1 THEN NULL ELSE greatest(v_end - v_start + 1, 0) END);
    WHEN 'listDelete' THEN
      DELETE FROM lists WHERE ns = p_ns AND key = v_key;
    WHEN 'counterIncrement' THEN
      INSERT INTO counters AS c (ns, key, value, expire_at)
        VALUES (p_ns, v_key, (op->>'by')::bigint,
                now() + (op->>'expireInMs')::bigint * interval '1 millisecond')
        ON CONFLICT (ns, key) DO UPDATE SET
          value = CASE WHEN c.expire_at <= now() THEN EXCLUDED.value ELSE c.value + EXCLUDED.value END,
          expire_at = CASE WHEN op->>'expireInMs' IS NOT NULL THEN EXCLUDED.expire_at
                           WHEN c.expire_at <= now() THEN NULL ELSE c.expire_at END;
    WHEN 'expire' THEN
      v_exp := now() + (op->>'ms')::bigint * interval '1 millisecond';
      CASE op->>'kind'
        WHEN 'hash' THEN UPDATE hashes SET expire_at = v_exp WHERE ns = p_ns AND key = v_key AND (expire_at IS NULL OR expire_at > now());
        WHEN 'set' THEN UPDATE sets SET expire_at = v_exp WHERE ns = p_ns AND key = v_key AND (expire_at IS NULL OR expire_at > now());
        WHEN 'list' THEN UPDATE lists SET expire_at = v_exp WHERE ns = p_ns AND key = v_key AND (expire_at IS NULL OR expire_at > now());
        WHEN 'counter' THEN UPDATE counters SET expire_at = v_exp WHERE ns = p_ns AND key = v_key AND (expire_at IS NULL OR expire_at > now());
      END CASE;
    WHEN 'persist' THEN
      CASE op->>'kind'
        WHEN 'hash' THEN UPDATE hashes SET expire_at = NULL WHERE ns = p_ns AND key = v_key AND expire_at > now();
        WHEN 'set' THEN UPDATE sets SET expire_at = NULL WHERE ns = p_ns AND key = v_key AND expire_at > now();
        WHEN 'list' THEN UPDATE lists SET expire_at = NULL WHERE ns = p_ns AND key = v_key AND expire_at > now();
        WHEN 'counter' THEN UPDATE counters SET expire_at = NULL WHERE ns = p_ns AND key = v_key AND expire_at > now();
      END CASE;
    END CASE;
  END LOOP;

  IF cardinality(v_doomed) > 0 THEN
    -- With their history: this call holds their locks, and every writer of history locks the job
    -- first, so none can be on its way. Queue entries left behind are handed out without a job
    -- and dropped, as those of a job the sweeper deleted.
    DELETE FROM jobs WHERE id = ANY (v_doomed);
    DELETE FROM job_states WHERE job_id = ANY (v_doomed);
  END IF;

  IF v_enqueued THEN
    -- Delivered at commit; listeners of this schema and namespace re-try their fetch.
    PERFORM pg_notify('jobshard', json_build_array(current_schema(), p_ns)::text);
  END IF;
END
$$;

CREATE OR REPLACE FUNCTION jobshard_sweep(p_batch integer) RETURNS bigint
LANGUAGE plpgsql AS $$
#variable_conflict use_column
DECLARE
  v_total bigint := 0;
  v_n bigint;
  v_ids bigint[];
BEGIN
  WITH gone AS (DELETE FROM jobs WHERE id IN (SELECT id FROM jobs WHERE expire_at <= now() LIMIT p_batch) RETURNING id)
  SELECT array_agg(id) INTO v_ids FROM gone;
  v_total := v_total + coalesce(cardinality(v_ids), 0);
  -- A statement of its own, so a new snapshot: a commit that added history to one of these jobs
  -- (while it was live) and that the DELETE above waited for is seen, and its history goes too.
  DELETE FROM job_states WHERE job_id = ANY (v_ids);
  DELETE FROM hashes WHERE ctid IN (SELECT ctid FROM hashes WHERE expire_at <= now() LIMIT p_batch);
  GET DIAGNOSTICS v_n = ROW_COUNT; v_total := v_total + v_n;
  DELETE FROM sets WHERE ctid IN (SELECT ctid FROM sets WHERE expire_at <= now() LIMIT p_batch);
  GET DIAGNOSTICS v_n = ROW_COUNT; v_total := v_total + v_n;
  DELETE FROM lists WHERE id IN (SELECT id FROM lists WHERE expire_at <= now() LIMIT p_batch);
  GET DIAGNOSTICS v_n = ROW_COUNT; v_total := v_total + v_n;
  DELETE FROM counters WHERE ctid IN (SELECT ctid FROM counters WHERE expire_at <= now() LIMIT p_batch);
  GET DIAGNOSTICS v_n = ROW_COUNT; v_total := v_total + v_n;
  RETURN v_total;
END
$$;

CREATE FUNCTION jobshard_ack_pairs(p_ns text, p_seqs bigint[], p_tokens text[])
RETURNS TABLE (seq bigint, token text)
LANGUAGE plpgsql AS $$
#variable_conflict use_column
BEGIN
  -- A token is drawn afresh for every lease, so an entry whose token is among p_tokens is leased
  -- to the caller under that token. The namespace test is wrapped (IS TRUE) so it cannot drive an
  -- index: with ns = p_ns indexable, a young table's planner scanned the namespace's entries
  -- (see 0004); = ANY on the primary key is a lookup per entry whatever the statistics.
  RETURN QUERY
    DELETE FROM queue_entries e
     WHERE e.seq = ANY (p_seqs) AND e.token = ANY (p_tokens) AND (e.ns = p_ns) IS TRUE
    RETURNING e.seq, e.token;
END
$$;

CREATE OR REPLACE FUNCTION jobshard_commit_removing(p_ns text, p_job_ids bigint[], p_ops jsonb, p_seqs bigint[], p_tokens text[]) RETURNS void
LANGUAGE plpgsql AS $$
DECLARE
  v_removed integer;
BEGIN
  -- The jobs first: jobshard_commit locks them in id order, as every other commit does.
  PERFORM jobshard_commit(p_ns, p_job_ids, p_ops);
  SELECT count(*) INTO v_removed FROM jobshard_ack_pairs(p_ns, p_seqs, p_tokens);
  IF v_removed < cardinality(p_seqs) THEN
    RAISE EXCEPTION USING ERRCODE = 'P0003', MESSAGE = 'lease lost';
  END IF;
END
$$;
