-- requeue.lua: move a dead reminder back to due with attempt 1, as a
-- pending record, and no last error. It keeps its DueAt, which has passed, so it is
-- due at once (and its lateness stays true).
-- KEYS: due, rec, lease, dead, err, seq, heads, kinds
-- ARGV[1]: wake channel; ARGV[2]: shard index; ARGV[3]: id;
-- ARGV[4]: the version of the record as the Go side read and checked it
--   (its checks are stricter than parse's: a Kind's characters), or ''
--   when it found the record missing or corrupt
-- Returns: the record as it was, with attempt 1, when requeued; 0 when the ID is not dead; -1
-- when it is dead but its record is corrupt (it stays dead); -2 when the
-- record is no longer the one the Go side checked (read it again).
local id = ARGV[3]
if not redis.call('ZSCORE', K.dead, id) then return 0 end
local rec = redis.call('HGET', K.rec, id)
local p = parse(rec)
if not p or ARGV[4] == '' then return -1 end
if p.v ~= ARGV[4] then return -2 end
local before = dueHead(K)
redis.call('ZREM', K.dead, id)
redis.call('HDEL', K.err, id)
redis.call('HSET', K.rec, id, pending(rec, p, 1))
dueAdd(K, id, p.d)
wake(K, before, ARGV[1], ARGV[2])
return p.v .. ',1,' .. p.d .. ',' .. string.sub(rec, p.k)
