-- Acknowledges leased entries one by one on the primary key, each fenced by
-- its token (and namespace). As one DELETE … USING unnest(…), the planner of a
-- young table without statistics took a hash join over every entry of the
-- namespace; a unique-key equality is an index lookup whatever the statistics.
-- Returns the seq of each entry removed (an entry whose lease was lost is absent).
CREATE FUNCTION jobshard_ack(p_ns text, p_seqs bigint[], p_tokens text[]) RETURNS SETOF bigint
LANGUAGE plpgsql AS $$
BEGIN
  FOR i IN 1 .. coalesce(cardinality(p_seqs), 0) LOOP
    RETURN QUERY DELETE FROM queue_entries WHERE seq = p_seqs[i] AND ns = p_ns AND token = p_tokens[i] RETURNING seq;
  END LOOP;
END
$$;
