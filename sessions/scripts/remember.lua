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
-- Returns: the number of other sessions evicted (integer), or, when the
-- ID is spent and is not stored again, -1 when it was rotated (or its
-- tombstone does not decode) and -2 when it was revoked.
local index, key = KEYS[1], KEYS[2]
local member, exp, max = ARGV[2], ARGV[4], tonumber(ARGV[5])

prune(index, ARGV[1])
-- A rotated or revoked ID stays spent while its tombstone stands, until
-- its session's own expiry by this clock (as in rotate.lua). A rotated
-- one stored again would be active, and its reuse no longer detected. A
-- revoked one stored again would undo the revocation: go-redis sends a
-- script again on a new connection when a read timed out or the
-- connection dropped, and the first attempt, delayed on the way, may
-- reach Redis after the retry succeeded and after a Revoke or
-- RevokeAllForUser that followed it. A tombstone that does not decode
-- counts as a rotation's; one over by this clock is deleted.
local traw = redis.call('GET', KEYS[3])
if traw then
  local t = read_tombstone(traw)
  if not t then
    return -1
  end
  if tonumber(t.exp) > tonumber(ARGV[1]) then
    if t.revoked then
      return -2
    end
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
