-- Change tracking for a move's catch-up (see refusal() and track() in common.lua).
-- ARGV: B, action: 'on' (set `track` in the ownership record), 'off' (clear it and the recorded
-- refs), 'take' (return the refs recorded since the last take, and clear them).
local action = ARGV[2]
if action == 'on' then
  redis.call('HSET', B .. 'own', 'track', '1')
  return nil
elseif action == 'off' then
  redis.call('HDEL', B .. 'own', 'track')
  redis.call('DEL', B .. 'chg')
  return nil
end
local refs = redis.call('SMEMBERS', B .. 'chg')
redis.call('DEL', B .. 'chg')
return refs
