-- get.lua: read one reminder's stored state (read-only).
-- KEYS: due, rec, lease, dead, err, seq
-- ARGV[1]: id
-- Returns: {record or false, due score or false, lease score or false,
-- dead score or false, last error or false}
local id = ARGV[1]
return {redis.call('HGET', K.rec, id),
  redis.call('ZSCORE', K.due, id), redis.call('ZSCORE', K.lease, id),
  redis.call('ZSCORE', K.dead, id), redis.call('HGET', K.err, id)}
