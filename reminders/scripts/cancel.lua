-- cancel.lua: remove a pending or in-flight reminder, so that no further
-- attempt happens (a running handler's ack or retry is then ignored). A
-- dead reminder is left alone.
-- KEYS: due, rec, lease, dead, err, seq, heads, kinds
-- ARGV[1]: id
-- Returns: 1 if the reminder was pending or in flight, else 0.
local id = ARGV[1]
if dueRem(K, id) + redis.call('ZREM', K.lease, id) == 0 then
  return 0
end
redis.call('HDEL', K.rec, id)
redis.call('HDEL', K.err, id)
return 1
