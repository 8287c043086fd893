-- schedule.lua: store reminders, replacing any with the same ID whether
-- pending, in flight (its lease is dropped, so the running handler's ack,
-- retry and lease extension are ignored) or dead. Each gets a new version
-- and attempt 1, and its last error is cleared.
-- KEYS: due, rec, lease, dead, err, seq (one shard; see keys.go)
-- ARGV[1]: wake channel; ARGV[2]: shard index
-- ARGV[3..]: 4 values per reminder: id, due ms, kind, payload (at most a
-- few hundred reminders a call: the Go side chunks, see redis.go)
-- Returns: the number of reminders stored.
--
-- This is the hot path of Schedule and ScheduleMany, so the calls are
-- variadic, a fixed handful per batch whatever its size. When HSET reports
-- every record new, no ID can have a lease, a dead entry or a last error
-- (ack and cancel delete those with the record), and dropping them is
-- skipped: a new reminder costs INCRBY, HSET, ZADD and one look at the
-- head of the due set.
local n = (#ARGV - 2) / 4
local last = redis.call('INCRBY', K.seq, n)
local recs, dues, ids = {}, {}, {}
local earliest
for i = 0, n - 1 do
  local j = 3 + 4 * i
  local id, due = ARGV[j], ARGV[j + 1]
  recs[2 * i + 1] = id
  recs[2 * i + 2] = (last - n + 1 + i) .. ',1,' .. due .. ',' .. ARGV[j + 2] .. '\n' .. ARGV[j + 3]
  dues[2 * i + 1] = due
  dues[2 * i + 2] = id
  ids[i + 1] = id
  local d = tonumber(due)
  if not earliest or d < earliest then earliest = d end
end
local added = redis.call('HSET', K.rec, unpack(recs))
redis.call('ZADD', K.due, unpack(dues))
if added < n then
  redis.call('ZREM', K.lease, unpack(ids))
  redis.call('ZREM', K.dead, unpack(ids))
  redis.call('HDEL', K.err, unpack(ids))
end
-- Wake sleeping workers when one of these is now the head of the due set:
-- they may be sleeping until a later time. (When the head did not really
-- move earlier, the wake-up costs a worker one look, nothing more.)
local h = head(K.due)
if h and h >= earliest then
  publishWake(ARGV[1], ARGV[2], h)
end
return n
