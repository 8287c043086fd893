-- settle.lua: record the outcomes of finished attempts. Each outcome
-- carries its claim's version and applies only while that claim is live
-- (still leased, same version): a reminder rescheduled, cancelled,
-- released or taken back meanwhile is left as it is now.
--   ack:   the handler succeeded; the reminder is deleted.
--   retry: due again at the given time with attempt+1 and the error kept.
--   dead:  moved to the dead set with the error; its record is kept.
-- KEYS: due, rec, lease, dead, err, seq
-- ARGV[1]: now, Unix ms; ARGV[2]: wake channel; ARGV[3]: shard index
-- ARGV[4..]: 5 values per outcome: op ('ack', 'retry', 'dead'), id,
--   version, retry due ms (retry; else ignored), error text (retry, dead)
-- Returns: one integer per outcome, 1 applied or 0 stale.
local now = ARGV[1]
local before = head(K.due)
local res = {}
for j = 4, #ARGV, 5 do
  local op, id, version, at, msg = ARGV[j], ARGV[j + 1], ARGV[j + 2], ARGV[j + 3], ARGV[j + 4]
  local rec, p = holds(K, id, version)
  if not rec then
    table.insert(res, 0)
  else
    redis.call('ZREM', K.lease, id)
    if op == 'ack' then
      redis.call('HDEL', K.rec, id)
      redis.call('HDEL', K.err, id)
    elseif op == 'retry' then
      redis.call('HSET', K.rec, id, rewrite(rec, p, newVersion(K.seq), p.a + 1, p.d))
      redis.call('ZADD', K.due, at, id)
      redis.call('HSET', K.err, id, msg)
    else
      redis.call('ZADD', K.dead, now, id)
      redis.call('HSET', K.err, id, msg)
    end
    table.insert(res, 1)
  end
end
wake(K.due, before, ARGV[2], ARGV[3])
return res
