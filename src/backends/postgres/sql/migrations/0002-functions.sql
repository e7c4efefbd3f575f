-- Server-side functions, so that a fetch and a whole write transaction are
-- each one round trip. They take only parameters; nothing is built from text.

-- Applies a transaction's writes (the JSON form of WriteOp[]) atomically.
-- Raises SQLSTATE P0002 with the job id as message if a job is missing:
-- the statement fails, so nothing of the batch is applied.
CREATE FUNCTION jobshard_commit(p_ns text, p_job_ids bigint[], p_ops jsonb) RETURNS void
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
BEGIN
  IF cardinality(p_job_ids) > 0 THEN
    -- Lock the jobs (in id order, so concurrent commits cannot deadlock) and prove they all exist.
    PERFORM 1 FROM jobs WHERE ns = p_ns AND id = ANY (p_job_ids) AND (expire_at IS NULL OR expire_at > now())
      ORDER BY id FOR UPDATE;
    GET DIAGNOSTICS v_locked = ROW_COUNT;
    IF v_locked < cardinality(p_job_ids) THEN
      SELECT x INTO v_missing FROM unnest(p_job_ids) AS x
        WHERE NOT EXISTS (SELECT 1 FROM jobs WHERE ns = p_ns AND id = x AND (expire_at IS NULL OR expire_at > now()))
        LIMIT 1;
      RAISE EXCEPTION USING ERRCODE = 'P0002', MESSAGE = v_missing::text;
    END IF;
  END IF;

  FOR op IN SELECT * FROM jsonb_array_elements(p_ops) LOOP
    v_key := op->>'key';
    CASE op->>'op'
    WHEN 'setJobState' THEN
      UPDATE jobs SET state_name = op->'state'->>'name', state_reason = op->'state'->>'reason',
                      state_data = coalesce(op->'state'->'data', '{}'::jsonb), state_at = clock_timestamp()
        WHERE id = (op->>'jobId')::bigint;
      INSERT INTO job_states (job_id, name, reason, data, created_at)
        VALUES ((op->>'jobId')::bigint, op->'state'->>'name', op->'state'->>'reason', coalesce(op->'state'->'data', '{}'::jsonb), clock_timestamp());
    WHEN 'addJobState' THEN
      INSERT INTO job_states (job_id, name, reason, data, created_at)
        VALUES ((op->>'jobId')::bigint, op->'state'->>'name', op->'state'->>'reason', coalesce(op->'state'->'data', '{}'::jsonb), clock_timestamp());
    WHEN 'setJobParameter' THEN
      UPDATE jobs SET parameters = parameters || jsonb_build_object(op->>'name', op->>'value') WHERE id = (op->>'jobId')::bigint;
    WHEN 'expireJob' THEN
      UPDATE jobs SET expire_at = now() + (op->>'ms')::bigint * interval '1 millisecond' WHERE id = (op->>'jobId')::bigint;
    WHEN 'persistJob' THEN
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

  IF v_enqueued THEN
    -- Delivered at commit; listeners of this schema and namespace re-try their fetch.
    PERFORM pg_notify('jobshard', json_build_array(current_schema(), p_ns)::text);
  END IF;
END
$$;

-- Leases up to p_count visible entries: the first queue's (in the given
-- order) in FIFO order, then the next queue's. SKIP LOCKED lets concurrent
-- fetchers pass each other's candidate rows instead of queueing behind them;
-- the UPDATE makes the choice stick. If fewer than p_count were found, a last
-- row with seq NULL says (next_visible_ms) when the earliest lease of these
-- queues lapses.
CREATE FUNCTION jobshard_fetch(p_ns text, p_queues text[], p_invisibility_ms bigint, p_count integer)
RETURNS TABLE (seq bigint, job_id bigint, queue text, token text, deliveries integer, next_visible_ms bigint)
LANGUAGE plpgsql AS $$
#variable_conflict use_column
DECLARE
  q text;
  v_left integer := p_count;
  v_n integer;
BEGIN
  FOREACH q IN ARRAY p_queues LOOP
    RETURN QUERY
      UPDATE queue_entries e
         SET token = gen_random_uuid()::text,
             lease_until = clock_timestamp() + p_invisibility_ms * interval '1 millisecond',
             deliveries = e.deliveries + 1
       -- = ANY(ARRAY(...)) and the full index order keep both scans on indexes: with
       -- IN (...) the cached generic plan turned into a sequential scan of the table.
       WHERE e.seq = ANY (ARRAY(
         SELECT c.seq FROM queue_entries c
          WHERE c.ns = p_ns AND c.queue = q AND (c.lease_until IS NULL OR c.lease_until <= clock_timestamp())
          ORDER BY c.ns, c.queue, c.seq LIMIT v_left
          FOR UPDATE SKIP LOCKED))
      RETURNING e.seq, e.job_id, e.queue::text, e.token, e.deliveries, NULL::bigint;
    GET DIAGNOSTICS v_n = ROW_COUNT;
    v_left := v_left - v_n;
    IF v_left <= 0 THEN
      RETURN;
    END IF;
  END LOOP;
  RETURN QUERY
    SELECT NULL::bigint, NULL::bigint, NULL::text, NULL::text, NULL::integer,
           ceil(extract(epoch FROM min(c.lease_until) - clock_timestamp()) * 1000)::bigint
      FROM queue_entries c
     WHERE c.ns = p_ns AND c.queue = ANY (p_queues) AND c.lease_until > clock_timestamp();
END
$$;

-- Deletes lapsed rows in bounded batches (short transactions, no long locks).
-- Returns how many rows it deleted in all.
CREATE FUNCTION jobshard_sweep(p_batch integer) RETURNS bigint
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
