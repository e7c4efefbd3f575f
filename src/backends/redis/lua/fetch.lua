-- Leases up to ARGV[3] visible entries: the first queue's in FIFO order, then the next queue's.
-- ARGV: B, invisibility ms, count, '1' to read each job too, n = number of 'from' states (0 = no state
-- change); with n > 0 the new state (5 values, see state_at) and the n from-state names follow;
-- then the queue names in priority order.
-- Returns { {member "<seq>:<jobId>", queue, deliveries (also the lease token), job (see job_record) or nil,
-- 1 if it took the new state}..., next_visible_ms (-1 = none), now }: with the job read (and, with a state
-- change, marked) here, a worker needs no second call before it runs it. A job that took the new state
-- comes as read before the change: the caller knows the state it took, and `now` is its stateAt.
do local refused = refusal() if refused then return refused end end
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
-- As text once: each ZADD pair would otherwise convert it again.
local until_ms = time_text(now + tonumber(ARGV[2]))
local left = tonumber(ARGV[3])
local out = {}
-- Written after the loop, one ZADD for the lot: the leases (all with the same deadline). The state
-- indexes are written by flush_state_index.
local leases = {}
for i = first_queue, #ARGV do
  local queue = ARGV[i]
  reclaim(queue, now)
  if left > 0 then
    local popped = redis.call('ZPOPMIN', B .. 'q:' .. queue, left)
    -- The entries' deliveries counts, each also its entry's lease token (it grows with every
    -- delivery): read and written with one command each for the batch, not a HINCRBY an entry.
    local qd = B .. 'qd:' .. queue
    local seqs, counts = {}, {}
    for j = 2, #popped, 2 do seqs[#seqs + 1] = popped[j] end
    if #seqs > 0 then
      local was = redis.call('HMGET', qd, unpack(seqs))
      local writes = {}
      for j = 1, #seqs do
        counts[j] = (tonumber(was[j]) or 0) + 1
        writes[#writes + 1] = seqs[j]
        writes[#writes + 1] = counts[j]
      end
      redis.call('HSET', qd, unpack(writes))
    end
    for j = 1, #popped, 2 do
      local member = popped[j]
      local deliveries = counts[(j + 1) / 2]
      track_entry(queue, member)
      defer_zadd(leases, queue, until_ms, member)
      local id = string.sub(member, string.find(member, ':', 1, true) + 1)
      local job, changed = false, 0
      if with_job then
        local values = job_values(id)
        -- values[6], values[7]: stateName, stateReason
        if change and values[6] and from[values[6]] then
          write_state(id, change, true, now, { values[6], values[7] })
          changed = 1
        end
        job = job_record(id, values) or false
      end
      out[#out + 1] = { member, queue, deliveries, job, changed }
      left = left - 1
    end
  end
end
flush_zadds(leases, B .. 'ql:')
flush_state_index()
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
return { out, next_visible, now }
