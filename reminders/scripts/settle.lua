-- settle.lua: record the outcomes of finished attempts. Each outcome
-- carries its claim's version and applies only while that claim is live
-- (still leased, same version): a reminder rescheduled, cancelled,
-- released or taken back meanwhile is left as it is now.
--   ack:   the handler succeeded; the reminder is deleted.
--   retry: pending again at the given time with attempt+1 and the error
--          kept.
--   dead:  moved to the dead set with the error; its record is kept.
-- KEYS: due, rec, lease, dead, err, seq, heads, kinds
-- ARGV[1]: now, Unix ms; ARGV[2]: wake channel; ARGV[3]: shard index
-- ARGV[4..]: 5 values per outcome: op ('ack', 'retry', 'dead'), id,
--   version, retry due ms (retry; else ignored), error text (retry, dead)
-- Returns: one integer per outcome, 1 applied or 0 stale.
local now = ARGV[1]
local before = dueHead(K)
-- Every outcome's lease and record are read with one ZMSCORE and one
-- HMGET, and acks are applied with one ZREM and two HDELs: a command
-- called from Lua costs about as much as the work it does on one member.
-- An ID may come twice (an old claim's outcome and a newer one's): once
-- one of its outcomes applied, the others are stale, as they would be
-- one by one (an ack deleted it; a retry gave it a new version; a dead
-- letter took its lease).
local n = (#ARGV - 3) / 5
local ids = {}
for i = 1, n do ids[i] = ARGV[5 * i] end
local leased = redis.call('ZMSCORE', K.lease, unpack(ids))
local recs = redis.call('HMGET', K.rec, unpack(ids))
local res, applied, acked, settled = {}, {}, {}, {}
for i = 1, n do
  local j = 5 * i - 1
  local op, id, version, at, msg = ARGV[j], ARGV[j + 1], ARGV[j + 2], ARGV[j + 3], ARGV[j + 4]
  local rec = recs[i]
  local p = leased[i] and not applied[id] and parse(rec)
  if not p or p.v ~= version then
    res[i] = 0
  else
    applied[id] = true
    table.insert(settled, id)
    if op == 'ack' then
      table.insert(acked, id)
    elseif op == 'retry' then
      redis.call('HSET', K.rec, id, pending(rec, p, p.a + 1))
      dueAdd(K, id, at)
      redis.call('HSET', K.err, id, msg)
    else
      redis.call('ZADD', K.dead, now, id)
      redis.call('HSET', K.err, id, msg)
    end
    res[i] = 1
  end
end
if #settled > 0 then redis.call('ZREM', K.lease, unpack(settled)) end
if #acked > 0 then
  redis.call('HDEL', K.rec, unpack(acked))
  redis.call('HDEL', K.err, unpack(acked))
end
wake(K, before, ARGV[2], ARGV[3])
return res
