-- revoke.lua: ends one session, or, for a rotated ID, its family;
-- idempotent. Every active session it ends leaves a revocation tombstone
-- (lib.lua revoke_session), so that a late Remember cannot store it again.
-- KEYS[1]  index
-- KEYS[2]  session key
-- KEYS[3]  tombstone key
-- ARGV[1]  now (Unix ms)
-- ARGV[2]  index member (escaped session ID)
-- ARGV[3]  user ID
-- ARGV[4]  how the user's values start (value.go valueHead), for
--          revoke_family
-- Returns: the number of active sessions revoked (integer).
local index, key, tomb = KEYS[1], KEYS[2], KEYS[3]
local now = tonumber(ARGV[1])

prune(index, ARGV[1])
local raw = redis.call('GET', key)
if raw then
  local v = decode(raw, ARGV[3])
  -- A corrupt value goes too: it could never be active.
  redis.call('DEL', key)
  redis.call('ZREM', index, ARGV[2])
  expire_index(index)
  if v and v.exp > now then
    revoke_session(index, ARGV[2], v.exp, clock_lead(now))
    return 1
  end
  return 0
end
redis.call('ZREM', index, ARGV[2])
-- A rotated ID, until its own expiry by this clock (as rotate.lua reads
-- its tombstone): the login it belongs to goes, every session of its
-- family. A spent refresh token is presented by a client that missed its
-- rotation or by whoever stole it; logging out with it must end the
-- login either way (RFC 9700 §4.14.2). The tombstone stays, so that the
-- ID presented to Rotate is still reuse. A revocation tombstone (the ID
-- was revoked already) or one that does not decode changes nothing.
local t = read_tombstone(redis.call('GET', tomb) or '')
if t and not t.revoked and tonumber(t.exp) > now then
  return revoke_family(index, ARGV[4], t.fam, now)
end
expire_index(index)
return 0
