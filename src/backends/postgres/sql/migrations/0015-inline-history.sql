-- A job's state history moves into its own row: jobs.history, a jsonb array of
-- {"n": name, "r": reason, "d": data, "t": ms since 1970}, oldest first. Until now each state
-- was a row of job_states as well: on the worker's path, the fetch that marks a job Processing
-- and the commit of its outcome each inserted one, and deleting a job deleted them too. Now
-- those steps write the job row they already wrote, with the entry appended, and job_states is
-- dropped (its rows are moved first, in id order; rows whose job is gone are dropped with it).
-- The functions below are restated whole; what changed in each:
--
-- * jobshard_fetch (from 0009): the marked jobs take their Processing entry in the UPDATE
--   that sets the state (history CTE gone); state_at and the entry's time are one reading.
-- * jobshard_commit (from 0011): setJobState and addJobState append to jobs.history instead of
--   inserting into job_states. A setJobState with expireMs <= 0 (a worker's retentionMs 0)
--   whose job no later op of the call names skips its UPDATE: the job is deleted at the end of
--   the call, so the row version would only be deleted again. The ops are walked by index for
--   that look-ahead. The doomed jobs' DELETE no longer deletes history rows.
-- * jobshard_sweep (from 0009): deletes expired jobs without a history DELETE after them.
-- * jobshard_track, jobshard_track_unit (from 0013): no job_states branch or trigger.
--
-- Leases are untouched (queue_entries is not rewritten). The UPDATE that fills history takes
-- each job's row lock inside this migration's transaction, so a worker's commit of a job waits
-- for the migration and then runs against the new layout.

-- Inlined into the statements that call it: one SELECT, and STABLE as extract on a timestamptz is.
-- Declared IMMUTABLE it was not inlined (a body more volatile than its declaration never is), and
-- ran as a SQL function planned on every call: in an A/B drain, Postgres CPU went up 5-20 us a job.
CREATE FUNCTION jobshard_history_entry(p_name text, p_reason text, p_data jsonb, p_at timestamptz) RETURNS jsonb
LANGUAGE sql STABLE AS $$
  SELECT jsonb_build_object('n', p_name, 'r', p_reason, 'd', p_data, 't', extract(epoch FROM p_at) * 1000)
$$;

ALTER TABLE jobs ADD COLUMN history jsonb NOT NULL DEFAULT '[]'::jsonb;

UPDATE jobs j SET history = h.entries
  FROM (SELECT s.job_id, jsonb_agg(jobshard_history_entry(s.name, s.reason, s.data, s.created_at) ORDER BY s.id) AS entries
          FROM job_states s GROUP BY s.job_id) AS h
 WHERE j.id = h.job_id;

DROP TABLE job_states;

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
  -- The marked jobs' state time and history time: one reading, so the two agree.
  v_at timestamptz;
BEGIN
  FOREACH q IN ARRAY p_queues LOOP
    v_at := clock_timestamp();
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
               state_data = coalesce(p_state->'data', '{}'::jsonb), state_at = v_at,
               history = j.history || jsonb_build_array(jobshard_history_entry(p_state->>'name', p_state->>'reason',
                                                                               coalesce(p_state->'data', '{}'::jsonb), v_at))
         WHERE j.id = ANY (ARRAY(SELECT m.id FROM marked m))
        RETURNING j.id, j.state_name, j.state_reason, j.state_data, j.state_at
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
  v_i integer;
  v_at timestamptz;
BEGIN
  IF cardinality(p_job_ids) > 0 THEN
    -- Lock the jobs in id order (so concurrent commits cannot deadlock) and prove they all
    -- exist. The sorted ids drive one primary-key lookup each (LATERAL); the namespace test
    -- is wrapped (IS TRUE) so that only the primary key can drive it (see the top of this file).
    PERFORM 1 FROM (SELECT DISTINCT x AS id FROM unnest(p_job_ids) AS x ORDER BY 1) AS ids
      CROSS JOIN LATERAL (SELECT 1 FROM jobs j WHERE j.id = ids.id AND (j.ns = p_ns) IS TRUE
                            AND (j.expire_at IS NULL OR j.expire_at > now()) FOR UPDATE) AS locked;
    GET DIAGNOSTICS v_locked = ROW_COUNT;
    IF v_locked < cardinality(p_job_ids) THEN
      SELECT x INTO v_missing FROM unnest(p_job_ids) AS x
        WHERE NOT EXISTS (SELECT 1 FROM jobs WHERE id = x AND (ns = p_ns) IS TRUE AND (expire_at IS NULL OR expire_at > now()))
        ORDER BY x LIMIT 1;
      RAISE EXCEPTION USING ERRCODE = 'P0002', MESSAGE = v_missing::text;
    END IF;
  END IF;

  FOR v_i IN 0 .. coalesce(jsonb_array_length(p_ops), 0) - 1 LOOP
    op := p_ops->v_i;
    v_key := op->>'key';
    CASE op->>'op'
    WHEN 'setJobState' THEN
      -- expireMs: an expireJob of the same job that followed this op, folded in by the client
      -- (postgres-namespace.ts), so the row takes one new version instead of two. With 0 ms and no
      -- later op of this call naming the job, the job is deleted at the end of the call: the
      -- UPDATE would only make a row version for that DELETE to remove, and no reader can see it.
      v_ms := (op->>'expireMs')::bigint;
      v_at := clock_timestamp();
      IF v_ms IS NULL OR v_ms > 0 OR EXISTS (SELECT 1 FROM jsonb_array_elements(p_ops) WITH ORDINALITY AS later(o, k)
                                             WHERE later.k > v_i + 1 AND later.o->>'jobId' = op->>'jobId') THEN
        UPDATE jobs SET state_name = op->'state'->>'name', state_reason = op->'state'->>'reason',
                        state_data = coalesce(op->'state'->'data', '{}'::jsonb), state_at = v_at,
                        expire_at = CASE WHEN v_ms > 0 THEN now() + v_ms * interval '1 millisecond' ELSE expire_at END,
                        history = history || jsonb_build_array(jobshard_history_entry(op->'state'->>'name', op->'state'->>'reason',
                                                                                      coalesce(op->'state'->'data', '{}'::jsonb), v_at))
          WHERE id = (op->>'jobId')::bigint;
      END IF;
      IF v_ms <= 0 THEN
        v_doomed := v_doomed || (op->>'jobId')::bigint;
      ELSIF v_ms > 0 THEN
        v_doomed := array_remove(v_doomed, (op->>'jobId')::bigint);
      END IF;
    WHEN 'addJobState' THEN
      UPDATE jobs SET history = history || jsonb_build_array(jobshard_history_entry(op->'state'->>'name', op->'state'->>'reason',
                                                                                    coalesce(op->'state'->'data', '{}'::jsonb), clock_timestamp()))
        WHERE id = (op->>'jobId')::bigint;
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
    -- Queue entries left behind are handed out without a job and dropped, as those of a job the
    -- sweeper deleted.
    DELETE FROM jobs WHERE id = ANY (v_doomed);
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
BEGIN
  DELETE FROM jobs WHERE id IN (SELECT id FROM jobs WHERE expire_at <= now() LIMIT p_batch);
  GET DIAGNOSTICS v_n = ROW_COUNT; v_total := v_total + v_n;
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

CREATE OR REPLACE FUNCTION jobshard_track() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
  r record;
  v_ns text;
  v_ref text;
BEGIN
  IF TG_OP = 'DELETE' THEN r := OLD; ELSE r := NEW; END IF;
  v_ns := r.ns;
  -- IF, not CASE: plpgsql resolves every field a CASE names, and each table has only its own.
  IF TG_TABLE_NAME = 'jobs' THEN v_ref := 'j:' || r.id;
  ELSIF TG_TABLE_NAME = 'queue_entries' THEN v_ref := 'e:' || r.queue || chr(31) || r.seq;
  ELSIF TG_TABLE_NAME = 'hashes' THEN v_ref := 'h:' || r.key;
  ELSIF TG_TABLE_NAME = 'sets' THEN v_ref := 'z:' || r.key;
  ELSIF TG_TABLE_NAME = 'lists' THEN v_ref := 'l:' || r.key;
  ELSIF TG_TABLE_NAME = 'counters' THEN v_ref := 'c:' || r.key;
  ELSIF TG_TABLE_NAME = 'locks' THEN v_ref := 'k:' || r.resource;
  ELSE v_ref := 's:' || r.id;
  END IF;
  IF v_ns IS NOT NULL AND EXISTS (SELECT 1 FROM unit_tracking WHERE ns = v_ns) THEN
    INSERT INTO unit_changes (ns, ref) VALUES (v_ns, v_ref) ON CONFLICT DO NOTHING;
  END IF;
  RETURN NULL;
END $$;

CREATE OR REPLACE FUNCTION jobshard_track_unit(p_ns text, p_on boolean) RETURNS void LANGUAGE plpgsql AS $$
DECLARE
  t text;
BEGIN
  PERFORM pg_advisory_xact_lock(hashtext('jobshard-track'), hashtext(current_schema()));
  PERFORM set_config('lock_timeout', '100ms', true);
  IF p_on THEN
    INSERT INTO unit_tracking (ns) VALUES (p_ns) ON CONFLICT DO NOTHING;
  ELSE
    DELETE FROM unit_tracking WHERE ns = p_ns;
    DELETE FROM unit_changes WHERE ns = p_ns;
  END IF;
  FOREACH t IN ARRAY ARRAY['jobs', 'queue_entries', 'hashes', 'sets', 'lists', 'counters', 'locks', 'servers'] LOOP
    IF p_on THEN
      EXECUTE format('CREATE OR REPLACE TRIGGER jobshard_track AFTER INSERT OR UPDATE OR DELETE ON %I FOR EACH ROW EXECUTE FUNCTION jobshard_track()', t);
    ELSIF NOT EXISTS (SELECT 1 FROM unit_tracking) THEN
      EXECUTE format('DROP TRIGGER IF EXISTS jobshard_track ON %I', t);
    END IF;
  END LOOP;
END $$;
