-- A transaction that acknowledges fetched jobs (removeFromQueue): its writes
-- (jobshard_commit) and the removal of those queue entries (jobshard_ack, each
-- fenced by its token) in one call and one commit. If any entry's lease was
-- lost, or one is named twice, nothing is written (P0003).
CREATE FUNCTION jobshard_commit_removing(p_ns text, p_job_ids bigint[], p_ops jsonb, p_seqs bigint[], p_tokens text[]) RETURNS void
LANGUAGE plpgsql AS $$
DECLARE
  v_removed integer;
BEGIN
  -- The jobs first: jobshard_commit locks them in id order, as every other commit does.
  PERFORM jobshard_commit(p_ns, p_job_ids, p_ops);
  SELECT count(*) INTO v_removed FROM jobshard_ack(p_ns, p_seqs, p_tokens);
  IF v_removed < cardinality(p_seqs) THEN
    RAISE EXCEPTION USING ERRCODE = 'P0003', MESSAGE = 'lease lost';
  END IF;
END
$$;
