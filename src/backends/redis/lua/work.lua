-- The namespaces of this backend with visible work in any of the queues ARGV[2..]: a waiting entry,
-- or a leased one whose lease has lapsed. Reads the work index "<prefix>work" (common.lua note_work)
-- and drops from it the namespaces that hold no queue entry at all, so the index stays the size of
-- the units with work, whatever the number of idle ones. Standalone Redis only: it reads the keys of
-- every namespace in the index, which a Cluster node does not hold.
-- ARGV: the backend's key prefix, then the queue names.
local P = ARGV[1]
local now = now_ms()
local out = {}
for _, ns in ipairs(redis.call('ZRANGE', P .. 'work', 0, -1)) do
  local b = P .. '{' .. ns .. '}:'
  local visible = false
  for i = 2, #ARGV do
    if redis.call('ZCARD', b .. 'q:' .. ARGV[i]) > 0 then visible = true break end
    local first = redis.call('ZRANGE', b .. 'ql:' .. ARGV[i], 0, 0, 'WITHSCORES')
    if #first > 0 and tonumber(first[2]) <= now then visible = true break end
  end
  if visible then
    out[#out + 1] = ns
  else
    local held = false
    for _, q in ipairs(redis.call('SMEMBERS', b .. 'queues')) do
      if redis.call('EXISTS', b .. 'q:' .. q, b .. 'ql:' .. q) > 0 then held = true break end
    end
    if not held then redis.call('ZREM', P .. 'work', ns) end
  end
end
return out
