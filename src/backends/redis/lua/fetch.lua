-- Leases up to ARGV[3] visible entries: the first queue's in FIFO order, then the next queue's.
-- ARGV: B, invisibility ms, count, '1' to read each job too, n = number of 'from' states (0 = no state
-- change); with n > 0 the new state (5 values, see state_at) and the n from-state names follow;
-- then the queue names in priority order.
-- Returns { {member "<seq>:<jobId>", queue, token, deliveries, job (see job_record) or nil}..., next_visible_ms (-1 = none) }:
-- with the job read (and, with a state change, marked) here, a worker needs no second call before it runs it.
local with_job = ARGV[4] == '1'
local n_from = tonumber(ARGV[5])
local first_queue = 6
local change, from = nil, {}
if n_from > 0 then
  change = state_at(6)
  for i = 11, 10 + n_from do from[ARGV[i]] = true end
  first_queue = 11 + n_from
end
local now = now_ms()
local until_ms = now + tonumber(ARGV[2])
local left = tonumber(ARGV[3])
local out = {}
for i = first_queue, #ARGV do
  local queue = ARGV[i]
  reclaim(queue, now)
  if left > 0 then
    local popped = redis.call('ZPOPMIN', B .. 'q:' .. queue, left)
    for j = 1, #popped, 2 do
      local member, seq = popped[j], popped[j + 1]
      -- The entry's deliveries count is also its lease token: it grows with every delivery.
      local deliveries = redis.call('HINCRBY', B .. 'qd:' .. queue, seq, 1)
      redis.call('ZADD', B .. 'ql:' .. queue, until_ms, member)
      local id = string.sub(member, string.find(member, ':', 1, true) + 1)
      if change then
        local old = redis.call('HMGET', job_key(id), 'stateName', 'stateReason')
        if old[1] and from[old[1]] then write_state(id, change, true, now, old) end
      end
      local job = with_job and job_record(id) or false
      out[#out + 1] = { member, queue, tostring(deliveries), deliveries, job }
      left = left - 1
    end
  end
end
local next_visible = -1
if left > 0 then
  for i = first_queue, #ARGV do
    local first = redis.call('ZRANGE', B .. 'ql:' .. ARGV[i], 0, 0, 'WITHSCORES')
    if #first > 0 then
      local d = math.max(0, tonumber(first[2]) - now)
      if next_visible < 0 or d < next_visible then next_visible = d end
    end
  end
end
return { out, next_visible }
