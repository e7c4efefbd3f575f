-- Applies a transaction's writes (the JSON form of WriteOp[]) atomically.
-- ARGV: B, ops JSON, wake channel, wake-up origin (the publishing process). Lua cannot roll back, so every
-- precondition (the jobs exist) is checked before the first write.
-- Returns {'JOB_NOT_FOUND', id}, {'LEASE_LOST', queue} or {'OK'}.
local ops = cjson.decode(ARGV[2])
local checked = {}
for _, op in ipairs(ops) do
  if op.jobId and not checked[op.jobId] then
    if redis.call('EXISTS', job_key(op.jobId)) == 0 then return { 'JOB_NOT_FOUND', op.jobId } end
    checked[op.jobId] = true
  end
  if op.op == 'removeFromQueue' then
    -- A delivery removed twice in one batch is lost the second time, as it would be in two commits.
    if checked[op.member] or not leased(op.queue, op.member, op.lease) then return { 'LEASE_LOST', op.queue } end
    checked[op.member] = true
  end
end

local function kind_key(kind, key)
  local prefix = { hash = 'h:', set = 'z:', list = 'l:', counter = 'c:' }
  return B .. prefix[kind] .. key
end

local now = now_ms()
local enqueued = false
for _, op in ipairs(ops) do
  local t = op.op
  if t == 'setJobState' or t == 'addJobState' then
    write_state(op.jobId, op.state, t == 'setJobState', now)
  elseif t == 'setJobParameter' then
    redis.call('HSET', job_key(op.jobId) .. ':p', op.name, op.value)
    apply_job_expiry(op.jobId)
  elseif t == 'expireJob' then
    local e = tostring(now + tonumber(op.ms))
    redis.call('HSET', job_key(op.jobId), 'expireAt', e)
    apply_job_expiry(op.jobId, e)
  elseif t == 'persistJob' then
    redis.call('HSET', job_key(op.jobId), 'expireAt', '')
    apply_job_expiry(op.jobId, '')
  elseif t == 'enqueue' then
    enqueue(op.queue, op.jobId)
    enqueued = true
  elseif t == 'removeFromQueue' then
    redis.call('ZREM', B .. 'ql:' .. op.queue, op.member)
    redis.call('HDEL', B .. 'qm:' .. op.queue, string.match(op.member, '^(%d+):'))
  elseif t == 'hashSet' then
    for field, value in pairs(op.fields) do redis.call('HSET', kind_key('hash', op.key), field, value) end
  elseif t == 'hashDelete' then
    redis.call('DEL', kind_key('hash', op.key))
  elseif t == 'setAdd' then
    redis.call('ZADD', kind_key('set', op.key), op.score, op.member)
  elseif t == 'setRemove' then
    redis.call('ZREM', kind_key('set', op.key), op.member)
  elseif t == 'setDelete' then
    redis.call('DEL', kind_key('set', op.key))
  elseif t == 'listInsert' then
    redis.call('LPUSH', kind_key('list', op.key), op.value)
  elseif t == 'listRemove' then
    redis.call('LREM', kind_key('list', op.key), 0, op.value)
  elseif t == 'listTrim' then
    redis.call('LTRIM', kind_key('list', op.key), op.start, op['end'])
  elseif t == 'listDelete' then
    redis.call('DEL', kind_key('list', op.key))
  elseif t == 'counterIncrement' then
    redis.call('INCRBY', kind_key('counter', op.key), op.by)
    if op.expireInMs ~= cjson.null then redis.call('PEXPIRE', kind_key('counter', op.key), op.expireInMs) end
  elseif t == 'expire' then
    redis.call('PEXPIRE', kind_key(op.kind, op.key), op.ms)
  elseif t == 'persist' then
    redis.call('PERSIST', kind_key(op.kind, op.key))
  end
end
if enqueued then redis.call('PUBLISH', ARGV[3], ARGV[4]) end
return { 'OK' }
