-- revoke_all.lua: ends every session of one user ("log out everywhere").
-- Sessions are written together with their index entry (remember.lua,
-- rotate.lua), so walking the index finds every one.
-- KEYS[1]  index
-- ARGV[1]  now (Unix ms)
-- Returns: the number of active sessions revoked (integer).
--
-- Each active session it ends leaves a revocation tombstone (lib.lua
-- revoke_session), so that a Remember of it that reaches Redis late does
-- not store it again; the tombstones are not in the index, and expire
-- with the sessions they stand for.
--
-- It counts without reading the values: a session is counted when its key
-- was there to delete and its index score, which is the expiry its value
-- holds (both are written together), is after now. Decoding each value
-- instead would cost up to a millisecond apiece for a crafted meta, a
-- second of blocked Redis for a user's 1,000 sessions. A value that is
-- corrupt (written by something else) counts as its score says; it is
-- deleted all the same.
local index = KEYS[1]
local now = tonumber(ARGV[1])

local n, lead = 0, nil
-- Every member, expired or not: an instance whose clock runs behind
-- would still count a session this instance sees as expired.
local all = redis.call('ZRANGE', index, 0, -1, 'WITHSCORES')
for i = 1, #all, 2 do
  local exp = tonumber(all[i + 1])
  if redis.call('DEL', index .. ':' .. all[i]) == 1 and exp > now then
    n = n + 1
    lead = lead or clock_lead(now)
    revoke_session(index, all[i], exp, lead)
  end
end
redis.call('DEL', index)
return n
