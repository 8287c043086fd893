-- schedule.lua: store reminders, replacing any with the same ID whether
-- pending, in flight (its lease is dropped, so the running handler's ack,
-- retry and lease extension are ignored) or dead. The Go side builds each
-- record (see lib.lua) with attempt 1 and a fresh schedule version; the
-- last error is cleared.
-- KEYS: due, rec, lease, dead, err, seq (one shard; see keys.go; seq is
--   not used here)
-- ARGV[1]: wake channel, or '' when the Go side knows every reminder here
--   is due too far ahead for a wake-up to matter (see wakeHorizon);
-- ARGV[2]: shard index; ARGV[3]: the earliest due time of these
--   reminders, Unix ms; ARGV[4]: '1' to return the server's TIME too
-- ARGV[5 .. 4+2n]: id, record for each of the n reminders, then
-- ARGV[5+2n .. 4+4n]: due ms, id for each (at most a few hundred
--   reminders a call: the Go side chunks, see redis.go)
-- Returns: n, the number of reminders stored; when ARGV[4] is '1',
--   {n, TIME in Unix ms as a string}.
--
-- This is the hot path of Schedule and ScheduleMany, so it runs without
-- lib.lua's preamble, and the arguments come laid out for HSET and ZADD:
-- a fixed handful of calls whatever the batch's size. When HSET reports
-- every record new, no ID can have a lease, a dead entry or a last error
-- (ack and cancel delete those with the record; claim.lua stores '' for a
-- record it dead-letters as missing), and dropping them is skipped: a new
-- reminder costs HSET and ZADD, and, when it is due within wakeHorizon,
-- one look at the head of the due set.
local due, rec = KEYS[1], KEYS[2]
local n = (#ARGV - 4) / 4
local added = redis.call('HSET', rec, unpack(ARGV, 5, 4 + 2 * n))
redis.call('ZADD', due, unpack(ARGV, 5 + 2 * n, 4 + 4 * n))
if added < n then
  local ids = {}
  for i = 1, n do ids[i] = ARGV[3 + 2 * i] end
  redis.call('ZREM', KEYS[3], unpack(ids))
  redis.call('ZREM', KEYS[4], unpack(ids))
  redis.call('HDEL', KEYS[5], unpack(ids))
end
local res = n
if ARGV[4] == '1' then
  local t = redis.call('TIME')
  res = {n, string.format('%.0f', tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000))}
end
if ARGV[1] == '' then
  return res
end
-- Wake sleeping workers when one of these is now the head of the due set:
-- they may be sleeping until a later time. A single reminder is the head
-- when it is the first member (a tie with an earlier member leaves the
-- head's time as it was, and nothing to tell); a batch compares times.
-- The message is lib.lua's publishWake's, "<shard>:<due ms>".
local head
if n == 1 then
  head = redis.call('ZRANGE', due, 0, 0)[1] == ARGV[5]
else
  local h = redis.call('ZRANGE', due, 0, 0, 'WITHSCORES')
  head = tonumber(h[2]) >= tonumber(ARGV[3])
end
if head then
  redis.call('PUBLISH', ARGV[1], ARGV[2] .. ':' .. ARGV[3])
end
return res
