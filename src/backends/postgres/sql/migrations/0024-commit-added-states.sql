-- jobshard_commit_states (0017) restated whole, with one change: each job's entry in p_states may
-- carry "added", states written to its history (addJobState) before the state it is set to, in
-- the order given. A worker that marks its jobs Processing only when they run long
-- (JobServerOptions.markProcessingAfterMs) writes a short run's Processing state into its outcome,
-- [addJobState Processing, setJobState Succeeded]: that commit stays one UPDATE of the jobs, where
-- an addJobState sent it to jobshard_commit's statement per op.
--
-- p_states: {"<job id>": {"state": {name, reason, data}, "added": [{name, reason, data}, ...] or
-- absent, "expireMs": n or absent}}; as before otherwise. Every entry takes the commit's time.

CREATE OR REPLACE FUNCTION jobshard_commit_states(p_ns text, p_job_ids bigint[], p_states jsonb, p_ops jsonb) RETURNS void
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
         -- The added states' entries: one, the usual case, built without unnesting the array.
         history = j.history
                   || CASE WHEN p_states->(j.id::text)->'added' IS NULL THEN '[]'::jsonb
                           WHEN jsonb_array_length(p_states->(j.id::text)->'added') = 1
                             THEN jsonb_build_array(jobshard_history_entry(p_states->(j.id::text)->'added'->0->>'name',
                                                                           p_states->(j.id::text)->'added'->0->>'reason',
                                                                           coalesce(p_states->(j.id::text)->'added'->0->'data', '{}'::jsonb), v_at))
                           ELSE (SELECT jsonb_agg(jobshard_history_entry(a.s->>'name', a.s->>'reason', coalesce(a.s->'data', '{}'::jsonb), v_at) ORDER BY a.n)
                                   FROM jsonb_array_elements(p_states->(j.id::text)->'added') WITH ORDINALITY AS a(s, n)) END
                   || jsonb_build_array(jobshard_history_entry(p_states->(j.id::text)->'state'->>'name',
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
