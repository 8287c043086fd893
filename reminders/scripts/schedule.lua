-- schedule.lua: store reminders, replacing any with the same ID whether
-- pending, in flight (its lease is dropped, so the running handler's ack,
-- retry and lease extension are ignored) or dead. Each gets a new version
-- and attempt 1, and its last error is cleared.
-- KEYS: due, rec, lease, dead, err, seq (one shard; see keys.go)
-- ARGV[1]: wake channel; ARGV[2]: shard index
-- ARGV[3..]: 4 values per reminder: id, due ms, kind, payload
-- Returns: the number of reminders stored.
local before = head(K.due)
local n = (#ARGV - 2) / 4
local last = redis.call('INCRBY', K.seq, n)
for i = 0, n - 1 do
  local j = 3 + 4 * i
  local id, due = ARGV[j], ARGV[j + 1]
  local ver = tostring(last - n + 1 + i)
  redis.call('HSET', K.rec, id, ver .. ',1,' .. due .. ',' .. ARGV[j + 2] .. '\n' .. ARGV[j + 3])
  redis.call('ZADD', K.due, due, id)
  redis.call('ZREM', K.lease, id)
  redis.call('ZREM', K.dead, id)
  redis.call('HDEL', K.err, id)
end
wake(K.due, before, ARGV[1], ARGV[2])
return n
