-- revoke_all.lua: ends every session of one user ("log out everywhere").
-- Sessions are written together with their index entry (remember.lua,
-- rotate.lua), so walking the index finds every one.
-- KEYS[1]  index
-- ARGV[1]  now (Unix ms)
-- ARGV[2]  user ID
-- Returns: the number of active sessions revoked (integer).
local index = KEYS[1]
local now = tonumber(ARGV[1])

local n = 0
-- Every member, expired or not: an instance whose clock runs behind
-- would still count a session this instance sees as expired.
for _, m in ipairs(redis.call('ZRANGE', index, 0, -1)) do
  local key = index .. ':' .. m
  local v = decode(redis.call('GET', key), ARGV[2])
  if v and v.exp > now then
    n = n + 1
  end
  redis.call('DEL', key)
end
redis.call('DEL', index)
return n
