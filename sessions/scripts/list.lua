-- list.lua: reads one user's sessions (and prunes the expired ones).
-- KEYS[1]  index
-- ARGV[1]  now (Unix ms)
-- Returns: a flat array member1, value1, member2, value2, ... in expiry
-- order; a value is nil when its key is gone (expired by Redis's clock).
local index = KEYS[1]

prune(index, ARGV[1])
local out = {}
for _, m in ipairs(redis.call('ZRANGE', index, 0, -1)) do
  out[#out + 1] = m
  out[#out + 1] = redis.call('GET', index .. ':' .. m)
end
return out
