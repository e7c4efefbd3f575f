-- Writes a batch of a unit's export (unit-stream.ts) into this namespace, which was empty when the
-- import began. It bypasses the ownership record's refusals: a move imports into a unit nobody
-- routes to yet (but see the fence, ARGV[5]).
-- ARGV: B, wake channel, wake-up origin, the batch as JSON (redis-unit-stream.ts: every number a
-- string, since Lua formats numbers with 14 digits; history entries already in the stored form),
-- the fence epoch.
-- Each job goes into the same keys and indexes a create and its commits would have written.
-- An item with `replace` first removes its earlier copy; 'entry-update' moves an entry already copied
-- (keeping its place), 'entry-del' and 'del-*' remove what is gone at the source.
-- Returns the member of each 'entry' written, in order (the caller maps the source's entries to them).
-- Structures go in with call_many: a hash, set or list of more than about 8,000 values overflows
-- Lua's unpack (a unit's alias hash grows by one field a job with each stay on Postgres).
-- ARGV[5]: a move's fence epoch, or '' (unit-stream.ts ImportFence): then the call writes only while
-- the ownership record is the `moved` mark of that epoch, and otherwise replies IMPORT_FENCED.
if ARGV[5] ~= '' then
  local o = redis.call('HMGET', B .. 'own', 'state', 'epoch')
  if o[1] ~= 'moved' or o[2] ~= ARGV[5] then return redis.error_reply('IMPORT_FENCED') end
end
local items = cjson.decode(ARGV[4])
if redis.call('HEXISTS', B .. 'own', 'used') == 0 then mark_used() end
-- A unit that lived here before drew ids up to its `idmark` (kept in the ownership record by
-- clearUnit, redis-namespace.ts): ids drawn now start above them, those of its deleted jobs too.
do
  local idmark = redis.call('HGET', B .. 'own', 'idmark')
  if idmark and tonumber(idmark) > tonumber(redis.call('GET', B .. 'seq:job') or '0') then redis.call('SET', B .. 'seq:job', idmark) end
end
local enqueued = false
local members = {}
local function expire_at(key, at)
  if at ~= '' then redis.call('PEXPIREAT', key, at) end
end
-- The state indexes are written once at the end (flush_state_index): a job replaced in the call
-- leaves the index of the state it had before the call and joins that of its last copy.
local function delete_job(id)
  local k = job_key(id)
  local old = redis.call('HMGET', k, 'type', 'stateName')
  if old[1] then index_state(id, old[2], false, nil) end
  redis.call('DEL', k, k .. ':p', k .. ':h')
  drop_expiry(id)
end
-- Fresh entries' writes, one command per queue for the call (flushed at the end): their members
-- were just drawn, so no other item of the call can name them.
local waiting, leased_at, deliveries_of = {}, {}, {}
-- fresh: the member was just drawn, so it is in no queue index and has no deliveries to clear.
local function place_entry(queue, member, deliveries, lease_until, fresh)
  local seq = string.match(member, '^(%d+):')
  if not fresh then
    redis.call('ZREM', B .. 'q:' .. queue, member)
    redis.call('ZREM', B .. 'ql:' .. queue, member)
  end
  if lease_until ~= '' then
    if fresh then defer_zadd(leased_at, queue, lease_until, member)
    else redis.call('ZADD', B .. 'ql:' .. queue, lease_until, member) end
  else
    if fresh then defer_zadd(waiting, queue, seq, member)
    else redis.call('ZADD', B .. 'q:' .. queue, seq, member) end
    enqueued = true
  end
  if deliveries ~= '0' then
    if fresh then push_to(deliveries_of, queue, seq, deliveries)
    else redis.call('HSET', B .. 'qd:' .. queue, seq, deliveries) end
  elseif not fresh then
    redis.call('HDEL', B .. 'qd:' .. queue, seq)
  end
  register_queue(queue)
end
-- The fresh entries' places, drawn with one INCRBY for the call: the last place drawn and how many.
local fresh_count = 0
for _, it in ipairs(items) do
  if it.kind == 'entry' then fresh_count = fresh_count + 1 end
end
local next_seq = fresh_count > 0 and redis.call('INCRBY', B .. 'seq:q', fresh_count) - fresh_count or 0
for _, it in ipairs(items) do
  local kind = it.kind
  if it.replace then
    if kind == 'job' then delete_job(it.id)
    elseif kind == 'hash' then redis.call('DEL', B .. 'h:' .. it.key)
    elseif kind == 'set' then redis.call('DEL', B .. 'z:' .. it.key)
    elseif kind == 'list' then redis.call('DEL', B .. 'l:' .. it.key)
    elseif kind == 'counter' then redis.call('DEL', B .. 'c:' .. it.key)
    elseif kind == 'lock' then redis.call('DEL', B .. 'lock:' .. it.resource)
    elseif kind == 'server' then
      redis.call('HDEL', B .. 'servers', it.id)
      redis.call('ZREM', B .. 'beats', it.id)
    end
  end
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
      index_state(id, nil, s.name, s.at)
      register_state(s.name)
    else
      index_state(id, nil, STATELESS, it.createdAt)
    end
    redis.call('HSET', k, unpack(fields))
    call_many('HSET', k .. ':p', it.params)
    call_many('RPUSH', k .. ':h', it.history)
    if it.expireAt ~= '' then apply_job_expiry(id, it.expireAt) end
  elseif kind == 'entry' then
    next_seq = next_seq + 1
    local member = next_seq .. ':' .. it.jobId
    -- The deliveries count is also the lease token: the next delivery's is above the copied one.
    place_entry(it.queue, member, it.deliveries, it.leaseUntil, true)
    members[#members + 1] = member
  elseif kind == 'entry-update' then
    place_entry(it.queue, it.member, it.deliveries, it.leaseUntil, false)
  elseif kind == 'entry-del' then
    redis.call('ZREM', B .. 'q:' .. it.queue, it.member)
    redis.call('ZREM', B .. 'ql:' .. it.queue, it.member)
    redis.call('HDEL', B .. 'qd:' .. it.queue, string.match(it.member, '^(%d+):'))
  elseif kind == 'del-job' then
    delete_job(it.id)
  elseif kind == 'del-key' then
    redis.call('DEL', B .. it.key)
  elseif kind == 'del-server' then
    redis.call('HDEL', B .. 'servers', it.id)
    redis.call('ZREM', B .. 'beats', it.id)
  elseif kind == 'hash' then
    register_key('h:' .. it.key)
    call_many('HSET', B .. 'h:' .. it.key, it.fields)
    expire_at(B .. 'h:' .. it.key, it.expireAt)
  elseif kind == 'set' then
    register_key('z:' .. it.key)
    call_many('ZADD', B .. 'z:' .. it.key, it.members)
    if #it.members > 0 then note_due(it.key, redis.call('ZRANGE', B .. 'z:' .. it.key, 0, 0, 'WITHSCORES')[2]) end
    expire_at(B .. 'z:' .. it.key, it.expireAt)
  elseif kind == 'list' then
    register_key('l:' .. it.key)
    call_many('RPUSH', B .. 'l:' .. it.key, it.values)
    expire_at(B .. 'l:' .. it.key, it.expireAt)
  elseif kind == 'counter' then
    register_key('c:' .. it.key)
    redis.call('SET', B .. 'c:' .. it.key, it.value)
    expire_at(B .. 'c:' .. it.key, it.expireAt)
  elseif kind == 'lock' then
    register_key('fence:' .. it.resource)
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
flush_zadds(waiting, B .. 'q:')
flush_zadds(leased_at, B .. 'ql:')
for queue, list in pairs(deliveries_of) do call_many('HSET', B .. 'qd:' .. queue, list) end
flush_state_index()
flush_expiring()
if enqueued then redis.call('PUBLISH', ARGV[2], ARGV[3]) end
return members
