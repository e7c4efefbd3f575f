-- A commit that sets each of its jobs' state once (a worker's outcomes with jobs kept), as
-- jobshard_commit_states (0017, 0024) does, with its parts sent as arrays, one element a job, and
-- each job's history entries encoded by the client, all but their time. The removals (acks) go in
-- the same call, as in jobshard_commit_states_removing; empty arrays when there are none.
--
-- jobshard_commit_states read every field from one JSON object keyed by job id, about fifteen
-- lookups a row, and built each history entry with jsonb_build_object (about 3.6 µs an entry in
-- psql). A group commit of 115 jobs with a Processing state added to each, 8 calls each way,
-- alternated, twice: 7.2–9.8 ms through jobshard_commit_states, 5.8–8.3 ms through this function
-- (the same UPDATE with constant values: 2.6–3.0 ms). See bench/RESULTS.md, "The states commit by
-- arrays", for the drains.
--
-- p_job_ids: each job once. p_states holds arrays with an element for each job, in that order:
-- {"names": [...], "reasons": [... or null], "data": [{...}], "expireMs": [n, or null: the job's
-- expiry is kept], "entries": [...]}. Each "entries" element is the JSON text of the job's new
-- history entries, the added states then the new one, in the stored form of jobshard_history_entry
-- (0015) with "t": 0, which the call replaces with its time: names, reasons and data values are
-- strings (checked by the client), so in that text "t":0} is only ever an entry's own time. Every
-- entry and the new state take the call's time. The arrays are read into variables once a call.
--
-- The UPDATE locks the jobs in id order (= ANY on the primary key is walked in sorted key order),
-- the order every commit and fetch locks in, and the count it updated is the existence check
-- (jobshard_commit_rest, 0025): a missing job fails the call (P0002, the first missing id) before
-- anything else is written, then a lost lease (P0003).

CREATE FUNCTION jobshard_commit_set_states(p_ns text, p_job_ids bigint[], p_states jsonb, p_ops jsonb, p_seqs bigint[], p_tokens text[])
RETURNS void
LANGUAGE plpgsql AS $$
#variable_conflict use_column
DECLARE
  v_at timestamptz := clock_timestamp();
  -- The entries' time as jobshard_history_entry writes it: epoch milliseconds, with microseconds.
  v_t text := '"t":' || (extract(epoch FROM v_at) * 1000)::text || '}';
  v_names text[] := ARRAY(SELECT e FROM jsonb_array_elements_text(p_states->'names') WITH ORDINALITY AS a(e, n) ORDER BY n);
  v_reasons text[] := ARRAY(SELECT e FROM jsonb_array_elements_text(p_states->'reasons') WITH ORDINALITY AS a(e, n) ORDER BY n);
  v_data jsonb[] := ARRAY(SELECT e FROM jsonb_array_elements(p_states->'data') WITH ORDINALITY AS a(e, n) ORDER BY n);
  v_entries text[] := ARRAY(SELECT e FROM jsonb_array_elements_text(p_states->'entries') WITH ORDINALITY AS a(e, n) ORDER BY n);
  v_expire_ms bigint[] := ARRAY(SELECT e::bigint FROM jsonb_array_elements_text(p_states->'expireMs') WITH ORDINALITY AS a(e, n) ORDER BY n);
  v_n integer;
BEGIN
  UPDATE jobs j
     SET (state_name, state_reason, state_data, state_at, expire_at, history) = (
       SELECT v_names[x.i], v_reasons[x.i], coalesce(v_data[x.i], '{}'::jsonb), v_at,
              CASE WHEN v_expire_ms[x.i] > 0 THEN now() + v_expire_ms[x.i] * interval '1 millisecond' ELSE j.expire_at END,
              j.history || replace(v_entries[x.i], '"t":0}', v_t)::jsonb
         -- The job's place in the arrays, found once a row (OFFSET 0 keeps it from being inlined into each use).
         FROM (SELECT array_position(p_job_ids, j.id) AS i OFFSET 0) AS x)
   -- The namespace and expiry tests are wrapped or beside the key so that only the primary key drives the scan (see 0009).
   WHERE j.id = ANY (ARRAY(SELECT DISTINCT x FROM unnest(p_job_ids) AS x ORDER BY 1))
     AND (j.ns = p_ns) IS TRUE AND (j.expire_at IS NULL OR j.expire_at > now());
  GET DIAGNOSTICS v_n = ROW_COUNT;
  PERFORM jobshard_commit_rest(p_ns, p_job_ids, v_n, p_ops, p_seqs, p_tokens);
END
$$;
