-- Helpers shared by every script (prepended when the script is registered).
-- Contract of every script: KEYS[1] is a key of the namespace (it routes the
-- call to the namespace's Cluster slot); ARGV[1] is the namespace's key
-- prefix "<prefix>{<namespace>}:". All keys a script touches start with it,
-- so they share one hash tag and one slot.
-- Numbers that must stay exact (scores, increments, durations) arrive as
-- strings: Lua formats numbers with 14 significant digits.
local B = ARGV[1]

local function now_ms()
  local t = redis.call('TIME')
  return tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
end

-- The unit's ownership record: hash B..'own' (state, to, epoch, until; absent = active). Every
-- script that writes or fetches returns refusal()'s error reply before its first write when it
-- gives one; redis-namespace.ts turns it into UnitMovedError / UnitFrozenError.
-- While a move copies the unit, its ownership record has `track` set, and every write records a
-- ref of what it changed (unit-stream.ts ItemRef) in the set B..'chg' for the move's catch-up.
-- Read by refusal() in the same HMGET, so a write pays nothing for it when no move runs.
-- A script that may create data calls refusal(true): the record's `used` field is set once, so the
-- backend's hasData answers "never written" for a new unit without SCANning the keyspace (a pin's
-- emptiness check, with the unit frozen). Only clearUnit removes it (redis-namespace.ts).
local TRACKING = false

-- The unit's key registry: the set B..'keys' names (after B) every structure and fencing counter
-- the unit has created ('h:', 'z:', 'l:', 'c:', 'fence:' keys), and the state indexes with
-- B..'stateless' name every job it holds. With them a move's export and the source's cleanup list a
-- unit by its own size instead of SCANning the whole keyspace (redis-unit-listing.ts). A registry
-- entry outlives its key (deletions and expiry do not remove it): the sweep prunes them (prune_keys).
-- The ownership record's `reg` field says the registry is complete, which holds for a unit whose
-- first write came after registries existed; units older than that are listed by SCAN as before.
local keys_known = {}

local function register_key(name)
  if not keys_known[name] then
    redis.call('SADD', B .. 'keys', name)
    keys_known[name] = true
  end
end

-- The first write of a unit: `used` for hasData, and `reg` when nothing of it exists yet (what a
-- unit written before the `used` mark existed would show: its id counters, queues or servers).
local function mark_used()
  redis.call('HSET', B .. 'own', 'used', '1')
  if redis.call('EXISTS', B .. 'seq:job', B .. 'seq:q', B .. 'queues', B .. 'servers', B .. 'states', B .. 'keys') == 0 then
    redis.call('HSET', B .. 'own', 'reg', '1')
  end
end

local function refusal(writes)
  local o = redis.call('HMGET', B .. 'own', 'state', 'to', 'epoch', 'until', 'track', 'used')
  TRACKING = o[5] == '1'
  if o[1] == 'moved' then return redis.error_reply('UNIT_MOVED ' .. o[3] .. ' ' .. o[2]) end
  if o[1] == 'frozen' and tonumber(o[4]) > now_ms() then return redis.error_reply('UNIT_FROZEN ' .. o[4]) end
  if writes and not o[6] then mark_used() end
  return nil
end

local function track(ref)
  if TRACKING then redis.call('SADD', B .. 'chg', ref) end
end

-- A queue entry's ref: its queue and its member "<seq>:<job id>" (\31 separates: names hold no control characters).
local function track_entry(queue, member)
  if TRACKING then redis.call('SADD', B .. 'chg', 'e:' .. queue .. '\31' .. member) end
end

local function job_key(id)
  return B .. 'job:' .. id
end

-- A job hash's fields in the order job_values reads them (redis-namespace.ts toJobRecord reads them so).
local JOB_FIELDS = { 'type', 'args', 'queue', 'createdAt', 'expireAt', 'stateName', 'stateReason', 'stateData', 'stateAt' }

-- The job's fields (JOB_FIELDS order, false where unset); values[1] is false if the job is absent or expired.
local function job_values(id)
  return redis.call('HMGET', job_key(id), unpack(JOB_FIELDS))
end

-- The job as { id, values (job_values), params (HGETALL list) }, or nil if absent or expired.
-- Not JSON: encoding it here cost more than reading it.
local function job_record(id, values)
  values = values or job_values(id)
  if not values[1] then return nil end
  return { id, values, redis.call('HGETALL', job_key(id) .. ':p') }
end

-- A state as the callers pass it, five ARGV values from i (redis-args.ts stateArgs): name, '1' if it
-- has a reason, the reason, data JSON, and the history entry up to its createdAt value.
local function state_at(i)
  return { name = ARGV[i], reason = ARGV[i + 1] == '1' and ARGV[i + 2] or nil, data = ARGV[i + 3], history = ARGV[i + 4] }
end

-- State names this call already added to `states` (one SADD per name per call, not per job).
local states_known = {}

-- Adds a state name to `states` (the names monitoring counts by), once per name a call.
local function register_state(name)
  if not states_known[name] then
    redis.call('SADD', B .. 'states', name)
    states_known[name] = true
  end
end

-- Runs cmd on key with the values of list appended, at most 4,000 at a time (Lua's unpack stops near
-- 8,000): one command for a whole call's entries of a set instead of one per entry. Even, so the
-- (score, member) pairs of a ZADD stay together.
-- With key nil, the values are the command's only arguments (a DEL of many keys). Returns the
-- replies' elements joined, for a command that answers one per value (HMGET, ZMSCORE).
local function call_many(cmd, key, list)
  local out = {}
  for i = 1, #list, 4000 do
    local last = math.min(i + 3999, #list)
    local reply
    if key then reply = redis.call(cmd, key, unpack(list, i, last)) else reply = redis.call(cmd, unpack(list, i, last)) end
    if type(reply) == 'table' then
      for j = 1, #reply do out[#out + 1] = reply[j] end
    end
  end
  return out
end

-- Appends values to the list named `name` in the table `lists`.
local function push_to(lists, name, a, b)
  local l = lists[name]
  if not l then l = {}; lists[name] = l end
  l[#l + 1] = a
  if b ~= nil then l[#l + 1] = b end
end

-- Collects a sorted-set entry for flush_zadds: one ZADD per set for a whole call instead of one per entry.
local function defer_zadd(zadds, name, score, member)
  push_to(zadds, name, score, member)
end

-- Writes what defer_zadd collected: one ZADD per sorted set (prefix .. name), its members in pairs (score, member).
local function flush_zadds(zadds, prefix)
  for name, members in pairs(zadds) do call_many('ZADD', prefix .. name, members) end
end

-- The per-state indexes (`state:<name>`, sorted by state time) a call changes, written once at its
-- end by flush_state_index: one ZREM per index left and one ZADD per index joined for the whole
-- call, instead of a ZREM and a ZADD a job (each redis.call costs about a microsecond besides its
-- command). A job leaves the index of the state it had when the call first changed it and joins
-- that of its last state (false: deleted, in none); the states in between were never visible, as
-- the call is atomic. Every script that changes a job's state or deletes a job calls it at its end.
-- A job without a state is in the index STATELESS stands for (B..'stateless', by creation time), so
-- that the state indexes list every job the unit holds (the key registry above). `old_name`: the
-- state the job had (false: none), or nil for a job this call creates, which is in no index yet.
local index_left, index_last, index_at = {}, {}, {}
local STATELESS = 0

local function index_state(id, old_name, new_name, at)
  if index_left[id] == nil then
    if old_name == nil then index_left[id] = false else index_left[id] = old_name or STATELESS end
  end
  index_last[id] = new_name
  index_at[id] = at
end

local function state_index(name)
  if name == STATELESS then return B .. 'stateless' end
  return B .. 'state:' .. name
end

local function flush_state_index()
  local leave, join = {}, {}
  for id, last in pairs(index_last) do
    local left = index_left[id]
    if left and left ~= last then push_to(leave, left, id) end
    if last then push_to(join, last, index_at[id], id) end
  end
  for name, ids in pairs(leave) do call_many('ZREM', state_index(name), ids) end
  for name, members in pairs(join) do call_many('ZADD', state_index(name), members) end
end

-- A time in ms as text, the last one kept: Lua turns a number into text with sprintf, which was
-- about 4% of Redis's CPU in a drain (perf: printf_fp and its helpers; 1% after) when every job of a
-- call converted the same `now` three times and the lease deadline once.
local time_number, time_string = nil, nil
local function time_text(ms)
  if type(ms) == 'string' then return ms end
  if ms ~= time_number then
    time_number, time_string = ms, string.format('%d', ms)
  end
  return time_string
end

-- Appends a state (see state_at) to the job's history; with `current`, also makes it the job's state
-- (and moves the job between the per-state indexes monitoring reads, at the call's end: see
-- index_state).
-- The job's keys share its expiry (apply_job_expiry), and keys that exist keep their TTL through
-- writes: the one key this can create is the history list, which then takes the job's expiry.
-- `old` is { stateName, stateReason } as HMGET read them; a current write updates it, so a caller
-- may keep it for the job's next op. `expire_at` is the job's expireAt ('' = none; nil: read here if needed).
-- Every command counts: each redis.call costs about a microsecond on top of the command itself
-- (measured here: 101 HGETs in one script 103 µs, one HGET 7 µs).
local function write_state(id, s, current, now, old, expire_at, fields)
  local k = job_key(id)
  track('j:' .. id)
  now = time_text(now)
  if redis.call('RPUSH', k .. ':h', s.history .. now .. '}') == 1 then
    local e = expire_at or redis.call('HGET', k, 'expireAt')
    if e and e ~= '' then redis.call('PEXPIREAT', k .. ':h', e) end
  end
  if current then
    -- `fields`: other fields of the job hash to write in the same HSET (a create writes them all at once).
    local f = fields or {}
    local n = #f
    f[n + 1], f[n + 2], f[n + 3], f[n + 4], f[n + 5], f[n + 6] = 'stateName', s.name, 'stateData', s.data, 'stateAt', now
    if s.reason then f[n + 7], f[n + 8] = 'stateReason', s.reason end
    redis.call('HSET', k, unpack(f))
    if not s.reason and old[2] then redis.call('HDEL', k, 'stateReason') end
    index_state(id, old[1], s.name, now)
    register_state(s.name)
    old[1] = s.name
    old[2] = s.reason or false
  end
end

-- Queue names this call already added to `queues` (one SADD per queue per call, not per job).
local queues_known = {}

-- The backend's work index (work.lua): the sorted set "<prefix>work" of namespaces that hold queue
-- entries, written here in the same script as the entry, so no unit with work is ever missing from
-- it. WORK_INDEX is set when the script is registered: false on a Cluster, where the index lies in
-- another slot than the namespace and redis-backend.ts writes it after the script instead.
local work_noted = false

local function note_work()
  if WORK_INDEX and not work_noted then
    local prefix, ns = string.match(B, '^([^{]*){(.*)}:$')
    redis.call('ZADD', prefix .. 'work', 0, ns)
    work_noted = true
  end
end

-- The backend's due index (due.lua): the sorted set "<prefix>due" of namespaces holding a member of
-- one of the DUE sets (prepended when registered: storage/due-sets.ts), scored by a lower bound of
-- their earliest member. ZADD LT keeps the lowest; due.lua raises a bound that removals left behind.
local function note_due(key, score)
  if WORK_INDEX and DUE[key] then
    local prefix, ns = string.match(B, '^([^{]*){(.*)}:$')
    redis.call('ZADD', prefix .. 'due', 'LT', score, ns)
  end
end

local function register_queue(queue)
  if not queues_known[queue] then
    redis.call('SADD', B .. 'queues', queue)
    queues_known[queue] = true
    note_work()
  end
end

-- Puts the job at the tail of the queue: its sequence number is its FIFO place for good.
local function enqueue(queue, id)
  local seq = redis.call('INCR', B .. 'seq:q')
  redis.call('ZADD', B .. 'q:' .. queue, seq, seq .. ':' .. id)
  track_entry(queue, seq .. ':' .. id)
  register_queue(queue)
end

-- The backend's sweep index (standalone only, like the work index): the sorted set "<prefix>sweep"
-- of namespaces with jobs that expire, scored by a lower bound of their earliest expiry. ZADD LT
-- keeps the lowest; sweep() sets the exact bound, or drops the namespace when nothing expires. The
-- backend's periodic sweep reads it, so namespaces with nothing to sweep cost it nothing.
local function sweep_index()
  local prefix, ns = string.match(B, '^([^{]*){(.*)}:$')
  return prefix .. 'sweep', ns
end

-- A job's keys share its expiry; `expiring` lets sweep() drop index entries of lapsed jobs.
-- `e` is the job's expireAt when the caller just wrote it (nil: read here).
-- The `expiring` entries and the sweep index's bound are written once at the call's end by
-- flush_expiring (one ZADD and one ZREM for the lot, one ZADD LT of the lowest bound): a job's last
-- expiry in the call is what counts. Every script that calls this calls flush_expiring at its end.
local expiry_of = {} -- id -> expireAt text, or false: to leave `expiring`
local sweep_bound, sweep_bound_text = nil, nil

local function apply_job_expiry(id, e)
  local k = job_key(id)
  track('j:' .. id)
  e = e or redis.call('HGET', k, 'expireAt')
  local keys = { k, k .. ':p', k .. ':h' }
  if e and e ~= '' then
    for _, key in ipairs(keys) do redis.call('PEXPIREAT', key, e) end
    expiry_of[id] = e
    local n = tonumber(e)
    if sweep_bound == nil or n < sweep_bound then sweep_bound, sweep_bound_text = n, e end
  else
    for _, key in ipairs(keys) do redis.call('PERSIST', key) end
    expiry_of[id] = false
  end
end

-- A job deleted by this call leaves `expiring` (whatever expiry the call gave it before).
local function drop_expiry(id)
  expiry_of[id] = false
end

local function flush_expiring()
  if next(expiry_of) == nil then return end
  local add, remove = {}, {}
  for id, e in pairs(expiry_of) do
    if e then
      add[#add + 1] = e
      add[#add + 1] = id
    else
      remove[#remove + 1] = id
    end
  end
  call_many('ZADD', B .. 'expiring', add)
  call_many('ZREM', B .. 'expiring', remove)
  if WORK_INDEX and sweep_bound_text then
    local index, ns = sweep_index()
    redis.call('ZADD', index, 'LT', sweep_bound_text, ns)
  end
end

-- Removes registry entries whose keys are gone (deleted, emptied or expired), PRUNE_STEP entries a
-- call, from the backend's sweep (monitor.lua): each sweep goes on where the last one stopped (the
-- cursor in B..'keys:at'), so the registry stays about the size of the unit's keys without any
-- write paying for it.
local PRUNE_STEP = 200

local function prune_keys()
  local reply = redis.call('SSCAN', B .. 'keys', redis.call('GET', B .. 'keys:at') or '0', 'COUNT', PRUNE_STEP)
  local gone = {}
  for _, name in ipairs(reply[2]) do
    if redis.call('EXISTS', B .. name) == 0 then gone[#gone + 1] = name end
  end
  call_many('SREM', B .. 'keys', gone)
  if reply[1] == '0' then redis.call('DEL', B .. 'keys:at') else redis.call('SET', B .. 'keys:at', reply[1]) end
end

-- Removes lapsed jobs from the state indexes (their keys expire by themselves), 500 at a time:
-- one ZREM per state index for the lot, so a state write need not record which index holds a
-- job (the `jobstate` hash that older versions kept is cleared here as it goes).
local function sweep()
  local total = 0
  repeat
    local ids = redis.call('ZRANGEBYSCORE', B .. 'expiring', '-inf', now_ms(), 'LIMIT', 0, 500)
    if #ids > 0 then
      for _, state in ipairs(redis.call('SMEMBERS', B .. 'states')) do
        redis.call('ZREM', B .. 'state:' .. state, unpack(ids))
      end
      redis.call('ZREM', B .. 'stateless', unpack(ids))
      redis.call('HDEL', B .. 'jobstate', unpack(ids))
      redis.call('ZREM', B .. 'expiring', unpack(ids))
      local keys = {}
      for _, id in ipairs(ids) do
        local k = job_key(id)
        keys[#keys + 1] = k
        keys[#keys + 1] = k .. ':p'
        keys[#keys + 1] = k .. ':h'
      end
      redis.call('DEL', unpack(keys))
    end
    total = total + #ids
  until #ids < 500
  if WORK_INDEX then
    local index, ns = sweep_index()
    local first = redis.call('ZRANGE', B .. 'expiring', 0, 0, 'WITHSCORES')
    if #first > 0 then redis.call('ZADD', index, first[2], ns) else redis.call('ZREM', index, ns) end
  end
  return total
end

-- Moves lapsed leases of a queue back to its waiting set, under their original
-- sequence number, so a re-delivered job keeps its place.
local function reclaim(queue, now)
  local lk = B .. 'ql:' .. queue
  local expired = redis.call('ZRANGEBYSCORE', lk, '-inf', now)
  for _, m in ipairs(expired) do
    redis.call('ZREM', lk, m)
    redis.call('ZADD', B .. 'q:' .. queue, string.match(m, '^(%d+):'), m)
  end
end

-- A lease is live if its entry is in the lease set and this is its latest delivery: an entry's
-- deliveries count (in `qd:<queue>`, by sequence number) is its lease token.
local function leased(queue, member, token)
  return redis.call('HGET', B .. 'qd:' .. queue, string.match(member, '^(%d+):')) == token
    and redis.call('ZSCORE', B .. 'ql:' .. queue, member) ~= false
end
