-- Acts on leased queue entries, fenced by their tokens.
-- ARGV: B, action ('ack' | 'requeue' | 'extend'), extend ms or wake channel, wake-up origin,
-- then triples (queue, member, token).
-- Returns one 1 (done) or 0 (lease lost) per triple.
local action = ARGV[2]
local now = now_ms()
local res = {}
local requeued = false
for i = 5, #ARGV, 3 do
  local queue, member, token = ARGV[i], ARGV[i + 1], ARGV[i + 2]
  local ok = 0
  if leased(queue, member, token) then
    local seq = string.match(member, '^(%d+):')
    if action == 'ack' then
      redis.call('ZREM', B .. 'ql:' .. queue, member)
      redis.call('HDEL', B .. 'qm:' .. queue, seq)
    elseif action == 'requeue' then
      redis.call('ZREM', B .. 'ql:' .. queue, member)
      redis.call('ZADD', B .. 'q:' .. queue, seq, member)
      local meta = redis.call('HGET', B .. 'qm:' .. queue, seq)
      redis.call('HSET', B .. 'qm:' .. queue, seq, string.match(meta, '^(%d+):') .. ':')
      requeued = true
    else
      redis.call('ZADD', B .. 'ql:' .. queue, 'XX', now + tonumber(ARGV[3]), member)
    end
    ok = 1
  end
  res[#res + 1] = ok
end
if requeued then redis.call('PUBLISH', ARGV[3], ARGV[4]) end
return res
