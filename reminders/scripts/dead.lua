-- dead.lua: list the oldest dead reminders (read-only).
-- KEYS: due, rec, lease, dead, err, seq
-- ARGV[1]: most to list
-- Returns: 4 values per reminder: id, died at (Unix ms), record or false,
-- last error or false.
local ids = redis.call('ZRANGE', K.dead, 0, tonumber(ARGV[1]) - 1, 'WITHSCORES')
local res = {}
for j = 1, #ids, 2 do
  local id = ids[j]
  table.insert(res, id)
  table.insert(res, ids[j + 1])
  table.insert(res, redis.call('HGET', K.rec, id))
  table.insert(res, redis.call('HGET', K.err, id))
end
return res
