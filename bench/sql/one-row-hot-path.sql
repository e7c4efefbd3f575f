-- A prototype of the one-row layout's hot path (issue 24), for bench/postgres-layout.ts only: it
-- is not a migration and keeps only what a drain of no-op jobs runs. A job's queue entry is five
-- columns of its row (q_*), so a fetch that leases it and marks it Processing is one UPDATE, and a
-- worker's outcome under retentionMs 0 one DELETE. What it leaves out, and a real migration would
-- need: a second entry of a queued job (the contract allows it), monitoring and the work index
-- over the new columns, the unit stream of moves and its change tracking, requeue and extend, and
-- outcomes that keep the job. The fetch returns -id as the entry's seq, so today's JavaScript
-- acknowledges through it unchanged; the outcome proves the leases by reading the tokens, then
-- deletes through jobshard_commit.
ALTER TABLE jobs ADD COLUMN q_name text COLLATE "C", ADD COLUMN q_pos bigint, ADD COLUMN q_token text,
  ADD COLUMN q_lease timestamptz, ADD COLUMN q_deliveries integer NOT NULL DEFAULT 0;
CREATE INDEX jobs_queued ON jobs (ns, q_name, q_pos) WHERE q_name IS NOT NULL;

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
  v_at timestamptz;
  v_name text := p_state->>'name';
  v_reason text := p_state->>'reason';
  v_data jsonb := coalesce(p_state->'data', '{}'::jsonb);
  v_entry jsonb;
BEGIN
  FOREACH q IN ARRAY p_queues LOOP
    v_at := clock_timestamp();
    v_entry := jsonb_build_array(jobshard_history_entry(v_name, v_reason, v_data, v_at));
    RETURN QUERY
      WITH picked AS (
        SELECT c.id FROM jobs c
         WHERE c.ns = p_ns AND c.q_name = q AND (c.q_lease IS NULL OR c.q_lease <= clock_timestamp())
         ORDER BY c.ns, c.q_name, c.q_pos LIMIT v_left
         FOR UPDATE SKIP LOCKED
      ), leased AS (
        UPDATE jobs j
           SET q_token = gen_random_uuid()::text,
               q_lease = clock_timestamp() + p_invisibility_ms * interval '1 millisecond',
               q_deliveries = j.q_deliveries + 1,
               state_name = CASE WHEN (p_state IS NOT NULL AND (j.state_name = ANY (p_from)) IS TRUE AND (j.expire_at IS NULL OR j.expire_at > now())) THEN v_name ELSE j.state_name END,
               state_reason = CASE WHEN (p_state IS NOT NULL AND (j.state_name = ANY (p_from)) IS TRUE AND (j.expire_at IS NULL OR j.expire_at > now())) THEN v_reason ELSE j.state_reason END,
               state_data = CASE WHEN (p_state IS NOT NULL AND (j.state_name = ANY (p_from)) IS TRUE AND (j.expire_at IS NULL OR j.expire_at > now())) THEN v_data ELSE j.state_data END,
               state_at = CASE WHEN (p_state IS NOT NULL AND (j.state_name = ANY (p_from)) IS TRUE AND (j.expire_at IS NULL OR j.expire_at > now())) THEN v_at ELSE j.state_at END,
               history = CASE WHEN (p_state IS NOT NULL AND (j.state_name = ANY (p_from)) IS TRUE AND (j.expire_at IS NULL OR j.expire_at > now())) THEN j.history || v_entry ELSE j.history END
         WHERE j.id = ANY (ARRAY(SELECT p.id FROM picked p ORDER BY 1))
        RETURNING j.*
      )
      SELECT -l.id, l.id, l.q_name::text, l.q_token, l.q_deliveries, NULL::bigint,
             l.id, l.type, l.args, l.queue::text, l.parameters, l.state_name, l.state_reason, l.state_data, l.state_at,
             l.created_at, l.expire_at
        FROM leased l;
    GET DIAGNOSTICS v_n = ROW_COUNT;
    v_left := v_left - v_n;
    IF v_left <= 0 THEN
      RETURN;
    END IF;
  END LOOP;
  RETURN QUERY
    SELECT NULL::bigint, NULL::bigint, NULL::text, NULL::text, NULL::integer,
           ceil(extract(epoch FROM min(c.q_lease) - clock_timestamp()) * 1000)::bigint,
           NULL::bigint, NULL::text, NULL::text, NULL::text, NULL::jsonb, NULL::text,
           NULL::text, NULL::jsonb, NULL::timestamptz, NULL::timestamptz, NULL::timestamptz
      FROM jobs c
     WHERE c.ns = p_ns AND c.q_name = ANY (p_queues) AND c.q_lease > clock_timestamp();
END
$$;

CREATE OR REPLACE FUNCTION jobshard_commit_removing(p_ns text, p_job_ids bigint[], p_ops jsonb, p_seqs bigint[], p_tokens text[]) RETURNS void
LANGUAGE plpgsql AS $$
DECLARE
  v_ok integer;
BEGIN
  SELECT count(*) INTO v_ok FROM jobs j WHERE j.id = ANY (ARRAY(SELECT -s FROM unnest(p_seqs) s ORDER BY 1)) AND j.q_token = ANY (p_tokens);
  IF v_ok < cardinality(p_seqs) THEN
    RAISE EXCEPTION USING ERRCODE = 'P0003', MESSAGE = 'lease lost';
  END IF;
  PERFORM jobshard_commit(p_ns, p_job_ids, p_ops);
END
$$;
