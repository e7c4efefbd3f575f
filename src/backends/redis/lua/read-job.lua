-- Reads of one job. ARGV: B, what ('record' | 'history' | 'param'), id, [parameter name].
-- record: JSON or nil. history: {1, entries...} or nil. param: {exists 0|1, value or nil}.
local id = ARGV[3]
local k = job_key(id)
local what = ARGV[2]
if what == 'record' then
  return job_record(id)
end
if redis.call('EXISTS', k) == 0 then
  if what == 'param' then return { 0 } end
  return nil
end
if what == 'history' then
  local h = redis.call('LRANGE', k .. ':h', 0, -1)
  table.insert(h, 1, '')
  return h
end
return { 1, redis.call('HGET', k .. ':p', ARGV[4]) }
