-- ARGV: B, id, name, value. Returns 1, or 0 if the job does not exist.
do local refused = refusal() if refused then return refused end end
local k = job_key(ARGV[2])
if redis.call('EXISTS', k) == 0 then return 0 end
track('j:' .. ARGV[2])
redis.call('HSET', k .. ':p', ARGV[3], ARGV[4])
apply_job_expiry(ARGV[2])
flush_expiring()
return 1
