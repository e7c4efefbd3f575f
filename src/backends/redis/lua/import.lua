-- Writes a batch of a unit's export (unit-stream.ts) into this namespace, which was empty when the
-- import began. It bypasses the ownership record: a move imports into a unit nobody routes to yet.
-- ARGV: B, wake channel, wake-up origin, the batch as JSON (redis-unit-stream.ts: every number a
-- string, since Lua formats numbers with 14 digits; history entries already in the stored form).
-- Each job goes into the same keys and indexes a create and its commits would have written.
local items = cjson.decode(ARGV[4])
local enqueued = false
local function expire_at(key, at)
  if at ~= '' then redis.call('PEXPIREAT', key, at) end
end
for _, it in ipairs(items) do
  local kind = it.kind
  if kind == 'job' then
    local id = it.id
    local k = job_key(id)
    local fields = { 'type', it.type, 'args', it.args, 'queue', it.queue, 'createdAt', it.createdAt, 'expireAt', it.expireAt }
    if it.state then
      local s = it.state
      fields[#fields + 1], fields[#fields + 2] = 'stateName', s.name
      fields[#fields + 1], fields[#fields + 2] = 'stateData', s.data
      fields[#fields + 1], fields[#fields + 2] = 'stateAt', s.at
      if s.reason then fields[#fields + 1], fields[#fields + 2] = 'stateReason', s.reason end
      redis.call('ZADD', B .. 'state:' .. s.name, s.at, id)
      redis.call('SADD', B .. 'states', s.name)
    end
    redis.call('HSET', k, unpack(fields))
    if #it.params > 0 then redis.call('HSET', k .. ':p', unpack(it.params)) end
    if #it.history > 0 then redis.call('RPUSH', k .. ':h', unpack(it.history)) end
    if it.expireAt ~= '' then apply_job_expiry(id, it.expireAt) end
  elseif kind == 'entry' then
    local seq = redis.call('INCR', B .. 'seq:q')
    local member = seq .. ':' .. it.jobId
    if it.leaseUntil ~= '' then
      redis.call('ZADD', B .. 'ql:' .. it.queue, it.leaseUntil, member)
    else
      redis.call('ZADD', B .. 'q:' .. it.queue, seq, member)
      enqueued = true
    end
    -- The deliveries count is also the lease token: the next delivery's is above the copied one.
    if it.deliveries ~= '0' then redis.call('HSET', B .. 'qd:' .. it.queue, seq, it.deliveries) end
    register_queue(it.queue)
  elseif kind == 'hash' then
    redis.call('HSET', B .. 'h:' .. it.key, unpack(it.fields))
    expire_at(B .. 'h:' .. it.key, it.expireAt)
  elseif kind == 'set' then
    redis.call('ZADD', B .. 'z:' .. it.key, unpack(it.members))
    expire_at(B .. 'z:' .. it.key, it.expireAt)
  elseif kind == 'list' then
    redis.call('RPUSH', B .. 'l:' .. it.key, unpack(it.values))
    expire_at(B .. 'l:' .. it.key, it.expireAt)
  elseif kind == 'counter' then
    redis.call('SET', B .. 'c:' .. it.key, it.value)
    expire_at(B .. 'c:' .. it.key, it.expireAt)
  elseif kind == 'lock' then
    redis.call('SET', B .. 'fence:' .. it.resource, it.fence)
    if it.holder ~= '' then
      redis.call('SET', B .. 'lock:' .. it.resource, it.holder)
      redis.call('PEXPIREAT', B .. 'lock:' .. it.resource, it.leaseUntil)
    end
  elseif kind == 'server' then
    redis.call('HSET', B .. 'servers', it.id, it.info)
    redis.call('ZADD', B .. 'beats', it.heartbeatAt, it.id)
  elseif kind == 'reserve' then
    -- Native ids drawn later stay above every imported one of this namespace's own form.
    local n = tonumber(redis.call('GET', B .. 'seq:job') or '0')
    if tonumber(it.id) > n then redis.call('SET', B .. 'seq:job', it.id) end
  end
end
if enqueued then redis.call('PUBLISH', ARGV[2], ARGV[3]) end
return #items
