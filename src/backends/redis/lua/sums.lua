-- Operator reads over many namespaces in one call: the caller sends the registry in slices, so
-- Redis is never held for long however many namespaces there are. Standalone Redis only (it reads
-- keys of every namespace, which a Cluster node does not hold); on a Cluster redis-backend.ts asks
-- each namespace's node instead. Reads only.
-- ARGV: the backend's key prefix, an action, the number n of namespaces, the n namespaces, then:
--   counters key... -> { sum... }: each counter summed over the namespaces (as strings)
--   depths -> { {namespace, queue, waiting, inFlight}... }: an entry whose lease lapsed counts as waiting
local P = ARGV[1]
local action = ARGV[2]
local n = tonumber(ARGV[3])
local namespaces = {}
for i = 1, n do namespaces[i] = ARGV[3 + i] end
local first_key = 4 + n
if action == 'counters' then
  local sums = {}
  for i = first_key, #ARGV do sums[i - first_key + 1] = 0 end
  local names = {}
  for _, ns in ipairs(namespaces) do
    local b = P .. '{' .. ns .. '}:c:'
    for i = first_key, #ARGV do names[i - first_key + 1] = b .. ARGV[i] end
    local values = redis.call('MGET', unpack(names))
    for i = 1, #values do
      if values[i] then sums[i] = sums[i] + tonumber(values[i]) end
    end
  end
  -- As strings: a Lua number returned as a reply is truncated to an integer (fine) but sums past 2^53 lose digits.
  for i = 1, #sums do sums[i] = string.format('%.0f', sums[i]) end
  return sums
elseif action == 'depths' then
  local now = now_ms()
  local out = {}
  for _, ns in ipairs(namespaces) do
    local b = P .. '{' .. ns .. '}:'
    for _, queue in ipairs(redis.call('SMEMBERS', b .. 'queues')) do
      local waiting = redis.call('ZCARD', b .. 'q:' .. queue)
      local lapsed = redis.call('ZCOUNT', b .. 'ql:' .. queue, '-inf', now)
      local leased = redis.call('ZCARD', b .. 'ql:' .. queue)
      if waiting + leased > 0 then out[#out + 1] = { ns, queue, waiting + lapsed, leased - lapsed } end
    end
  end
  return out
end
return redis.error_reply('ERR unknown sums action ' .. tostring(action))
