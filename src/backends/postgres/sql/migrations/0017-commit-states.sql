-- A commit whose ops set each of its jobs' state once (a worker's outcomes with jobs kept: Succeeded
-- with the retention as expiry, folded in by the client) changes every job in one UPDATE, not in a
-- statement per op after a SELECT … FOR UPDATE of them all. The UPDATE locks the jobs in id order
-- (= ANY on the primary key is walked in sorted key order), the order every commit and fetch locks
-- in, and the count it updated is the existence check. postgres-namespace.ts chooses it when the
-- ops fit; the ops naming no job go on through jobshard_commit, in the same transaction.
--
-- p_states: {"<job id>": {"state": {name, reason, data}, "expireMs": n or absent}}; each job of
-- p_job_ids once, and expireMs (when present) > 0: a job expired with 0 ms takes jobshard_commit's
-- path, which deletes it.

CREATE FUNCTION jobshard_commit_states(p_ns text, p_job_ids bigint[], p_states jsonb, p_ops jsonb) RETURNS void
LANGUAGE plpgsql AS $$
#variable_conflict use_column
DECLARE
  v_at timestamptz := clock_timestamp();
  v_n integer;
  v_missing bigint;
BEGIN
  UPDATE jobs j
     SET state_name = p_states->(j.id::text)->'state'->>'name',
         state_reason = p_states->(j.id::text)->'state'->>'reason',
         state_data = coalesce(p_states->(j.id::text)->'state'->'data', '{}'::jsonb),
         state_at = v_at,
         expire_at = CASE WHEN (p_states->(j.id::text)->>'expireMs')::bigint > 0
                          THEN now() + (p_states->(j.id::text)->>'expireMs')::bigint * interval '1 millisecond'
                          ELSE j.expire_at END,
         history = j.history || jsonb_build_array(jobshard_history_entry(p_states->(j.id::text)->'state'->>'name',
                                                                         p_states->(j.id::text)->'state'->>'reason',
                                                                         coalesce(p_states->(j.id::text)->'state'->'data', '{}'::jsonb), v_at))
   WHERE j.id = ANY (ARRAY(SELECT DISTINCT x FROM unnest(p_job_ids) AS x ORDER BY 1))
     AND (j.ns = p_ns) IS TRUE AND (j.expire_at IS NULL OR j.expire_at > now());
  GET DIAGNOSTICS v_n = ROW_COUNT;
  IF v_n < cardinality(p_job_ids) THEN
    SELECT x INTO v_missing FROM unnest(p_job_ids) AS x
      WHERE NOT EXISTS (SELECT 1 FROM jobs WHERE id = x AND (ns = p_ns) IS TRUE AND (expire_at IS NULL OR expire_at > now()))
      ORDER BY x LIMIT 1;
    RAISE EXCEPTION USING ERRCODE = 'P0002', MESSAGE = v_missing::text;
  END IF;
  PERFORM jobshard_commit(p_ns, '{}'::bigint[], p_ops);
END
$$;

-- As jobshard_commit_removing (0009), with the jobs' states set by jobshard_commit_states.
CREATE FUNCTION jobshard_commit_states_removing(p_ns text, p_job_ids bigint[], p_states jsonb, p_ops jsonb, p_seqs bigint[], p_tokens text[]) RETURNS void
LANGUAGE plpgsql AS $$
DECLARE
  v_removed integer;
BEGIN
  PERFORM jobshard_commit_states(p_ns, p_job_ids, p_states, p_ops);
  SELECT count(*) INTO v_removed FROM jobshard_ack_pairs(p_ns, p_seqs, p_tokens);
  IF v_removed < cardinality(p_seqs) THEN
    RAISE EXCEPTION USING ERRCODE = 'P0003', MESSAGE = 'lease lost';
  END IF;
END
$$;
