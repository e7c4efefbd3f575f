-- Server registry: hash `servers` (id -> JSON info) and zset `beats` (id -> last heartbeat ms).
-- ARGV: B, action, ...
--   announce id infoJSON -> nil;  heartbeat id -> 1|0;  remove id -> nil;
--   timed-out ms -> count removed;  list -> { {infoJSON, heartbeat ms}... }
local action = ARGV[2]
if action ~= 'list' then
  local refused = refusal(true)
  if refused then return refused end
end
local servers, beats = B .. 'servers', B .. 'beats'
local now = now_ms()
if action == 'announce' or action == 'heartbeat' or action == 'remove' then track('s:' .. ARGV[3]) end
if action == 'announce' then
  local info = cjson.decode(ARGV[4])
  info.startedAt = now
  redis.call('HSET', servers, ARGV[3], cjson.encode(info))
  redis.call('ZADD', beats, now, ARGV[3])
  return nil
elseif action == 'heartbeat' then
  if redis.call('HEXISTS', servers, ARGV[3]) == 0 then return 0 end
  redis.call('ZADD', beats, now, ARGV[3])
  return 1
elseif action == 'remove' then
  redis.call('HDEL', servers, ARGV[3])
  redis.call('ZREM', beats, ARGV[3])
  return nil
elseif action == 'timed-out' then
  local ids = redis.call('ZRANGEBYSCORE', beats, '-inf', '(' .. (now - tonumber(ARGV[3])))
  for _, id in ipairs(ids) do
    track('s:' .. id)
    redis.call('HDEL', servers, id)
    redis.call('ZREM', beats, id)
  end
  return #ids
end
local out = {}
local all = redis.call('HGETALL', servers)
for i = 1, #all, 2 do
  out[#out + 1] = { all[i], all[i + 1], redis.call('ZSCORE', beats, all[i]) }
end
return out
