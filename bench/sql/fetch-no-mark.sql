-- An upper bound for bench/postgres-layout.ts only, not a migration: jobshard_fetch as 0021 left
-- it, without the UPDATE of the jobs that marks them (the `changed` step). It returns each job as
-- if marked, so today's JavaScript runs it unchanged, but it writes no state and no history: it
-- breaks the contract and measures what the fetch's mark costs a drain. JobServer's
-- markProcessingAfterMs is the real thing (bench/processing-mark.ts).

CREATE OR REPLACE FUNCTION jobshard_fetch(p_ns text, p_queues text[], p_invisibility_ms bigint, p_count integer, p_with_job boolean,
                               p_state jsonb, p_from text[])
RETURNS TABLE (seq bigint, job_id bigint, queue text, token text, deliveries integer, next_visible_ms bigint,
               j_id bigint, j_type text, j_args text, j_queue text, j_parameters jsonb, j_state_name text,
               j_state_reason text, j_state_data jsonb, j_state_at timestamptz, j_created_at timestamptz,
               j_expire_at timestamptz)
LANGUAGE plpgsql SET plan_cache_mode = force_generic_plan AS $$
#variable_conflict use_column
DECLARE
  q text;
  v_left integer := p_count;
  v_n integer;
  -- The marked jobs' state time and history time: one reading, so the two agree.
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
        SELECT c.seq FROM queue_entries c
         -- BETWEEN, not =: see the header.
         WHERE c.ns BETWEEN p_ns AND p_ns AND c.queue = q AND (c.lease_until IS NULL OR c.lease_until <= clock_timestamp())
         ORDER BY c.ns, c.queue, c.seq LIMIT v_left
         FOR UPDATE SKIP LOCKED
      ), leased AS (
        UPDATE queue_entries e
           SET token = (e.deliveries + 1)::text,
               lease_until = clock_timestamp() + p_invisibility_ms * interval '1 millisecond',
               deliveries = e.deliveries + 1
         WHERE e.seq = ANY (ARRAY(SELECT p.seq FROM picked p))
        RETURNING e.seq, e.job_id, e.queue, e.token, e.deliveries
      )
      -- Each job returned as if it took p_state at v_at, when its state is one of p_from.
      SELECT l.seq, l.job_id, l.queue::text, l.token, l.deliveries, NULL::bigint,
             j.id, j.type, j.args, j.queue::text, j.parameters,
             CASE WHEN m.marked THEN v_name ELSE j.state_name END::text,
             CASE WHEN m.marked THEN v_reason ELSE j.state_reason END,
             CASE WHEN m.marked THEN v_data ELSE j.state_data END,
             CASE WHEN m.marked THEN v_at ELSE j.state_at END,
             j.created_at, j.expire_at
        FROM leased l
        -- By primary key for the same reason; OFFSET 0 keeps the planner from flattening the
        -- subquery and choosing another index for the namespace test.
        LEFT JOIN LATERAL (SELECT jobs.id, jobs.ns, jobs.type, jobs.args, jobs.queue, jobs.parameters, jobs.state_name,
                                  jobs.state_reason, jobs.state_data, jobs.state_at, jobs.created_at, jobs.expire_at
                             FROM jobs WHERE jobs.id = l.job_id OFFSET 0) AS j
          ON p_with_job AND j.ns = p_ns AND (j.expire_at IS NULL OR j.expire_at > now())
        CROSS JOIN LATERAL (SELECT (p_state IS NOT NULL AND (j.state_name = ANY (p_from)) IS TRUE) AS marked) AS m;
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
     WHERE c.ns BETWEEN p_ns AND p_ns AND c.queue = ANY (p_queues) AND c.lease_until > clock_timestamp();
END
$$;
