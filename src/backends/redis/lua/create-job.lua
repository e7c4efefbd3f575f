-- Creates jobs: one, or a batch of concurrent creates in one call.
-- ARGV: B, id tag, wake channel, wake-up origin (the publishing process), then per job 12 values:
-- type, args JSON, queue, parameters JSON, expireInMs ('' = never), '1' to enqueue it, '1' if it has a
-- first state, then that state's 5 values (see state_at; empty strings when it has none). Each job's state and queue entry are written with it, in this one script.
-- Returns the new ids "<n>.<tag>", in input order.
local now = now_ms()
local ids = {}
local enqueued = false
for i = 5, #ARGV, 12 do
  local queue = ARGV[i + 2]
  local id = redis.call('INCR', B .. 'seq:job') .. '.' .. ARGV[2]
  local k = job_key(id)
  local expire_at = ''
  if ARGV[i + 4] ~= '' then expire_at = tostring(now + tonumber(ARGV[i + 4])) end
  local fields = { 'type', ARGV[i], 'args', ARGV[i + 1], 'queue', queue, 'createdAt', now, 'expireAt', expire_at }
  -- A new job has no state to replace, and its expiry is the one just written. Its keys are new,
  -- so one that never expires needs no PERSIST and is in no `expiring` index yet. With a state,
  -- the job's fields go in the state's HSET: one write for the hash.
  if ARGV[i + 6] == '1' then
    write_state(id, state_at(i + 7), true, now, { false, false }, expire_at, fields)
  else
    redis.call('HSET', k, unpack(fields))
  end
  if ARGV[i + 3] ~= '{}' then
    for name, value in pairs(cjson.decode(ARGV[i + 3])) do
      redis.call('HSET', k .. ':p', name, value)
    end
  end
  if expire_at ~= '' then apply_job_expiry(id, expire_at) end
  if ARGV[i + 5] == '1' then
    enqueue(queue, id)
    enqueued = true
  end
  ids[#ids + 1] = id
end
if enqueued then redis.call('PUBLISH', ARGV[3], ARGV[4]) end
return ids
