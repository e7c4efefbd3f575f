-- jobshard_fetch can hand out each leased entry with its job (p_with_job), so a
-- worker needs no second read; without it the join is skipped (a one-time
-- filter), so a consumer that only moves entries pays nothing. The job is joined in the same statement as the lease (a
-- data-modifying CTE): one snapshot sees both, and an entry and its job are
-- committed together, so a leased entry's job is missing only when it is
-- really gone (expired). Joined outside the function instead, the outer
-- statement's older snapshot missed jobs enqueued while the fetch started.
DROP FUNCTION jobshard_fetch(text, text[], bigint, integer);

CREATE FUNCTION jobshard_fetch(p_ns text, p_queues text[], p_invisibility_ms bigint, p_count integer, p_with_job boolean)
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
      -- The picked rows are joined to the UPDATE, so it reaches them by primary key (a nested
      -- loop). Written as e.seq = ANY (ARRAY(picked)), a young table without statistics got a
      -- sequential scan of the whole queue for every fetch.
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
      )
      SELECT l.seq, l.job_id, l.queue::text, l.token, l.deliveries, NULL::bigint,
             j.id, j.type, j.args, j.queue::text, j.parameters, j.state_name::text,
             j.state_reason, j.state_data, j.state_at, j.created_at, j.expire_at
        FROM leased l
        LEFT JOIN jobs j ON p_with_job AND j.ns = p_ns AND j.id = l.job_id AND (j.expire_at IS NULL OR j.expire_at > now());
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
