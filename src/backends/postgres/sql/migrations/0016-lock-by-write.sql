-- A job's row lock is taken by the write that changes it, not by a SELECT … FOR UPDATE before it.
-- A row lock is written into the row (and the WAL) like a change: locking a job and then updating
-- or deleting it wrote the row twice. Restated whole from 0015; what changed:
--
-- * jobshard_fetch: the marked CTE (the jobs locked FOR UPDATE in id order, then tested) is gone;
--   the UPDATE that sets the state locks them in the same order and tests the state on the newest
--   version itself.
-- * jobshard_commit: when every op naming a job is an expireJob with 0 ms and they name exactly
--   the jobs passed (a worker's outcomes under retentionMs 0), the jobs are deleted at once, in id
--   order, and the count deleted is the existence check; other commits lock as before.

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
      ), changed AS (
        UPDATE jobs j
           SET state_name = p_state->>'name', state_reason = p_state->>'reason',
               state_data = coalesce(p_state->'data', '{}'::jsonb), state_at = v_at,
               history = j.history || jsonb_build_array(jobshard_history_entry(p_state->>'name', p_state->>'reason',
                                                                               coalesce(p_state->'data', '{}'::jsonb), v_at))
        -- The UPDATE takes the jobs' locks itself, in id order: = ANY on the primary key is walked in
        -- sorted key order (the session allows no bitmap scan), the order jobshard_commit locks in,
        -- so a fetch and a commit cannot deadlock. A job updated since this statement's snapshot is
        -- tested again on its newest version once locked (EvalPlanQual), so the state test reads
        -- what the lock protects. The other tests are wrapped (IS TRUE) so only the key drives the
        -- scan (see 0009 and the 'plans' tests).
         WHERE j.id = ANY (ARRAY(SELECT DISTINCT l.job_id FROM leased l WHERE p_state IS NOT NULL ORDER BY 1))
           AND (j.ns = p_ns) IS TRUE AND (j.expire_at IS NULL OR j.expire_at > now()) AND (j.state_name = ANY (p_from)) IS TRUE
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
  v_delete_only boolean := false;
BEGIN
  IF cardinality(p_job_ids) > 0 THEN
    -- Every op naming a job expires it with 0 ms, and they name exactly p_job_ids: a worker's
    -- outcomes under retentionMs 0. Then the DELETE is the lock (in id order, as below) and the
    -- proof that each job exists, and the jobs take no lock record before it.
    v_delete_only := NOT EXISTS (SELECT 1 FROM jsonb_array_elements(p_ops) AS o
                                  WHERE o ? 'jobId' AND NOT (o->>'op' = 'expireJob' AND (o->>'ms')::bigint <= 0))
      AND (SELECT array_agg(DISTINCT x ORDER BY x) FROM unnest(p_job_ids) AS x)
        = (SELECT array_agg(DISTINCT (o->>'jobId')::bigint ORDER BY (o->>'jobId')::bigint) FROM jsonb_array_elements(p_ops) AS o WHERE o ? 'jobId');
    IF v_delete_only THEN
      DELETE FROM jobs j WHERE j.id = ANY (ARRAY(SELECT DISTINCT x FROM unnest(p_job_ids) AS x ORDER BY 1))
        AND (j.ns = p_ns) IS TRUE AND (j.expire_at IS NULL OR j.expire_at > now());
    ELSE
      -- Lock the jobs in id order (so concurrent commits cannot deadlock) and prove they all
      -- exist. The sorted ids drive one primary-key lookup each (LATERAL); the namespace test
      -- is wrapped (IS TRUE) so that only the primary key can drive it (see 0011).
      PERFORM 1 FROM (SELECT DISTINCT x AS id FROM unnest(p_job_ids) AS x ORDER BY 1) AS ids
        CROSS JOIN LATERAL (SELECT 1 FROM jobs j WHERE j.id = ids.id AND (j.ns = p_ns) IS TRUE
                              AND (j.expire_at IS NULL OR j.expire_at > now()) FOR UPDATE) AS locked;
    END IF;
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

  IF cardinality(v_doomed) > 0 AND NOT v_delete_only THEN
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
