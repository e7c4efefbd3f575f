-- Creates a job with no state. ARGV: B, id tag, type, args JSON, queue, parameters JSON, expireInMs ('' = never).
-- Returns the new id "<n>.<tag>".
local now = now_ms()
local id = redis.call('INCR', B .. 'seq:job') .. '.' .. ARGV[2]
local k = job_key(id)
local expire_at = ''
if ARGV[7] ~= '' then expire_at = tostring(now + tonumber(ARGV[7])) end
redis.call('HSET', k, 'type', ARGV[3], 'args', ARGV[4], 'queue', ARGV[5], 'createdAt', now, 'expireAt', expire_at)
for name, value in pairs(cjson.decode(ARGV[6])) do
  redis.call('HSET', k .. ':p', name, value)
end
apply_job_expiry(id)
return id
