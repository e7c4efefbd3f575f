-- Locks. KEYS[1] = lock key (holds the holder's token), KEYS[2] = fence counter.
-- ARGV: B, action ('acquire' | 'extend' | 'release'), ttl ms, token.
-- acquire: the new token, or nil if held. extend: 1 or 0. release: nil.
do local refused = refusal(true) if refused then return refused end end
local action = ARGV[2]
-- KEYS[1] is B .. 'lock:' .. resource.
track('k:' .. string.sub(KEYS[1], #B + 6))
if action == 'acquire' then
  if redis.call('EXISTS', KEYS[1]) == 1 then return nil end
  local token = redis.call('INCR', KEYS[2])
  -- KEYS[2] is B .. 'fence:' .. resource: registered when the counter is new (common.lua register_key).
  if token == 1 then register_key(string.sub(KEYS[2], #B + 1)) end
  redis.call('SET', KEYS[1], token, 'PX', ARGV[3])
  return token
end
local current = redis.call('GET', KEYS[1])
if action == 'extend' then
  if current == ARGV[4] then
    redis.call('PEXPIRE', KEYS[1], ARGV[3])
    return 1
  end
  -- A lapsed lease nobody took since (the counter did not move) may still be extended, as in every backend.
  if current == false and redis.call('GET', KEYS[2]) == ARGV[4] then
    redis.call('SET', KEYS[1], ARGV[4], 'PX', ARGV[3])
    return 1
  end
  return 0
end
if current == ARGV[4] then redis.call('DEL', KEYS[1]) end
return nil
