-- Creates a job. ARGV: B, id tag, type, args JSON, queue, parameters JSON, expireInMs ('' = never),
-- first state JSON ('' = none), '1' to enqueue it, wake channel, wake-up origin (the publishing process).
-- The state and the queue entry are written with the job, in this one script.
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
-- A new job has no state to replace, and its expiry is the one just written.
if ARGV[8] ~= '' then write_state(id, cjson.decode(ARGV[8]), true, now, { false, false }) end
apply_job_expiry(id, expire_at)
if ARGV[9] == '1' then
  enqueue(ARGV[5], id)
  redis.call('PUBLISH', ARGV[10], ARGV[11])
end
return id
