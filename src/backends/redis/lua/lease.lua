-- Acts on leased queue entries, fenced by their tokens.
-- ARGV: B, action ('ack' | 'requeue' | 'extend'), extend ms or wake channel, wake-up origin,
-- then triples (queue, member, token).
-- Returns one 1 (done) or 0 (lease lost) per triple.
do local refused = refusal() if refused then return refused end end
local action = ARGV[2]
local now = now_ms()
local res = {}
local requeued = false
for i = 5, #ARGV, 3 do
  local queue, member, token = ARGV[i], ARGV[i + 1], ARGV[i + 2]
  local ok = 0
  if leased(queue, member, token) then
    track_entry(queue, member)
    local seq = string.match(member, '^(%d+):')
    if action == 'ack' then
      redis.call('ZREM', B .. 'ql:' .. queue, member)
      redis.call('HDEL', B .. 'qd:' .. queue, seq)
    elseif action == 'requeue' then
      redis.call('ZREM', B .. 'ql:' .. queue, member)
      -- Out of the lease set, the token no longer holds (leased); the next fetch makes a new one.
      redis.call('ZADD', B .. 'q:' .. queue, seq, member)
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
