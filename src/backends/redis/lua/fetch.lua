-- Leases up to ARGV[3] visible entries: the first queue's in FIFO order, then the next queue's.
-- ARGV: B, invisibility ms, count, '1' to read each job too, state change JSON {state, from} ('' = none),
-- queue names in priority order.
-- Returns { {member "<seq>:<jobId>", queue, token, deliveries, job JSON or nil}..., next_visible_ms (-1 = none) }:
-- with the job read (and, with a state change, marked) here, a worker needs no second call before it runs it.
local with_job = ARGV[4] == '1'
local change = ARGV[5] ~= '' and cjson.decode(ARGV[5]) or nil
local from = {}
if change then
  for _, name in ipairs(change.from) do from[name] = true end
end
local now = now_ms()
local until_ms = now + tonumber(ARGV[2])
local left = tonumber(ARGV[3])
local out = {}
for i = 6, #ARGV do
  local queue = ARGV[i]
  reclaim(queue, now)
  if left > 0 then
    local popped = redis.call('ZPOPMIN', B .. 'q:' .. queue, left)
    for j = 1, #popped, 2 do
      local member, seq = popped[j], popped[j + 1]
      local meta = redis.call('HGET', B .. 'qm:' .. queue, seq)
      local deliveries = 1
      if meta then deliveries = tonumber(string.match(meta, '^(%d+):')) + 1 end
      local token = tostring(redis.call('INCR', B .. 'seq:lease'))
      redis.call('HSET', B .. 'qm:' .. queue, seq, deliveries .. ':' .. token)
      redis.call('ZADD', B .. 'ql:' .. queue, until_ms, member)
      local id = string.sub(member, string.find(member, ':', 1, true) + 1)
      if change then
        local old = redis.call('HMGET', job_key(id), 'stateName', 'stateReason')
        if old[1] and from[old[1]] then write_state(id, change.state, true, now, old) end
      end
      local job = with_job and job_record(id) or false
      out[#out + 1] = { member, queue, token, deliveries, job }
      left = left - 1
    end
  end
end
local next_visible = -1
if left > 0 then
  for i = 6, #ARGV do
    local first = redis.call('ZRANGE', B .. 'ql:' .. ARGV[i], 0, 0, 'WITHSCORES')
    if #first > 0 then
      local d = math.max(0, tonumber(first[2]) - now)
      if next_visible < 0 or d < next_visible then next_visible = d end
    end
  end
end
return { out, next_visible }
