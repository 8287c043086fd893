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
-- ARGV[5]  successor value up to and including '"fam":', which is also how
--          every value of the user starts: {"uid":<user ID as JSON>,"fam":
-- ARGV[6]  successor value after the family (JSON)
-- ARGV[7]  successor expiry (Unix ms)
-- ARGV[8]  rotation grace (ms; 0 = none)
-- ARGV[9]  successor family asked for ("" = take the old session's)
-- ARGV[10] this call's nonce: random, new for every Rotate call, the same
--          when the client sends the script again (see below)
-- ARGV[11] '1' when the successor has no Meta of its own: it takes old's
-- Returns one of:
--   {'rotated', fam, meta}      successor created in family fam, with
--                               meta, its Meta's JSON ('' for none)
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

prune(index, ARGV[1])
local raw = redis.call('GET', old_key)
if not raw then
  local traw = redis.call('GET', old_tomb)
  if not traw then
    return {'not_active'}
  end
  local t = read_tombstone(traw)
  if not t then
    return {'corrupt'}
  end
  -- The tombstone lasts until old's own expiry by this clock, whatever its
  -- TTL on Redis's clock says.
  -- A revoked ID (a revocation tombstone) is simply not active.
  if tonumber(t.exp) <= now or t.revoked then
    return {'not_active'}
  end
  -- This very call, run a second time: go-redis sends a command again when
  -- it lost the reply (a connection dropped, a read timed out), and the
  -- first run may have rotated. It is answered as that run was, while the
  -- successor is still current, and is not reuse: the token was presented
  -- once. Only the call that wrote the tombstone knows its nonce.
  if t.call == ARGV[10] then
    local s = decode(redis.call('GET', index .. ':' .. t.next), uid)
    if s and s.exp > now and s.fam == t.fam then
      return {'rotated', t.fam, s.meta or ''}
    end
    return {'not_active'}
  end
  -- Grace covers the immediate predecessor only: its successor must still
  -- be the current session (not rotated, revoked or expired), and still of
  -- old's family: once the successor has expired, an application may
  -- reuse its ID for a session of another login, which old must not hand
  -- out (a revoked successor's ID stays spent until its expiry).
  -- The window is [at - grace, at + grace) by the caller's clock: a
  -- caller whose clock reads a little earlier than the rotating
  -- instance's is within it, one far behind is not (it would stretch the
  -- grace by its lag). No grace (0) means none at all.
  local grace, at = tonumber(ARGV[8]), tonumber(t.at)
  if grace > 0 and now >= at - grace and now < at + grace then
    local sraw = redis.call('GET', index .. ':' .. t.next)
    local s = decode(sraw, uid)
    if s and s.exp > now and s.fam == t.fam then
      return {'grace', t.next, sraw}
    end
  end
  return {'reuse', revoke_family(index, ARGV[5], t.fam, now), t.fam}
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
-- next's ID is in use while a session or a tombstone (of a rotation or a
-- revocation) holds it. A tombstone counts until its session's expiry by
-- this clock, as in the tombstone branch above, not while Redis's clock
-- keeps the key (prune has already deleted the user's sessions expired by
-- this clock).
if redis.call('EXISTS', next_key) > 0 then
  return {'next_exists'}
end
local ntraw = redis.call('GET', next_tomb)
if ntraw then
  local ok, nt = pcall(cjson.decode, ntraw)
  if not ok or type(nt) ~= 'table' or not tonumber(nt.exp) or tonumber(nt.exp) > now then
    return {'next_exists'}
  end
  -- Over by this clock: deleted, not left to Redis's TTL. An instance whose
  -- clock runs behind would still take it for live, and a later
  -- presentation of the reused ID (once revoked) for reuse of its old
  -- family, and revoke that family.
  redis.call('DEL', next_tomb)
end

local old_exp = string.format('%.0f', old.exp)
-- The tombstone lasts until old's expiry by both clocks, the caller's
-- (ARGV[1]) and Redis's (TIME): at old's expiry on Redis's clock, pushed
-- later by however far Redis's clock runs ahead of the caller's. Old was
-- live for an instance whose clock agrees with either, and a replay there
-- must find the tombstone: at old's expiry by Redis's clock alone it would
-- vanish early for a caller behind Redis, and by the caller's alone (a TTL
-- of old.exp - now) for instances behind the caller. An instant, not a
-- length, also keeps miniredis right: it overflows a PX of more than 292
-- years. Tombstones are not in the index, so their expiry need not be the
-- index's. Revocation tombstones follow the same rule (lib.lua).
local tomb_at = string.format('%.0f', old.exp + clock_lead(now))
-- A successor without Meta of its own takes old's, as stored: its JSON
-- goes last, before the closing brace (the order Go writes).
-- A non-empty object has a ':'; an empty one, or null, is left out.
local tail, meta = ARGV[6], ''
if ARGV[11] == '1' and old.meta and string.find(old.meta, ':', 1, true) then
  meta = old.meta
  tail = string.sub(tail, 1, -2) .. ',"meta":' .. meta .. '}'
end
-- The family in Go's encoding, as Remember writes it, so that every value
-- of a family starts with the same bytes (see revoke_family).
redis.call('SET', next_key, ARGV[5] .. json_string(old.fam) .. tail, 'PXAT', ARGV[7])
redis.call('ZADD', index, ARGV[7], ARGV[4])
redis.call('DEL', old_key)
redis.call('ZREM', index, ARGV[3])
redis.call('SET', old_tomb,
  cjson.encode({next = ARGV[4], at = ARGV[1], exp = old_exp, fam = old.fam, call = ARGV[10]}),
  'PXAT', tomb_at)
expire_index(index)
return {'rotated', old.fam, meta}
