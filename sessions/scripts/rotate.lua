-- rotate.lua: refresh token rotation with reuse detection, atomically:
-- spends the old session, creates its successor in the old one's family and
-- leaves a tombstone for the old ID until the old session's own expiry.
-- KEYS[1]  index
-- KEYS[2]  old session key
-- KEYS[3]  old tombstone key
-- KEYS[4]  successor session key
-- KEYS[5]  successor tombstone key
-- ARGV[1]  now (Unix ms)
-- ARGV[2]  user ID
-- ARGV[3]  old index member (escaped ID)
-- ARGV[4]  successor index member (escaped ID)
-- ARGV[5]  successor value up to and including '"fam":'
-- ARGV[6]  successor value after the family (JSON)
-- ARGV[7]  successor expiry (Unix ms)
-- ARGV[8]  rotation grace (ms; 0 = none)
-- ARGV[9]  successor family asked for ("" = take the old session's)
-- Returns one of:
--   {'rotated', fam}            successor created in family fam
--   {'grace', member, value}    within the grace: the successor created
--                               earlier, still current; nothing written
--   {'reuse', n, fam}           old was rotated before: family fam revoked,
--                               n of its sessions were active
--   {'not_active'}              old is unknown, expired or revoked
--   {'corrupt'}                 old's value or tombstone is not decodable
--                               (or is another user's): never active
--   {'family_mismatch'}         ARGV[9] is set and is not old's family
--   {'next_exists'}             the successor's ID is already in use
local index, old_key, old_tomb, next_key, next_tomb = KEYS[1], KEYS[2], KEYS[3], KEYS[4], KEYS[5]
local now, uid = tonumber(ARGV[1]), ARGV[2]

-- revoke_family deletes every session of the user whose family is fam.
-- The user's session count is bounded (max sessions per user), so the
-- walk is too; a per-family set would be one more key to keep in step.
local function revoke_family(fam)
  local n = 0
  for _, m in ipairs(redis.call('ZRANGE', index, 0, -1)) do
    local key = index .. ':' .. m
    local v = decode(redis.call('GET', key), uid)
    if v and v.fam == fam then
      redis.call('DEL', key)
      redis.call('ZREM', index, m)
      if v.exp > now then
        n = n + 1
      end
    end
  end
  expire_index(index)
  return n
end

prune(index, ARGV[1])
local raw = redis.call('GET', old_key)
if not raw then
  local traw = redis.call('GET', old_tomb)
  if not traw then
    return {'not_active'}
  end
  local ok, t = pcall(cjson.decode, traw)
  if not ok or type(t) ~= 'table' or type(t.next) ~= 'string' or type(t.fam) ~= 'string'
      or not tonumber(t.at) or not tonumber(t.exp) then
    return {'corrupt'}
  end
  -- The tombstone lasts until old's own expiry by this clock, whatever its
  -- TTL on Redis's clock says.
  if tonumber(t.exp) <= now then
    return {'not_active'}
  end
  -- Grace covers the immediate predecessor only: its successor must still
  -- be the current session (not rotated, revoked or expired), and still of
  -- old's family: after a revoke, an application may reuse the ID for a
  -- session of another login, which old must not hand out.
  if now < tonumber(t.at) + tonumber(ARGV[8]) then
    local sraw = redis.call('GET', index .. ':' .. t.next)
    local s = decode(sraw, uid)
    if s and s.exp > now and s.fam == t.fam then
      return {'grace', t.next, sraw}
    end
  end
  return {'reuse', revoke_family(t.fam), t.fam}
end

local old = decode(raw, uid)
if not old then
  return {'corrupt'}
end
if old.exp <= now then
  return {'not_active'}
end
if ARGV[9] ~= '' and ARGV[9] ~= old.fam then
  return {'family_mismatch'}
end
if redis.call('EXISTS', next_key, next_tomb) > 0 then
  return {'next_exists'}
end

local old_exp = string.format('%.0f', old.exp)
redis.call('SET', next_key, ARGV[5] .. cjson.encode(old.fam) .. ARGV[6], 'PXAT', ARGV[7])
redis.call('ZADD', index, ARGV[7], ARGV[4])
redis.call('DEL', old_key)
redis.call('ZREM', index, ARGV[3])
redis.call('SET', old_tomb, cjson.encode({next = ARGV[4], at = ARGV[1], exp = old_exp, fam = old.fam}),
  'PXAT', old_exp)
expire_index(index)
return {'rotated', old.fam}
