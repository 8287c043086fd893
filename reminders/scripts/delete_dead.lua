-- delete_dead.lua: delete dead reminders for good: each one's dead entry,
-- record and last error. IDs that are not dead are left alone.
-- KEYS: due, rec, lease, dead, err, seq, heads, kinds
-- ARGV[1]: 'ids' then the IDs, or 'before' then a time (Unix ms) and a
--   count: the dead reminders that died before that time, oldest first, up
--   to that many (the Go side calls again for the rest)
-- Returns: how many were deleted.
--
-- A reminder's record goes with its dead entry, and it has no lease nor
-- due entry while dead: schedule.lua's shortcut for new IDs holds.
local ids
if ARGV[1] == 'before' then
  ids = redis.call('ZRANGEBYSCORE', K.dead, '-inf', '(' .. ARGV[2], 'LIMIT', 0, ARGV[3])
else
  ids = {}
  for j = 2, #ARGV do
    if redis.call('ZSCORE', K.dead, ARGV[j]) then table.insert(ids, ARGV[j]) end
  end
end
if #ids == 0 then return 0 end
redis.call('ZREM', K.dead, unpack(ids))
redis.call('HDEL', K.rec, unpack(ids))
redis.call('HDEL', K.err, unpack(ids))
return #ids
