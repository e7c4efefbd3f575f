-- The worker's functions keep index plans whatever the planner believed when it
-- first planned them. plpgsql keeps a statement's plan for the session, and a
-- plan made on small or never-analyzed tables stayed when they grew.
--
-- * jobshard_fetch plans with plain index scans only, so its pick walks
--   queue_entries_fetch in (ns, queue, seq) order and stops at the batch. Where
--   the planner believes a queue holds a row or two (a never-analyzed table is
--   estimated from its size; a tenant's backlog may have grown since the last
--   ANALYZE), a bitmap scan of every entry of the queue plus a sort costs about
--   the same on paper, and won from about 100,000 entries: each fetch then read
--   and sorted the whole backlog to hand out 64 (46-52 ms a fetch against
--   2.9-3.1 ms).
-- * jobshard_commit, jobshard_ack_pairs and jobshard_sweep plan without
--   sequential scans. Their deletes by id (= ANY) were planned while jobs and
--   job_states were a few pages, as sequential scans, and kept: in the slow
--   rounds of the peer bench every group commit scanned all of jobs and
--   job_states (4.5 ms each), a third of the drain's usual rate.
--
-- Every statement of these functions has an index path (the 'plans' tests
-- check), so the settings only take the other scans away. jit = off because a
-- disabled plan node is priced past jit_above_cost: enable_sort = off, tried
-- first for the fetch, spent 650 ms compiling each call.
ALTER FUNCTION jobshard_fetch(text, text[], bigint, integer, boolean, jsonb, text[])
  SET enable_bitmapscan = off SET enable_seqscan = off SET jit = off;
ALTER FUNCTION jobshard_commit(text, bigint[], jsonb) SET enable_seqscan = off SET jit = off;
ALTER FUNCTION jobshard_ack_pairs(text, bigint[], text[]) SET enable_seqscan = off SET jit = off;
ALTER FUNCTION jobshard_sweep(integer) SET enable_seqscan = off SET jit = off;
