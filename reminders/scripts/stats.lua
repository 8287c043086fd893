-- stats.lua: count one shard's reminders (read-only): the pending ones
-- are the members of every bucket that has a head (lib.lua: each bucket
-- with members does) and of the old due key.
-- KEYS: due, rec, lease, dead, err, seq, heads, kinds
-- Returns: {pending, in flight, dead}
local pending = redis.call('ZCARD', K.due)
for _, b in ipairs(redis.call('ZRANGE', K.heads, 0, -1)) do
  pending = pending + redis.call('ZCARD', bucketKey(K, b))
end
return {pending, redis.call('ZCARD', K.lease), redis.call('ZCARD', K.dead)}
