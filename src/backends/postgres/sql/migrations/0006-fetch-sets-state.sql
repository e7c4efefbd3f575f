-- jobshard_fetch as in 0003, plus a state change (p_state, p_from) applied in
-- the same statement as the lease: each leased job whose current state is one
-- of p_from takes p_state (current state and a history row), and the row handed
-- out shows the job after the change. A worker so marks its jobs Processing
-- without a transaction of its own. Jobs are reached by primary key whatever
-- the statistics (0003's join was not: see below). The 5-argument version stays
-- for callers of an older jobshard during a rolling upgrade.
CREATE FUNCTION jobshard_fetch(p_ns text, p_queues text[], p_invisibility_ms bigint, p_count integer, p_with_job boolean,
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
          FROM picked p
         WHERE e.seq = p.seq
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
          FROM marked m
         WHERE j.id = m.id
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
