-- Monitoring reads. ARGV: B, action, ...
--   queues -> { {name, waiting, inFlight}... }
--   visible-work queue... -> 1 or 0
--   first-due -> the earliest score in the DUE sets, or -1
--   queue-jobs queue offset limit -> { jobJSON... } (waiting entries in fetch order)
--   state-counts -> { {state, count}... }
--   jobs-in-state state offset limit -> { jobJSON... } (newest state change first)
--   counters key... -> { value... } (0 for a missing counter)
--   sweep -> number of lapsed jobs removed from the indexes (also prunes the key registry a step)
local action = ARGV[2]
local now = now_ms()
if action == 'queues' then
  local out = {}
  for _, queue in ipairs(redis.call('SMEMBERS', B .. 'queues')) do
    reclaim(queue, now)
    local waiting = redis.call('ZCARD', B .. 'q:' .. queue)
    local in_flight = redis.call('ZCARD', B .. 'ql:' .. queue)
    if waiting + in_flight == 0 then
      redis.call('SREM', B .. 'queues', queue)
    else
      out[#out + 1] = { queue, waiting, in_flight }
    end
  end
  return out
elseif action == 'visible-work' then
  -- 1 when a queue of ARGV[3..] has a waiting entry or a lapsed lease (work.lua's test, for one namespace on a Cluster).
  for i = 3, #ARGV do
    if redis.call('ZCARD', B .. 'q:' .. ARGV[i]) > 0 then return 1 end
    local first = redis.call('ZRANGE', B .. 'ql:' .. ARGV[i], 0, 0, 'WITHSCORES')
    if #first > 0 and tonumber(first[2]) <= now then return 1 end
  end
  return 0
elseif action == 'first-due' then
  -- The earliest score in the namespace's DUE sets (due.lua's test, for one namespace on a Cluster), or -1.
  local first = -1
  for key in pairs(DUE) do
    local m = redis.call('ZRANGE', B .. 'z:' .. key, 0, 0, 'WITHSCORES')
    if #m > 0 and (first < 0 or tonumber(m[2]) < first) then first = tonumber(m[2]) end
  end
  return first
elseif action == 'counters' then
  local out = {}
  for i = 3, #ARGV do out[#out + 1] = tonumber(redis.call('GET', B .. 'c:' .. ARGV[i]) or '0') end
  return out
elseif action == 'queue-jobs' then
  local queue = ARGV[3]
  reclaim(queue, now)
  local offset = tonumber(ARGV[4])
  local out = {}
  for _, member in ipairs(redis.call('ZRANGE', B .. 'q:' .. queue, offset, offset + tonumber(ARGV[5]) - 1)) do
    local rec = job_record(string.match(member, '^%d+:(.*)$'))
    if rec then out[#out + 1] = rec end
  end
  return out
elseif action == 'state-counts' then
  sweep()
  local out = {}
  for _, state in ipairs(redis.call('SMEMBERS', B .. 'states')) do
    local n = redis.call('ZCARD', B .. 'state:' .. state)
    if n == 0 then redis.call('SREM', B .. 'states', state) else out[#out + 1] = { state, n } end
  end
  return out
elseif action == 'jobs-in-state' then
  sweep()
  local offset = tonumber(ARGV[4])
  local out = {}
  for _, id in ipairs(redis.call('ZREVRANGE', B .. 'state:' .. ARGV[3], offset, offset + tonumber(ARGV[5]) - 1)) do
    local rec = job_record(id)
    if rec then out[#out + 1] = rec end
  end
  return out
end
prune_keys()
return sweep()
