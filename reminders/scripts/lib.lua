-- lib.lua: helpers compiled into the front of every script but
-- schedule.lua; never run alone.
--
-- A record (the value in the rec hash) has one of two forms. A pending
-- reminder's is compact, as it may wait long and in great numbers:
--
--   ~<attempt>,<kind ref>\n<payload>          (as Schedule writes it)
--   ~<attempt>@<due ms>=<kind>\n<payload>     (as the scripts write it)
--
-- It has no version. Its due time (Reminder.DueAt) is its score in the due
-- index unless the record carries one: a retry is indexed at its backoff's
-- end, and keeps the DueAt it was scheduled with. The
-- kind ref is 11 characters (base64url of a 64-bit hash of the Kind, see
-- redis_record.go) that the kinds hash maps back to the Kind: a 26-byte
-- Kind then costs 11 bytes in each of a million records, and a record of a
-- 77-byte payload stays in Redis's 96-byte allocation class. A reminder in
-- flight or dead has the full form, which claim.lua writes:
--
--   <version>,<attempt>,<due ms>,<kind>\n<payload>
--
-- version: new at every claim, and at every later rewrite of the full
--   record, so that a worker's ack, retry or lease extension, which carry
--   the version of its claim, are ignored once the reminder was
--   rescheduled, released or taken back after its lease expired. It comes
--   from a per-shard counter (the seq key: 1, 2, ...); versions are
--   compared for equality only, as strings. A full record in the due
--   index (as stored before the compact form existed) is delivered too.
-- attempt: the number of the running or next attempt (from 1).
-- due: Reminder.DueAt in Unix ms.
-- kind: Reminder.Kind, which holds no control character, so '\n' ends it.
-- payload: the rest, raw bytes.
--
-- The due index is split into listpack-sized sorted sets, so that a
-- pending reminder costs its ID and score in a packed list instead of a
-- skiplist node and a dict entry: bucket b of the shard is the sorted set
-- <due key>:<b> (same hash tag, so same slot), ID -> due ms, where b is the
-- ID read as a big-endian number modulo 1021 (dueBucket in keys.go). The
-- heads sorted set holds, for each bucket with members, its earliest due
-- time: an add lowers it (ZADD LT: exact, as the bucket's earliest can
-- only move earlier), and every change that can move it later sets it
-- again from the bucket (setHead): claim.lua for the buckets it takes
-- from, cancel.lua, and schedule.lua for the reminders it replaces. Only a
-- ScheduleMany transaction (redis_batch.go), which cannot look, leaves a
-- head too low when it moves a bucket's earliest reminder later; claim.lua
-- then visits it and sets it, up to 256 heads a call, so that due
-- reminders do not wait behind such heads. The due key itself is the
-- index as stored before the buckets existed: still read, never written.

-- maxDue bounds a due time, in Unix ms either side of 1970: 2^53-1, as
-- validate.go's maxDueMillis.
local maxDue = 9007199254740991

-- parse returns the header of rec, or nil when rec is missing or is not a
-- record (written by something else, truncated, or due out of range): v
-- the version, a the attempt, d the due time as stored and dn as a
-- number, k where the kind starts.
local function parse(rec)
  if not rec then return nil end
  local v, a, d, k = string.match(rec, '^(%d+),(%d+),(-?%d+),()')
  if not v then return nil end
  -- A due time Schedule refuses (validate.go), or not a number to Lua at
  -- all: not a record of ours (and ZADD would refuse what is not a
  -- finite double).
  local due = tonumber(d)
  if not due or due > maxDue or due < -maxDue then return nil end
  local nl = string.find(rec, '\n', k, true)
  if not nl or nl == k then return nil end
  return {v = v, a = tonumber(a), d = d, dn = due, k = k}
end

-- pending returns the compact record of a reminder due again, from its
-- full record: the attempt given, its DueAt and its Kind spelled out (a
-- script has no kind ref to hand: the ref's hash is computed in Go).
local function pending(rec, p, attempt)
  return '~' .. attempt .. '@' .. p.d .. '=' .. string.sub(rec, p.k)
end

-- parsePending returns the header of a compact record, or nil when rec
-- is not one: a the attempt, d the DueAt it carries (digits) or nil, ref
-- the kind ref or kind the Kind itself, nl where the payload's '\n' is.
local function parsePending(rec)
  if not rec then return nil end
  local a, d, sep, k = string.match(rec, '^~(%d+)@(-?%d+)([,=])()')
  if not a then
    a, sep, k = string.match(rec, '^~(%d+)([,=])()')
    if not a then return nil end
  end
  local nl = string.find(rec, '\n', k, true)
  if not nl or nl == k then return nil end
  local p = {a = tonumber(a), d = d, nl = nl}
  if sep == ',' then p.ref = string.sub(rec, k, nl - 1) else p.kind = string.sub(rec, k, nl - 1) end
  return p
end

-- kindOf resolves a compact record's Kind through the kinds hash, with a
-- per-call cache; nil when the ref is unknown (the hash was deleted or
-- written by something else).
local kindCache = {}
local function kindOf(kindsKey, p)
  if p.kind then return p.kind end
  local kind = kindCache[p.ref]
  if kind == nil then
    kind = redis.call('HGET', kindsKey, p.ref) or false
    kindCache[p.ref] = kind
  end
  return kind or nil
end

-- body returns the full record of a compact one but for its version
-- (lib.lua's format from the attempt on), or nil when it cannot be read:
-- score is its score in the due index, its DueAt unless it carries one.
local function body(kindsKey, rec, p, score)
  local kind = kindOf(kindsKey, p)
  local due = tonumber(p.d or score)
  if not kind or not due or due > maxDue or due < -maxDue then return nil end
  return p.a .. ',' .. string.format('%.0f', due) .. ',' .. kind .. string.sub(rec, p.nl)
end

-- newVersion formats with '%.0f', exact to 2^53: tostring would print
-- Lua 5.1's '%.14g', 1e+14 from 10^14 on, which parse rejects.
local function newVersion(seqKey)
  return string.format('%.0f', redis.call('INCR', seqKey))
end

-- head returns the score of the earliest member of a sorted set, or nil.
local function head(key)
  local h = redis.call('ZRANGE', key, 0, 0, 'WITHSCORES')
  if h[2] then return tonumber(h[2]) end
  return nil
end

-- bucketOf is keys.go's dueBucket: the ID as a big-endian number modulo
-- 1021, exact in Lua's doubles.
local function bucketOf(id)
  local h = 0
  for i = 1, #id do h = (h * 256 + string.byte(id, i)) % 1021 end
  return h
end

local function bucketKey(k, b) return k.due .. ':' .. b end

-- dueAdd indexes id as due at due (Unix ms, a number or digits).
local function dueAdd(k, id, due)
  local b = bucketOf(id)
  redis.call('ZADD', bucketKey(k, b), due, id)
  redis.call('ZADD', k.heads, 'LT', due, b)
end

-- setHead sets bucket b's head to its earliest due time, or drops it when
-- the bucket is empty; it returns that time as Redis gave it, or nil.
local function setHead(k, b)
  local h = redis.call('ZRANGE', bucketKey(k, b), 0, 0, 'WITHSCORES')
  if h[2] then
    redis.call('ZADD', k.heads, h[2], b)
  else
    redis.call('ZREM', k.heads, b)
  end
  return h[2]
end

-- dueRem drops id from the due index, and sets its bucket's head again;
-- 1 if it was there, else 0.
local function dueRem(k, id)
  local b = bucketOf(id)
  local n = redis.call('ZREM', bucketKey(k, b), id)
  if n > 0 then setHead(k, b) end
  return n + redis.call('ZREM', k.due, id)
end

-- dueScore is id's due time in the index (a string), or false.
local function dueScore(k, id)
  return redis.call('ZSCORE', bucketKey(k, bucketOf(id)), id) or redis.call('ZSCORE', k.due, id)
end

-- dueHead is the earliest due time in the index (a lower bound of it,
-- with a stale head), or nil when it is empty.
local function dueHead(k)
  local h, l = head(k.heads), head(k.due)
  if h and l then return math.min(h, l) end
  return h or l
end

-- publishWake tells sleeping workers of a shard that a reminder is due at
-- at (Unix ms); wake does so when the shard's earliest due time moved
-- earlier than before (the head before the change). schedule.lua, which
-- runs without this file, writes the same message itself.
local function publishWake(channel, shard, at)
  redis.call('PUBLISH', channel, shard .. ':' .. string.format('%.0f', at))
end

local function wake(k, before, channel, shard)
  local now = dueHead(k)
  if now and (not before or now < before) then
    publishWake(channel, shard, now)
  end
end

-- holds reports whether the claim (id, version) is still the live one: the
-- reminder is in the lease set and its record has that version.
local function holds(k, id, version)
  if not redis.call('ZSCORE', k.lease, id) then return nil, nil end
  local rec = redis.call('HGET', k.rec, id)
  local p = parse(rec)
  if not p or p.v ~= version then return nil, nil end
  return rec, p
end

local K = {due = KEYS[1], rec = KEYS[2], lease = KEYS[3], dead = KEYS[4], err = KEYS[5], seq = KEYS[6],
  heads = KEYS[7], kinds = KEYS[8]}

