-- jobshard_commit as in 0009, but the lock that opens it reaches each job by primary key only.
--
-- It read `j.id = ids.id AND j.ns = p_ns`, and jobs_by_state (ns, state_name, state_at, id)
-- matches both columns. plpgsql keeps a statement's plan for the session, and a session that
-- first planned the lock on a young table could keep jobs_by_state: its only usable key is then
-- ns, so each id walked the namespace's whole part of the index. Seen in the peer bench, in 3 of
-- about 70 rounds of a 10,000-job drain: every group commit of 64 jobs read 11,600 buffers and
-- took 87-129 ms, and the round processed 600-700 jobs/s against 5,000-7,000. As for the
-- lookups by id (postgres-statements.ts), the namespace test is wrapped (IS TRUE) so it cannot
-- drive an index; the existence check on the error path gets the same.
--
-- Numbered 0011: an 0010 (planner settings on the functions, replaced by the session's settings)
-- was on main for a few commits, and a schema migrated then holds version 10.

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
