-- jobshard_fetch plans with plain index scans only, so its pick walks
-- queue_entries_fetch in (ns, queue, seq) order and stops at the batch.
--
-- Where the planner believes a queue holds a row or two (a never-analyzed table
-- is estimated from its size; a tenant's backlog may have grown since the last
-- ANALYZE), a bitmap scan of every entry of the queue plus a sort costs about
-- the same on paper as the index walk, and won from about 100,000 entries: each
-- fetch then read and sorted the whole backlog to hand out 64 (46-52 ms a fetch
-- against 2.9-3.1 ms), and plpgsql kept that plan for the session. Every
-- statement of the function reaches its rows by an index (the test 'plans:
-- without statistics…' checks), so the settings only take bitmap and sequential
-- scans away from it. enable_sort = off, tried first, priced the one sort the
-- function cannot avoid (the leased batch, in id order) past jit_above_cost:
-- 650 ms of JIT compilation a call. jit = off keeps any such cost from
-- reaching the JIT again.
ALTER FUNCTION jobshard_fetch(text, text[], bigint, integer, boolean, jsonb, text[])
  SET enable_bitmapscan = off SET enable_seqscan = off SET jit = off;
