-- The namespaces of this backend with a due member (score <= now) in one of the DUE sets. Reads the
-- due index "<prefix>due" (common.lua note_due), whose scores are lower bounds: a namespace whose
-- bound is due but whose real earliest member is not gets its real one; one with no member left is
-- dropped. Standalone Redis only (it reads keys of every namespace in the index).
-- ARGV: the backend's key prefix.
local P = ARGV[1]
local now = now_ms()
local out = {}
for _, ns in ipairs(redis.call('ZRANGEBYSCORE', P .. 'due', '-inf', now)) do
  local b = P .. '{' .. ns .. '}:'
  local first = nil
  for key in pairs(DUE) do
    local m = redis.call('ZRANGE', b .. 'z:' .. key, 0, 0, 'WITHSCORES')
    if #m > 0 and (first == nil or tonumber(m[2]) < first) then first = tonumber(m[2]) end
  end
  if first == nil then
    redis.call('ZREM', P .. 'due', ns)
  elseif first <= now then
    out[#out + 1] = ns
  else
    redis.call('ZADD', P .. 'due', first, ns)
  end
end
return out
