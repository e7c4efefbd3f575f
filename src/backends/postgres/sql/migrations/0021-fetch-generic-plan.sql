-- jobshard_fetch plans its statements once per session (generic plans), not on every call.
--
-- Left to the plan cache, plpgsql planned the fetch's main statement afresh for every call: with
-- the batch size and queue known, a custom plan's estimate came out cheaper than the generic
-- one's, so the cache never kept the generic plan. That planning cost about 0.35 ms of the
-- backend's CPU per fetch (bench/RESULTS.md, "The fetch's generic plan"), and one fetch at a time
-- is in flight while a server drains. The statements are written so that their plan does not
-- depend on the values (every namespace test is wrapped, the keys drive each lookup; see 0009
-- and the 'plans' tests, which see these generic plans from the first call).

ALTER FUNCTION jobshard_fetch(text, text[], bigint, integer, boolean, jsonb, text[]) SET plan_cache_mode = force_generic_plan;
