-- A commit that deletes its jobs and writes nothing else of them: a worker's outcomes under
-- retentionMs 0, each job expired with 0 ms beside its statistics and its ack. The client sends the
-- jobs to delete as ids, without their expireJob ops (postgres-namespace.ts deletesOnly), and the
-- ops naming no job apart; the removals (acks) go in the same call, as in jobshard_commit_removing.
--
-- jobshard_commit (0016) recognised such a commit itself (v_delete_only), from its ops: two passes
-- over them, two sorted aggregates to compare the ids, then its loop ran each expireJob op to no
-- effect, and the client encoded and Postgres parsed an op per job. A group commit of 115 jobs
-- with three counters, 8 calls each in psql: 1.67–2.16 ms through jobshard_commit, 0.94–1.08 ms
-- through this function (bench/RESULTS.md, "The deleting commit").
--
-- The DELETE locks the jobs in id order (= ANY on the primary key is walked in sorted key order),
-- the order every commit and fetch locks in, and the count it deleted is the existence check: a
-- missing job fails the call (P0002, the first missing id) before anything else is written, then a
-- lost lease (P0003), as through jobshard_commit_removing.

-- What every set-based commit (this one, 0026) does after its statement over the jobs: the
-- existence check (p_done: the rows that statement reached, of p_job_ids), then the ops naming no
-- job, then the removals.
CREATE FUNCTION jobshard_commit_rest(p_ns text, p_job_ids bigint[], p_done integer, p_ops jsonb, p_seqs bigint[], p_tokens text[]) RETURNS void
LANGUAGE plpgsql AS $$
DECLARE
  v_missing bigint;
  v_removed integer;
BEGIN
  IF p_done < cardinality(p_job_ids) THEN
    SELECT x INTO v_missing FROM unnest(p_job_ids) AS x
      WHERE NOT EXISTS (SELECT 1 FROM jobs WHERE id = x AND (ns = p_ns) IS TRUE AND (expire_at IS NULL OR expire_at > now()))
      ORDER BY x LIMIT 1;
    RAISE EXCEPTION USING ERRCODE = 'P0002', MESSAGE = v_missing::text;
  END IF;
  IF jsonb_array_length(p_ops) > 0 THEN
    PERFORM jobshard_commit(p_ns, '{}'::bigint[], p_ops);
  END IF;
  IF cardinality(p_seqs) > 0 THEN
    SELECT count(*) INTO v_removed FROM jobshard_ack_pairs(p_ns, p_seqs, p_tokens);
    IF v_removed < cardinality(p_seqs) THEN
      RAISE EXCEPTION USING ERRCODE = 'P0003', MESSAGE = 'lease lost';
    END IF;
  END IF;
END
$$;

CREATE FUNCTION jobshard_commit_deleting(p_ns text, p_job_ids bigint[], p_ops jsonb, p_seqs bigint[], p_tokens text[]) RETURNS void
LANGUAGE plpgsql AS $$
DECLARE
  v_n integer;
BEGIN
  -- The namespace and expiry tests are wrapped or beside the key so that only the primary key drives the scan (see 0009).
  DELETE FROM jobs j WHERE j.id = ANY (ARRAY(SELECT DISTINCT x FROM unnest(p_job_ids) AS x ORDER BY 1))
    AND (j.ns = p_ns) IS TRUE AND (j.expire_at IS NULL OR j.expire_at > now());
  GET DIAGNOSTICS v_n = ROW_COUNT;
  PERFORM jobshard_commit_rest(p_ns, p_job_ids, v_n, p_ops, p_seqs, p_tokens);
END
$$;
