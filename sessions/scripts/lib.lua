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

-- json_string returns s as the JSON string that Go's encoding/json writes
-- for it (value.go jsonString): '"' and '\' escaped with a backslash, the
-- HTML characters <, > and & as \u003c, \u003e and \u0026, U+2028 and
-- U+2029 as \u2028 and \u2029, control bytes as \b, \f, \n, \r, \t or
-- \u00XX (lower-case hex), everything else as it is. s is valid UTF-8, as
-- is every string decode returns. Values are written in this one encoding
-- whichever side writes them, so that equal families are equal bytes (see
-- revoke_family); TestLuaJSONStringAgreesWithGo checks it.
local json_escapes = {['"'] = '\\"', ['\\'] = '\\\\', ['<'] = '\\u003c', ['>'] = '\\u003e',
  ['&'] = '\\u0026', ['\b'] = '\\b', ['\f'] = '\\f', ['\n'] = '\\n', ['\r'] = '\\r', ['\t'] = '\\t'}
local function json_escape(c)
  return json_escapes[c] or string.format('\\u%04x', string.byte(c))
end
local function json_string(s)
  s = string.gsub(s, '[%z\1-\31"\\<>&]', json_escape)
  s = string.gsub(s, '\226\128\168', '\\u2028')
  s = string.gsub(s, '\226\128\169', '\\u2029')
  return '"' .. s .. '"'
end

-- Reading a stored session value. cjson is not used for it: it accepts
-- far more than IsActive's decoder (decode.go) does (raw control bytes in
-- strings, hex, '+1', '1.', nan, leading zeros, text after a NUL byte, an
-- array for an object, escaped meta keys), and a value one side reads as
-- active and the other as corrupt would let Rotate build a successor on a
-- session IsActive refuses. So what follows is decode.go's grammar again,
-- rule for rule; TestLuaDecodeAgreesWithGo feeds both the same values.
--
-- It judges one value at a time (Revoke's, Rotate's old session, the
-- grace successor) and never runs in a loop over a user's sessions: on a
-- crafted 4 KiB meta it costs about a millisecond of Redis time, a second
-- for a user's 1,000 sessions. The walks judge values without it
-- (revoke_all.lua counts by index scores; revoke_family compares a
-- prefix). Its work per byte is done by string functions (C),
-- not by Lua loops.

-- The value's members (value.go).
local members = {uid = true, fam = true, iat = true, exp = true, meta = true}
-- 2^53 - 1: beyond it a Lua number is no longer an exact integer.
local max_ms = 9007199254740991
-- MaxMetaEntries and MaxMetaKeyLen (options.go).
local max_meta, max_meta_key = 16, 64

-- Escape marks: mark_escapes overwrites each escape sequence, byte for
-- byte, with '\1' once it is known to be valid; '\2' stands before the
-- 'u' of a \u escape not checked yet. decode refuses a raw value holding
-- either byte (a control byte, never valid JSON), so the marks are
-- unambiguous. Positions do not move: a string ends at its first plain
-- quote, and its text can still be read from the raw value.
local one_char = {['"'] = '\1\1', ['\\'] = '\1\1', ['/'] = '\1\1', b = '\1\1', f = '\1\1',
  n = '\1\1', r = '\1\1', t = '\1\1', u = '\2u'}
-- The \u escapes that are valid: a surrogate pair (the only place a
-- surrogate may appear), and code points outside the surrogates,
-- D800-DFFF: those not starting with D, and D000-D7FF.
local H = '[0-9A-Fa-f]'
local u_pair = '\2u[dD][89aAbB]' .. H .. H .. '\2u[dD][c-fC-F]' .. H .. H
local u_not_d, u_d0_d7 = '\2u[0-9a-cA-CeEfF]' .. H .. H .. H, '\2u[dD][0-7]' .. H .. H

local function mark_escapes(raw)
  -- Left to right, so "\\" is one escape and a quote after it ends the
  -- string; a backslash before any other byte stays and is refused later.
  local t = string.gsub(raw, '\\(.)', one_char)
  if string.find(t, '\2', 1, true) then
    if string.find(t, '\2ud', 1, true) or string.find(t, '\2uD', 1, true) then
      t = string.gsub(t, u_pair, string.rep('\1', 12))
      t = string.gsub(t, u_d0_d7, '\1\1\1\1\1\1')
    end
    t = string.gsub(t, u_not_d, '\1\1\1\1\1\1')
  end
  return t
end

-- valid_utf8 reports whether s is valid UTF-8 by the ranges of Go's
-- unicode/utf8 (no overlong form, no surrogate, nothing past U+10FFFF).
-- Each pass overwrites the well-formed sequences of one kind with an ASCII
-- byte, which no later pass can join to its neighbours: what is left
-- above 0x7F was not UTF-8. The commonest kinds go first, and it stops
-- as soon as nothing is left.
local utf8_kinds = {
  '[\194-\223][\128-\191]',
  '[\225-\236\238\239][\128-\191][\128-\191]',
  '\224[\160-\191][\128-\191]',
  '\237[\128-\159][\128-\191]',
  '\240[\144-\191][\128-\191][\128-\191]',
  '[\241-\243][\128-\191][\128-\191][\128-\191]',
  '\244[\128-\143][\128-\191][\128-\191]',
}
local function valid_utf8(s)
  for _, kind in ipairs(utf8_kinds) do
    s = string.gsub(s, kind, '.')
    if not string.find(s, '[\128-\255]') then
      return true
    end
  end
  return false
end

-- skip returns the index of the first byte at or after i that is not JSON
-- whitespace (#t + 1 at the end).
local function skip(t, i)
  return string.find(t, '[^ \t\n\r]', i) or #t + 1
end

-- string_end checks the JSON string whose opening quote is at i in the
-- marked value t and returns the index of its closing quote and what is
-- between, or nil: no raw control byte, only JSON's escapes, valid UTF-8.
local function string_end(t, i)
  if string.byte(t, i) ~= 34 then
    return nil
  end
  local j = string.find(t, '"', i + 1, true)
  if not j then
    return nil
  end
  -- One scan for what needs a closer look: a control byte, a backslash
  -- that starts no valid escape, a \u escape not marked valid, or a byte
  -- above 0x7F (then UTF-8 is checked). The class is written as what it
  -- is not, commonest bytes first, which Lua matches faster.
  local body = string.sub(t, i + 1, j - 1)
  local odd = string.find(body, '[^]-\127\1 -[]')
  if odd and (string.byte(body, odd) < 128 or string.find(body, '[%z\2-\31\\]', odd)
      or not valid_utf8(body)) then
    return nil
  end
  return j, body
end

-- utf8_char returns the UTF-8 encoding of code point r (not a surrogate).
local function utf8_char(r)
  local f = math.floor
  if r < 0x80 then
    return string.char(r)
  elseif r < 0x800 then
    return string.char(0xC0 + f(r / 0x40), 0x80 + r % 0x40)
  elseif r < 0x10000 then
    return string.char(0xE0 + f(r / 0x1000), 0x80 + f(r / 0x40) % 0x40, 0x80 + r % 0x40)
  end
  return string.char(0xF0 + f(r / 0x40000), 0x80 + f(r / 0x1000) % 0x40, 0x80 + f(r / 0x40) % 0x40, 0x80 + r % 0x40)
end

-- The text of a one-character escape.
local unescaped = {['"'] = '"', ['\\'] = '\\', ['/'] = '/', b = '\b', f = '\f', n = '\n', r = '\r', t = '\t'}

-- text returns the text of the string that string_end checked, whose body
-- in the marked value is body and whose opening quote is at i in raw.
-- Without escapes it is body itself. With them, each is decoded in turn:
-- a loop turn per escape, which only member names, uid and fam (at most
-- MaxIDLen bytes each when the library wrote them) pay, never meta.
local function text(raw, i, body)
  if not string.find(body, '\1', 1, true) then
    return body
  end
  local parts, n, k = {}, 0, i + 1
  local stop = i + #body
  while k <= stop do
    local j = string.find(raw, '\\', k, true)
    if not j or j > stop then
      j = stop + 1
    end
    n = n + 1
    parts[n] = string.sub(raw, k, j - 1)
    if j > stop then
      break
    end
    local e = string.sub(raw, j + 1, j + 1)
    if e == 'u' then
      local r = tonumber(string.sub(raw, j + 2, j + 5), 16)
      k = j + 6
      if r >= 0xD800 and r <= 0xDBFF then -- a pair: mark_escapes checked it
        r = 0x10000 + (r - 0xD800) * 0x400 + (tonumber(string.sub(raw, k + 2, k + 5), 16) - 0xDC00)
        k = k + 6
      end
      n = n + 1
      parts[n] = utf8_char(r)
    else
      n = n + 1
      parts[n] = unescaped[e]
      k = j + 2
    end
  end
  return table.concat(parts)
end

-- read_millis reads the time at i and returns it and the index after it,
-- or nil: a JSON integer (no fraction, no exponent, no leading zero)
-- within +-max_ms. Sixteen digits are enough for max_ms, and a number of
-- sixteen digits above it reads as at least 2^53, never back within.
local function read_millis(t, i)
  local sign, digits = string.match(t, '^(%-?)([0-9]+)', i)
  if not digits or #digits > 16 or #digits > 1 and string.byte(digits) == 48 then
    return nil
  end
  local k = i + #sign + #digits
  local c = string.sub(t, k, k)
  local ms = tonumber(digits)
  if c == '.' or c == 'e' or c == 'E' or ms > max_ms then
    return nil
  end
  if sign == '-' then
    ms = -ms
  end
  return ms, k
end

-- read_meta reads meta at i, null or an object of at most max_meta strings
-- under distinct keys of the MetaKey charset (which needs no escapes: a
-- key is compared as written), and returns the index after it, or nil.
local function read_meta(t, i)
  if string.sub(t, i, i + 3) == 'null' then
    return i + 4
  end
  if string.byte(t, i) ~= 123 then
    return nil
  end
  i = skip(t, i + 1)
  if string.byte(t, i) == 125 then
    return i + 1
  end
  local seen, n = {}, 0
  while true do
    local key = string.match(t, '^"([A-Za-z0-9_.%-]*)"', i)
    if not key or #key == 0 or #key > max_meta_key or n == max_meta or seen[key] then
      return nil
    end
    seen[key], n = true, n + 1
    i = skip(t, i + #key + 2)
    if string.byte(t, i) ~= 58 then
      return nil
    end
    local j = string_end(t, skip(t, i + 1))
    if not j then
      return nil
    end
    i = skip(t, j + 1)
    local c = string.byte(t, i)
    if c == 125 then
      return i + 1
    elseif c ~= 44 then
      return nil
    end
    i = skip(t, i + 1)
  end
end

-- decode returns the stored session value raw as a table {uid, fam, iat,
-- exp, meta} (meta, when present, is its JSON text as stored, for
-- rotate.lua to copy) when it is a well-formed session of user uid, and
-- nil otherwise
-- (missing, corrupt, or another user's): such a value is never active. It
-- accepts exactly what IsActive's decoder (decode.go activeExpiry)
-- accepts: an object with a string uid equal to uid, a non-empty string
-- fam, integer times iat and exp, and optionally meta; each member once,
-- in any order, nothing else.
local function decode(raw, uid)
  -- Control bytes are refused where they stand (string_end, the syntax),
  -- but the two that mark escapes are refused here already.
  if type(raw) ~= 'string' or string.find(raw, '\1', 1, true) or string.find(raw, '\2', 1, true) then
    return nil
  end
  local t = mark_escapes(raw)
  local i = skip(t, 1)
  if string.byte(t, i) ~= 123 then
    return nil
  end
  local v, seen = {}, {}
  i = i + 1
  while true do
    i = skip(t, i)
    local j, body = string_end(t, i)
    if not j then
      return nil
    end
    local name = text(raw, i, body)
    if not members[name] or seen[name] then
      return nil
    end
    seen[name] = true
    i = skip(t, j + 1)
    if string.byte(t, i) ~= 58 then
      return nil
    end
    i = skip(t, i + 1)
    local k
    if name == 'meta' then
      k = read_meta(t, i)
      if k then
        v.meta = string.sub(raw, i, k - 1) -- its JSON as stored (rotate.lua)
      end
    elseif name == 'iat' or name == 'exp' then
      v[name], k = read_millis(t, i)
    else
      j, body = string_end(t, i)
      if j then
        v[name], k = text(raw, i, body), j + 1
      end
    end
    if not k then
      return nil
    end
    i = skip(t, k)
    local c = string.byte(t, i)
    if c == 125 then
      break
    elseif c ~= 44 then
      return nil
    end
    i = i + 1
  end
  if skip(t, i + 1) <= #t or not (v.iat and v.exp) or not v.fam or v.fam == '' or v.uid ~= uid then
    return nil
  end
  return v
end

-- A tombstone is of one of two kinds, under the same key:
--   rotation:   {next, at, exp, fam, call}, written by rotate.lua for the
--               old ID; presented again, the ID is reuse.
--   revocation: {revoked = true, exp}, written by revoke_session for a
--               session that Revoke, RevokeAllForUser or reuse detection
--               ended; presented again, the ID is simply not active.
-- Both last until the ended session's own expiry (exp, Unix ms), and both
-- make the ID spent: Remember refuses it, and Rotate refuses it for a
-- successor. A session key and a tombstone of one ID never stand together:
-- Remember and Rotate delete a tombstone that is over before they write
-- the session, and refuse the ID while it is not.

-- read_tombstone decodes a tombstone of either kind (t.revoked tells
-- which), or returns nil when it is not one.
local function read_tombstone(raw)
  local ok, t = pcall(cjson.decode, raw)
  if not ok or type(t) ~= 'table' or not tonumber(t.exp) then
    return nil
  end
  if t.revoked == true then
    return t
  end
  if type(t.next) ~= 'string' or type(t.fam) ~= 'string' or not tonumber(t.at) then
    return nil
  end
  t.revoked = nil
  return t
end

-- clock_lead returns how far Redis's clock (TIME) runs ahead of the
-- caller's now (Unix ms), or 0 when it does not. A tombstone lasts until
-- its session's expiry by both clocks (see rotate.lua): its PXAT is that
-- expiry plus the lead. TIME in a script needs effects replication: the
-- default since Redis 5.
local function clock_lead(now)
  local time = redis.call('TIME')
  local redis_now = tonumber(time[1]) * 1000 + math.floor(tonumber(time[2]) / 1000)
  return math.max(0, redis_now - now)
end

-- revoke_session leaves the revocation tombstone of the user's session
-- member m (index), which expires at exp (Unix ms) and has just been
-- deleted, so that a Remember of it that reaches Redis late (go-redis
-- sends a script again on a new connection after a read timeout, and the
-- first attempt may come after the retry) does not store it again. lead
-- is clock_lead's.
local function revoke_session(index, m, exp, lead)
  local e = string.format('%.0f', exp)
  redis.call('SET', index .. ':rotated:' .. m, cjson.encode({revoked = true, exp = e}),
    'PXAT', string.format('%.0f', exp + lead))
end

-- revoke_family deletes every session of the user (index) whose family is
-- fam, leaves a revocation tombstone for each that was active (expiry
-- after now), and returns how many those were. head
-- is how every value of the user starts, up to and including '"fam":'
-- (value.go valueHead). The user's session count is bounded (max
-- sessions per user), so the walk is too; a per-family set would be one
-- more key to keep in step.
--
-- It does not decode the values: at about a millisecond for a crafted
-- meta, decoding 1,000 of them would block Redis for a second, at a
-- user's will. It compares each value's first bytes, read with GETRANGE
-- (so a large meta is not even copied), with the prefix every value of
-- the family starts with:
--
--   {"uid":<uid as JSON>,"fam":<fam as JSON>,
--
-- That is exact for the values this library writes, which are all in
-- canonical form: value.go writes them (Remember, and the successor's
-- head and tail in rotate.lua), with members in that order, no whitespace,
-- and strings in Go's encoding, which json_string reproduces for the
-- family this script writes into a successor. For such a value, starting
-- with the prefix means its fam is fam: a JSON string ends at its first
-- unescaped quote, so the bytes after '"fam":' that equal fam's encoding
-- up to its closing quote are that whole string, and one string has one
-- encoding. The comma rules out a longer string. The session's activity
-- is counted from its index score, which is the expiry the value holds.
--
-- A value in another form was not written by this library: a writer with
-- direct access to Redis, or a corruption. One that starts with the
-- prefix is deleted, whatever follows: deleting a session never makes
-- anything active, and it may well be corrupt (then it was never active
-- either). One that does not is left alone: the walk does not judge what
-- it cannot read cheaply, and leaving a value as it was makes nothing
-- active that was not. (IsActive accepts some values in a non-canonical
-- form, such as members in another order, that a foreign writer could
-- give this family; those survive reuse detection. Only a writer that
-- could as well write an active session of its own can make one.)
local function revoke_family(index, head, fam, now)
  local prefix = head .. json_string(fam) .. ','
  local last = #prefix - 1
  local all = redis.call('ZRANGE', index, 0, -1, 'WITHSCORES')
  local n, lead = 0, nil
  for i = 1, #all, 2 do
    local m = all[i]
    local key = index .. ':' .. m
    if redis.call('GETRANGE', key, 0, last) == prefix then
      redis.call('DEL', key)
      redis.call('ZREM', index, m)
      local exp = tonumber(all[i + 1])
      if exp > now then
        n = n + 1
        lead = lead or clock_lead(now)
        revoke_session(index, m, exp, lead)
      end
    end
  end
  expire_index(index)
  return n
end

