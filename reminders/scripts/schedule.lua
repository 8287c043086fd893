-- schedule.lua: store reminders, replacing any with the same ID whether
-- pending, in flight (its lease is dropped, so the running handler's ack,
-- retry and lease extension are ignored) or dead. The Go side builds each
-- compact record (see lib.lua) with attempt 1 and groups the reminders by
-- due bucket; the last error is cleared.
-- KEYS: due, rec, lease, dead, err, seq, heads, kinds (one shard; see
--   keys.go; seq is not used here)
-- ARGV[1]: wake channel, or '' when the Go side knows every reminder here
--   is due too far ahead for a wake-up to matter (see wakeHorizon);
-- ARGV[2]: shard index; ARGV[3]: the earliest due time of these
--   reminders, Unix ms; ARGV[4]: '1' to return the server's TIME too;
-- ARGV[5]: n, the number of reminders; ARGV[6]: g, of distinct kinds;
-- ARGV[7]: m, of due buckets; then
--   2n values: id, record for each reminder (at most a few hundred
--     reminders a call: the Go side chunks, see redis.go);
--   2g values: kind ref, Kind for each kind;
--   for each bucket: its number, its count c, then c pairs due ms, id;
--   2m values: the bucket's earliest due ms, its number, for each bucket.
-- Returns: n, the number of reminders stored; when ARGV[4] is '1',
--   {n, TIME in Unix ms as a string}.
--
-- This is the hot path of Schedule and ScheduleMany, so it runs without
-- lib.lua's preamble, and the arguments come laid out for HSET and ZADD:
-- a fixed handful of calls, and one ZADD per due bucket, whatever the
-- batch's size. When HSET reports every record new, no ID can have a
-- lease, a dead entry, a last error, an entry in the old due key or one
-- in its bucket that this batch moves later (ack and cancel delete those
-- with the record; claim.lua stores '' for a record it dead-letters as
-- missing), and dropping them and setting the heads again are skipped.
local due, heads = KEYS[1], KEYS[7]
local n, g, m = tonumber(ARGV[5]), tonumber(ARGV[6]), tonumber(ARGV[7])
local added = redis.call('HSET', KEYS[2], unpack(ARGV, 8, 7 + 2 * n))
local j = 8 + 2 * n
redis.call('HSET', KEYS[8], unpack(ARGV, j, j + 2 * g - 1))
j = j + 2 * g
for _ = 1, m do
  local c = tonumber(ARGV[j + 1])
  redis.call('ZADD', due .. ':' .. ARGV[j], unpack(ARGV, j + 2, j + 1 + 2 * c))
  j = j + 2 + 2 * c
end
redis.call('ZADD', heads, 'LT', unpack(ARGV, j, j + 2 * m - 1))
if added < n then
  local ids = {}
  for i = 1, n do ids[i] = ARGV[6 + 2 * i] end
  redis.call('ZREM', due, unpack(ids))
  redis.call('ZREM', KEYS[3], unpack(ids))
  redis.call('ZREM', KEYS[4], unpack(ids))
  redis.call('HDEL', KEYS[5], unpack(ids))
  -- A reminder rescheduled later may have been its bucket's earliest: the
  -- heads of these buckets are set again from the buckets (lib.lua's
  -- setHead; each bucket holds a reminder of this batch now).
  for i = 0, m - 1 do
    local b = ARGV[j + 2 * i + 1]
    local h = redis.call('ZRANGE', due .. ':' .. b, 0, 0, 'WITHSCORES')
    redis.call('ZADD', heads, h[2], b)
  end
end
local res = n
if ARGV[4] == '1' then
  local t = redis.call('TIME')
  res = {n, string.format('%.0f', tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000))}
end
if ARGV[1] == '' then
  return res
end
-- Wake sleeping workers when one of these is now the earliest due: they
-- may be sleeping until a later time. After the ZADD LT above, the
-- earliest head is at most this batch's earliest due time; when it is
-- that time, the batch holds the head (a tie costs a needless wake-up).
-- When it is earlier, the workers sleep until it at the latest: even a
-- stale head (a lower bound, see lib.lua) wakes them in time. The
-- message is lib.lua's publishWake's, "<shard>:<due ms>".
local h = redis.call('ZRANGE', heads, 0, 0, 'WITHSCORES')
if tonumber(h[2]) >= tonumber(ARGV[3]) then
  redis.call('PUBLISH', ARGV[1], ARGV[2] .. ':' .. ARGV[3])
end
return res
