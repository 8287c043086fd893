-- revoke.lua: ends one session; idempotent.
-- KEYS[1]  index
-- KEYS[2]  session key
-- ARGV[1]  now (Unix ms)
-- ARGV[2]  index member (escaped session ID)
-- ARGV[3]  user ID
-- Returns: 1 if an active session was revoked, 0 otherwise (integer).
local index, key = KEYS[1], KEYS[2]
local now = tonumber(ARGV[1])

prune(index, ARGV[1])
local v = decode(redis.call('GET', key), ARGV[3])
local n = 0
if v and v.exp > now then
  n = 1
end
-- A corrupt value goes too: it could never be active.
redis.call('DEL', key)
redis.call('ZREM', index, ARGV[2])
expire_index(index)
return n
