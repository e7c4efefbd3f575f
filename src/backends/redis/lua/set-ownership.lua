-- Replaces the unit's ownership record (common.lua) field by field, so a move's `track` flag and
-- the `used` mark stay; except that a `moved` mark never replaces a `moved` mark of a later epoch
-- (ownership.ts isOlderMark): a stalled mover that marks its target after a rollback re-marked it
-- leaves the rollback's mark, which fences the mover's import (import.lua).
-- ARGV: B, state ('active', 'frozen' or 'moved'), to shard, epoch, until (ms); unused ones ''.
-- Returns 1 when written, 0 when the stored mark was later.
local state = ARGV[2]
local own = B .. 'own'
if state == 'moved' then
  local cur = redis.call('HMGET', own, 'state', 'epoch')
  if cur[1] == 'moved' and tonumber(cur[2]) > tonumber(ARGV[4]) then return 0 end
end
redis.call('HDEL', own, 'state', 'to', 'epoch', 'until')
if state == 'moved' then
  redis.call('HSET', own, 'state', state, 'to', ARGV[3], 'epoch', ARGV[4])
elseif state == 'frozen' then
  redis.call('HSET', own, 'state', state, 'until', ARGV[5])
end
return 1
