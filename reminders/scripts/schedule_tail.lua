-- schedule_tail.lua: the last command of a ScheduleMany transaction on one
-- shard (redis_batch.go), after its writes: what schedule.lua does for one
-- reminder besides storing it. It wakes sleeping workers when one of the
-- batch's reminders is now the earliest due (see schedule.lua), and reads
-- the server's TIME when asked. Sent with EVAL, never EVALSHA: inside
-- MULTI, a NOSCRIPT reply would come only at EXEC, too late to send the
-- body instead.
-- KEYS: heads (of the shard)
-- ARGV[1]: wake channel, or '' when the batch is due too far ahead for a
--   wake-up to matter (see wakeHorizon); ARGV[2]: shard index;
-- ARGV[3]: the batch's earliest due time, Unix ms;
-- ARGV[4]: '1' to return the server's TIME
-- Returns: TIME in Unix ms as a string when ARGV[4] is '1', else 0.
if ARGV[1] ~= '' then
  local h = redis.call('ZRANGE', KEYS[1], 0, 0, 'WITHSCORES')
  if h[2] and tonumber(h[2]) >= tonumber(ARGV[3]) then
    redis.call('PUBLISH', ARGV[1], ARGV[2] .. ':' .. ARGV[3])
  end
end
if ARGV[4] == '1' then
  local t = redis.call('TIME')
  return string.format('%.0f', tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000))
end
return 0
