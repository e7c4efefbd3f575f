-- Creates jobs: one, or a batch of concurrent creates in one call.
-- ARGV: B, id tag, wake channel, wake-up origin (the publishing process), then per job 12 values:
-- type, args JSON, queue, parameters JSON, expireInMs ('' = never), '1' to enqueue it, '1' if it has a
-- first state, then that state's 5 values (see state_at; empty strings when it has none). Each job's state and queue entry are written with it, in this one script.
-- Returns the new ids "<n>.<tag>", in input order.
-- The batch's ids and queue places are drawn with one INCRBY each, and its state-index and queue
-- entries written with one ZADD per state and per queue: commands a create made per job (six per
-- job before, two now: the history's RPUSH and the job's HSET).
do local refused = refusal(true) if refused then return refused end end
local now = now_ms()
local ids = {}
local n_jobs, n_enqueued = 0, 0
for i = 5, #ARGV, 12 do
  n_jobs = n_jobs + 1
  if ARGV[i + 5] == '1' then n_enqueued = n_enqueued + 1 end
end
if n_jobs == 0 then return ids end
-- In input order, as INCR one job at a time would have drawn them.
local next_id = redis.call('INCRBY', B .. 'seq:job', n_jobs) - n_jobs
local next_seq = 0
if n_enqueued > 0 then next_seq = redis.call('INCRBY', B .. 'seq:q', n_enqueued) - n_enqueued end
local queued = {}
for i = 5, #ARGV, 12 do
  local queue = ARGV[i + 2]
  next_id = next_id + 1
  local id = next_id .. '.' .. ARGV[2]
  local k = job_key(id)
  track('j:' .. id)
  local expire_at = ''
  if ARGV[i + 4] ~= '' then expire_at = tostring(now + tonumber(ARGV[i + 4])) end
  local fields = { 'type', ARGV[i], 'args', ARGV[i + 1], 'queue', queue, 'createdAt', now, 'expireAt', expire_at }
  -- A new job has no state to replace, and its expiry is the one just written. Its keys are new,
  -- so one that never expires needs no PERSIST and is in no `expiring` index yet. With a state,
  -- the job's fields go in the state's HSET: one write for the hash.
  if ARGV[i + 6] == '1' then
    write_state(id, state_at(i + 7), true, now, { nil, false }, expire_at, fields)
  else
    redis.call('HSET', k, unpack(fields))
    index_state(id, nil, STATELESS, now)
  end
  if ARGV[i + 3] ~= '{}' then
    for name, value in pairs(cjson.decode(ARGV[i + 3])) do
      redis.call('HSET', k .. ':p', name, value)
    end
  end
  if expire_at ~= '' then apply_job_expiry(id, expire_at) end
  if ARGV[i + 5] == '1' then
    -- As enqueue() does, with the place drawn above: its sequence number is its FIFO place for good.
    next_seq = next_seq + 1
    defer_zadd(queued, queue, next_seq, next_seq .. ':' .. id)
    track_entry(queue, next_seq .. ':' .. id)
  end
  ids[#ids + 1] = id
end
flush_state_index()
flush_expiring()
flush_zadds(queued, B .. 'q:')
for queue in pairs(queued) do register_queue(queue) end
if n_enqueued > 0 then redis.call('PUBLISH', ARGV[3], ARGV[4]) end
return ids
