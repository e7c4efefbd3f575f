-- jobshard_fetch as in 0020, planned once per session (generic plans) instead of on every call,
-- with one change to make that safe.
--
-- Left to the plan cache, plpgsql planned the fetch's main statement afresh for every call: a
-- custom plan's estimate, with the batch size and queue known, stayed under the generic plan's,
-- so the cache never kept the generic one. That planning cost about 0.35 ms of the backend's CPU
-- per fetch, and one fetch at a time is in flight while a server drains (bench/RESULTS.md, "The
-- fetch's generic plan"). The function now runs with plan_cache_mode = force_generic_plan.
--
-- The change: the pick of a queue's first visible entries, and the read of the next lease to
-- lapse, test the namespace with BETWEEN p_ns AND p_ns, not = p_ns. With = and the namespace
-- unknown, the generic plan estimated the average namespace's share of the table and could walk
-- the primary key (entries in the order they were made) filtering by namespace: behind another
-- namespace's 20,000 entries, 10 ms a fetch against 0.2 (test 'plans: a fetch from a namespace
-- behind another's backlog …'). A range with unknown bounds is estimated narrow, and leaves the
-- namespace a column to order by, so only queue_entries_fetch (ns, queue, seq) gives the queue's
-- order without a sort. The test means the same: only the namespace p_ns falls between p_ns and
-- itself. Everything else reaches rows by key (= ANY on a primary key, the namespace tests
-- wrapped in IS TRUE; see 0009), which a generic plan does as well as a custom one.

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
      ), changed AS (
        UPDATE jobs j
           SET state_name = v_name, state_reason = v_reason, state_data = v_data, state_at = v_at,
               history = j.history || v_entry
        -- The UPDATE takes the jobs' locks itself, in id order: = ANY on the primary key is walked in
        -- sorted key order (the session allows no bitmap scan), the order jobshard_commit locks in,
        -- so a fetch and a commit cannot deadlock. A job updated since this statement's snapshot is
        -- tested again on its newest version once locked (EvalPlanQual), so the state test reads
        -- what the lock protects. The other tests are wrapped (IS TRUE) so only the key drives the
        -- scan (see 0009 and the 'plans' tests).
         WHERE j.id = ANY (ARRAY(SELECT DISTINCT l.job_id FROM leased l WHERE p_state IS NOT NULL ORDER BY 1))
           AND (j.ns = p_ns) IS TRUE AND (j.expire_at IS NULL OR j.expire_at > now()) AND (j.state_name = ANY (p_from)) IS TRUE
        RETURNING j.id
      )
      -- One snapshot for the whole statement: j is the job before the change; a job in changed
      -- took p_state at v_at.
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
        -- The changed ids read once (an InitPlan) and tested per entry, not a join the planner ran
        -- as a nested loop over changed for every entry (64 x 64 rows a batch fetch).
        CROSS JOIN LATERAL (SELECT l.job_id = ANY (ARRAY(SELECT c.id FROM changed c)) AS marked) AS m;
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
