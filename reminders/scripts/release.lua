-- release.lua: hand claims back on shutdown, for other workers: each
-- returns to due at its DueAt (so it keeps its place), with the same
-- attempt, as a pending record (its version is gone, so the released
-- handler's late ack is ignored).
-- KEYS: due, rec, lease, dead, err, seq, heads, kinds
-- ARGV[1]: wake channel; ARGV[2]: shard index
-- ARGV[3..]: 2 values per claim: id, version
-- Returns: the number released.
local before = dueHead(K)
local n = 0
for j = 3, #ARGV, 2 do
  local id = ARGV[j]
  local rec, p = holds(K, id, ARGV[j + 1])
  if rec then
    redis.call('ZREM', K.lease, id)
    redis.call('HSET', K.rec, id, pending(rec, p, p.a))
    dueAdd(K, id, p.d)
    n = n + 1
  end
end
wake(K, before, ARGV[1], ARGV[2])
return n
