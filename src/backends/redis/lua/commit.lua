-- Applies a transaction's writes atomically.
-- ARGV: B, wake channel, wake-up origin (the publishing process), then the ops flat (redis-args.ts
-- pushOpArgs): each a code and its values. Lua cannot roll back, so every precondition (the jobs
-- exist, the leases hold) is checked before the first write.
-- Returns {'JOB_NOT_FOUND', id}, {'LEASE_LOST', queue} or {'OK'}: the first failure in op order.
-- A group commit carries many transactions' ops, so what is done per job is done for the lot where
-- no later op reads it: the leases checked and the entries removed per queue, the deleted jobs' keys
-- in one DEL, the state indexes once (common.lua flush_state_index). A worker's outcome went from 8
-- commands a job to 1 (bench:redis-commands, retentionMs 0: 13.5 a job fetched and finished, 5.8 now).
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
-- The removals in op order, checked in one pass per queue after this loop: { queue, member, token }.
local removals = {}
local missing = nil
for _, p in ipairs(at) do
  local code = ARGV[p]
  if JOB_OP[code] then
    local id = ARGV[p + 1]
    if not jobs[id] then
      local h = redis.call('HMGET', job_key(id), 'type', 'stateName', 'stateReason', 'expireAt')
      -- Reported unless a removal before it lost its lease (checked below): the first failure in op order.
      if not h[1] then
        missing = id
        break
      end
      jobs[id] = { h[2], h[3], h[4] or '' }
    end
  elseif code == 'R' then
    removals[#removals + 1] = { ARGV[p + 1], ARGV[p + 2], ARGV[p + 3] }
  end
end

-- A removal holds if its entry is leased under its token (common.lua leased): the tokens and lease
-- deadlines of a queue's removals are read with one HMGET and one ZMSCORE, not two commands each.
local by_queue = {}
for n, r in ipairs(removals) do push_to(by_queue, r[1], n) end
local lost = {}
for queue, ns in pairs(by_queue) do
  local seqs, members = {}, {}
  for j, n in ipairs(ns) do
    seqs[j] = string.match(removals[n][2], '^(%d+):') or ''
    members[j] = removals[n][2]
  end
  local tokens = call_many('HMGET', B .. 'qd:' .. queue, seqs)
  local deadlines = call_many('ZMSCORE', B .. 'ql:' .. queue, members)
  for j, n in ipairs(ns) do
    if tokens[j] ~= removals[n][3] or not deadlines[j] then lost[n] = true end
  end
end
-- A delivery removed twice in one batch is lost the second time, as it would be in two commits.
local removed = {}
for n, r in ipairs(removals) do
  if lost[n] or removed[r[2]] then return { 'LEASE_LOST', r[1] } end
  removed[r[2]] = true
end
if missing then return { 'JOB_NOT_FOUND', missing } end

local REF_OF_KIND = { hash = 'h:', set = 'z:', list = 'l:', counter = 'c:' }

local function kind_key(kind, key)
  local prefix = { hash = 'h:', set = 'z:', list = 'l:', counter = 'c:' }
  return B .. prefix[kind] .. key
end

local now = now_ms()
local enqueued = false
local unleased, undelivered = {}, {}
for _, p in ipairs(at) do
  local code, a, b, c = ARGV[p], ARGV[p + 1], ARGV[p + 2], ARGV[p + 3]
  if code == 'S' or code == 'A' then
    local job = jobs[a]
    write_state(a, state_at(p + 2), code == 'S', now, job, job[3])
  elseif code == 'R' then
    -- Written after the loop, one ZREM and one HDEL per queue (no later op reads them).
    track_entry(a, b)
    push_to(unleased, a, b)
    push_to(undelivered, a, string.match(b, '^(%d+):'))
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
    register_key('c:' .. a)
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
    register_key('h:' .. a)
    local k = kind_key('hash', a)
    for f = p + 3, p + 2 + 2 * tonumber(b), 2 do redis.call('HSET', k, ARGV[f], ARGV[f + 1]) end
  elseif code == 'HD' then
    track('h:' .. a)
    redis.call('DEL', kind_key('hash', a))
  elseif code == 'ZA' then
    track('z:' .. a)
    register_key('z:' .. a)
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
    register_key('l:' .. a)
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
for queue, members in pairs(unleased) do call_many('ZREM', B .. 'ql:' .. queue, members) end
for queue, seqs in pairs(undelivered) do call_many('HDEL', B .. 'qd:' .. queue, seqs) end
-- The deleted jobs' keys and index entries, one command each for the lot.
local doomed_keys = {}
for id, job in pairs(jobs) do
  if job.doomed then
    track('j:' .. id)
    local k = job_key(id)
    doomed_keys[#doomed_keys + 1] = k
    doomed_keys[#doomed_keys + 1] = k .. ':p'
    doomed_keys[#doomed_keys + 1] = k .. ':h'
    index_state(id, job[1], false, now)
    -- In `expiring` only if it had an expiry, or was given one earlier in this call.
    if job[3] ~= '' or expiry_of[id] ~= nil then drop_expiry(id) end
  end
end
call_many('DEL', nil, doomed_keys)
flush_state_index()
flush_expiring()
if enqueued then redis.call('PUBLISH', ARGV[2], ARGV[3]) end
return { 'OK' }
