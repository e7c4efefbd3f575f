-- A page of a unit's jobs for its export (redis-unit-stream.ts). ARGV: B, then job ids.
-- Each job as { values (job_values: JOB_FIELDS order, the first false when the job is gone),
-- parameters (HGETALL list), history (its entries) }. One script a page: as three commands a job
-- in a pipeline, the client's per-command work was most of a copy's CPU.
local out = {}
for i = 2, #ARGV do
  local k = job_key(ARGV[i])
  out[#out + 1] = { job_values(ARGV[i]), redis.call('HGETALL', k .. ':p'), redis.call('LRANGE', k .. ':h', 0, -1) }
end
return out
