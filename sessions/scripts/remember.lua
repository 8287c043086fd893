-- remember.lua: stores one session and indexes it, evicting the sessions
-- that expire first when the user is over the limit.
-- KEYS[1]  index (sorted set, score = expiry ms)
-- KEYS[2]  session key
-- ARGV[1]  now (Unix ms)
-- ARGV[2]  index member (escaped session ID)
-- ARGV[3]  session value (JSON)
-- ARGV[4]  expiry (Unix ms)
-- ARGV[5]  max sessions per user
-- Returns: the number of other sessions evicted (integer).
local index, key = KEYS[1], KEYS[2]
local member, exp, max = ARGV[2], ARGV[4], tonumber(ARGV[5])

prune(index, ARGV[1])
redis.call('SET', key, ARGV[3], 'PXAT', exp)
redis.call('ZADD', index, exp, member)

local evicted = 0
local over = redis.call('ZCARD', index) - max
if over > 0 then
  -- over+1 candidates: the new session may be among the first to expire,
  -- and it is never the one evicted.
  for _, m in ipairs(redis.call('ZRANGE', index, 0, over)) do
    if evicted < over and m ~= member then
      redis.call('DEL', index .. ':' .. m)
      redis.call('ZREM', index, m)
      evicted = evicted + 1
    end
  end
end
expire_index(index)
return evicted
