-- remember.lua: stores one session and indexes it, evicting the sessions
-- that expire first when the user is over the limit.
-- KEYS[1]  index (sorted set, score = expiry ms)
-- KEYS[2]  session key
-- KEYS[3]  the same ID's tombstone key
-- ARGV[1]  now (Unix ms)
-- ARGV[2]  index member (escaped session ID)
-- ARGV[3]  session value (JSON)
-- ARGV[4]  expiry (Unix ms)
-- ARGV[5]  max sessions per user
-- Returns: the number of other sessions evicted (integer), or -1 when the
-- ID was rotated: spent, it is not stored again.
local index, key = KEYS[1], KEYS[2]
local member, exp, max = ARGV[2], ARGV[4], tonumber(ARGV[5])

prune(index, ARGV[1])
-- A rotated ID stays spent while its tombstone stands, until its session's
-- own expiry by this clock (as in rotate.lua): stored again, it would be
-- active, and its reuse no longer detected. A tombstone that does not
-- decode counts too; one over by this clock is deleted.
local traw = redis.call('GET', KEYS[3])
if traw then
  local t = read_tombstone(traw)
  if not t or tonumber(t.exp) > tonumber(ARGV[1]) then
    return -1
  end
  redis.call('DEL', KEYS[3])
end
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
