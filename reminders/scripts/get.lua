-- get.lua: read one reminder's stored state (read-only). A pending
-- reminder's compact record comes back in the full form (see lib.lua),
-- with version 0, its DueAt and its Kind spelled out; one that cannot be
-- read so comes back as stored.
-- KEYS: due, rec, lease, dead, err, seq, heads, kinds
-- ARGV[1]: id
-- Returns: {record or false, due score or false, lease score or false,
-- dead score or false, last error or false}
local id = ARGV[1]
local rec, due = redis.call('HGET', K.rec, id), dueScore(K, id)
local p = due and parsePending(rec)
local rest = p and body(K.kinds, rec, p, due)
if rest then rec = '0,' .. rest end
return {rec, due, redis.call('ZSCORE', K.lease, id),
  redis.call('ZSCORE', K.dead, id), redis.call('HGET', K.err, id)}
