-- lib.lua: helpers prepended to every script of this package (see
-- scripts.go). Every script works on the keys of one user, which share a
-- hash tag and so one Redis Cluster slot: the index key I, the session
-- keys I .. ':' .. member and the tombstones I .. ':rotated:' .. member.
-- Times are Unix milliseconds from the Go side's clock.

-- prune deletes the index members that expired at or before now, and
-- their session keys: Redis purges those by TTL on its own clock, but an
-- instance whose clock runs ahead must not leave a key behind that the
-- index no longer finds (RevokeAllForUser walks the index).
local function prune(index, now)
  local gone = redis.call('ZRANGEBYSCORE', index, '-inf', now)
  for _, m in ipairs(gone) do
    redis.call('DEL', index .. ':' .. m)
  end
  if #gone > 0 then
    redis.call('ZREMRANGEBYSCORE', index, '-inf', now)
  end
end

-- expire_index makes the index expire with its last session. Redis deletes
-- a sorted set that becomes empty, so an empty index needs nothing.
local function expire_index(index)
  local last = redis.call('ZRANGE', index, -1, -1, 'WITHSCORES')
  if last[2] then
    redis.call('PEXPIREAT', index, last[2])
  end
end

-- The value's members (value.go).
local members = {uid = true, fam = true, iat = true, exp = true, meta = true}
-- 2^53 - 1: beyond it a Lua number is no longer an exact integer.
local max_ms = 9007199254740991
-- MaxMetaEntries and MaxMetaKeyLen (options.go).
local max_meta, max_meta_key = 16, 64

-- decode returns the stored session value raw as a table when it is a
-- well-formed session of user uid, and nil otherwise (missing, corrupt, or
-- another user's): such a value is never active. It must accept no value
-- that IsActive's decoder (decode.go) refuses, though cjson alone is more
-- lenient: so times must be integers in plain notation within
-- +-(2^53-1), meta a map of at most 16 strings under keys of
-- [A-Za-z0-9_.-], no member unknown, and no name given twice (cjson keeps
-- the last): every name in raw ends in an unescaped quote and a colon, so
-- counting those tells how many names were written.
local function decode(raw, uid)
  if not raw then
    return nil
  end
  local ok, v = pcall(cjson.decode, raw)
  if not ok or type(v) ~= 'table' or v.uid ~= uid or type(v.fam) ~= 'string' or v.fam == ''
      or type(v.iat) ~= 'number' or type(v.exp) ~= 'number'
      or math.abs(v.iat) > max_ms or math.abs(v.exp) > max_ms
      or not string.find(raw, '"iat"%s*:%s*%-?%d+%s*[,}]')
      or not string.find(raw, '"exp"%s*:%s*%-?%d+%s*[,}]') then
    return nil
  end
  local names = 0
  for k in pairs(v) do
    if not members[k] then
      return nil
    end
    names = names + 1
  end
  if v.meta ~= nil and v.meta ~= cjson.null then
    if type(v.meta) ~= 'table' then
      return nil
    end
    for k, x in pairs(v.meta) do
      if type(k) ~= 'string' or type(x) ~= 'string' or #k > max_meta_key
          or not string.find(k, '^[%w_.%-]+$') then
        return nil
      end
      names = names + 1
    end
    if names > 5 + max_meta then
      return nil
    end
  end
  local _, written = string.gsub(raw, '[^\\]"%s*:', '')
  if written ~= names then
    return nil
  end
  return v
end
