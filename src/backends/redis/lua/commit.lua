-- Applies a transaction's writes atomically.
-- ARGV: B, wake channel, wake-up origin (the publishing process), then the ops flat (redis-args.ts
-- pushOpArgs): each a code and its values. Lua cannot roll back, so every precondition (the jobs
-- exist, the leases hold) is checked before the first write.
-- Returns {'JOB_NOT_FOUND', id}, {'LEASE_LOST', queue} or {'OK'}.
do local refused = refusal(true) if refused then return refused end end
local ARITY = { S = 6, A = 6, P = 3, E = 2, N = 1, Q = 2, R = 3, HD = 1, ZA = 3, ZR = 2, ZD = 1,
  LI = 2, LR = 2, LT = 3, LD = 1, CI = 3, X = 3, XP = 2 }
-- Ops whose first value is a job id.
local JOB_OP = { S = true, A = true, P = true, E = true, N = true, Q = true }

local at = {}
local i = 4
while i <= #ARGV do
  at[#at + 1] = i
  local code = ARGV[i]
  if code == 'HS' then i = i + 3 + 2 * tonumber(ARGV[i + 2]) else i = i + 1 + ARITY[code] end
end

-- Each job's { stateName, stateReason, expireAt } as read before the first write; the writes keep it current.
local jobs = {}
local removed = {}
for _, p in ipairs(at) do
  local code = ARGV[p]
  if JOB_OP[code] then
    local id = ARGV[p + 1]
    if not jobs[id] then
      local h = redis.call('HMGET', job_key(id), 'type', 'stateName', 'stateReason', 'expireAt')
      if not h[1] then return { 'JOB_NOT_FOUND', id } end
      jobs[id] = { h[2], h[3], h[4] or '' }
    end
  elseif code == 'R' then
    local member = ARGV[p + 2]
    -- A delivery removed twice in one batch is lost the second time, as it would be in two commits.
    if removed[member] or not leased(ARGV[p + 1], member, ARGV[p + 3]) then return { 'LEASE_LOST', ARGV[p + 1] } end
    removed[member] = true
  end
end

local REF_OF_KIND = { hash = 'h:', set = 'z:', list = 'l:', counter = 'c:' }

local function kind_key(kind, key)
  local prefix = { hash = 'h:', set = 'z:', list = 'l:', counter = 'c:' }
  return B .. prefix[kind] .. key
end

local now = now_ms()
local enqueued = false
for _, p in ipairs(at) do
  local code, a, b, c = ARGV[p], ARGV[p + 1], ARGV[p + 2], ARGV[p + 3]
  if code == 'S' or code == 'A' then
    local job = jobs[a]
    write_state(a, state_at(p + 2), code == 'S', now, job, job[3])
  elseif code == 'R' then
    track_entry(a, b)
    redis.call('ZREM', B .. 'ql:' .. a, b)
    redis.call('HDEL', B .. 'qd:' .. a, string.match(b, '^(%d+):'))
  elseif code == 'E' and b == '0' then
    -- Expiring now is deleting, done at the end (a later op may still persist the job): the keys
    -- and index entries go at once instead of lingering in the indexes until a sweep.
    jobs[a].doomed = true
  elseif code == 'E' then
    local e = tostring(now + tonumber(b))
    redis.call('HSET', job_key(a), 'expireAt', e)
    jobs[a][3] = e
    jobs[a].doomed = false
    apply_job_expiry(a, e)
  elseif code == 'CI' then
    track('c:' .. a)
    redis.call('INCRBY', kind_key('counter', a), b)
    if c ~= '' then redis.call('PEXPIRE', kind_key('counter', a), c) end
  elseif code == 'P' then
    redis.call('HSET', job_key(a) .. ':p', b, c)
    apply_job_expiry(a, jobs[a][3])
  elseif code == 'N' then
    redis.call('HSET', job_key(a), 'expireAt', '')
    jobs[a][3] = ''
    jobs[a].doomed = false
    apply_job_expiry(a, '')
  elseif code == 'Q' then
    enqueue(b, a)
    enqueued = true
  elseif code == 'HS' then
    track('h:' .. a)
    local k = kind_key('hash', a)
    for f = p + 3, p + 2 + 2 * tonumber(b), 2 do redis.call('HSET', k, ARGV[f], ARGV[f + 1]) end
  elseif code == 'HD' then
    track('h:' .. a)
    redis.call('DEL', kind_key('hash', a))
  elseif code == 'ZA' then
    track('z:' .. a)
    redis.call('ZADD', kind_key('set', a), b, c)
    note_due(a, b)
  elseif code == 'ZR' then
    track('z:' .. a)
    redis.call('ZREM', kind_key('set', a), b)
  elseif code == 'ZD' then
    track('z:' .. a)
    redis.call('DEL', kind_key('set', a))
  elseif code == 'LI' then
    track('l:' .. a)
    redis.call('LPUSH', kind_key('list', a), b)
  elseif code == 'LR' then
    track('l:' .. a)
    redis.call('LREM', kind_key('list', a), 0, b)
  elseif code == 'LT' then
    track('l:' .. a)
    redis.call('LTRIM', kind_key('list', a), b, c)
  elseif code == 'LD' then
    track('l:' .. a)
    redis.call('DEL', kind_key('list', a))
  elseif code == 'X' then
    track(REF_OF_KIND[a] .. b)
    redis.call('PEXPIRE', kind_key(a, b), c)
  elseif code == 'XP' then
    track(REF_OF_KIND[a] .. b)
    redis.call('PERSIST', kind_key(a, b))
  end
end
for id, job in pairs(jobs) do
  if job.doomed then
    track('j:' .. id)
    local k = job_key(id)
    redis.call('DEL', k, k .. ':p', k .. ':h')
    if job[1] then redis.call('ZREM', B .. 'state:' .. job[1], id) end
    if job[3] ~= '' then redis.call('ZREM', B .. 'expiring', id) end
  end
end
if enqueued then redis.call('PUBLISH', ARGV[2], ARGV[3]) end
return { 'OK' }
