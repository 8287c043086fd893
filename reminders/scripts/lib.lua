-- lib.lua: helpers compiled into the front of every script but
-- schedule.lua; never run alone.
--
-- A record (the value in the rec hash) is
--
--   <version>,<attempt>,<due ms>,<kind>\n<payload>
--
-- version: new at every write of the record, so that a worker's ack,
--   retry or lease extension, which carry the version of its claim, are
--   ignored once the reminder was rescheduled, released or taken back
--   after its lease expired. Scripts take it from a per-shard counter (the
--   seq key: 1, 2, ...); Schedule makes it in Go, without a call to Redis:
--   '0' and a random number below 10^18, in decimal. The leading zero
--   keeps the two kinds apart, so only two schedules of one ID can draw the
--   same version, at odds of 10^-18.
--   Versions are compared for equality only, as strings.
-- attempt: the number of the running or next attempt (from 1).
-- due: Reminder.DueAt in Unix ms.
-- kind: Reminder.Kind, which holds no control character, so '\n' ends it.
-- payload: the rest, raw bytes.
-- It is compact (no field names, no per-reminder key) and cheap to rewrite:
-- the header changes, kind and payload are one string.sub.

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

-- rewrite returns rec with a new version, attempt and due; kind and
-- payload are kept.
local function rewrite(rec, p, ver, attempt, due)
  return ver .. ',' .. attempt .. ',' .. due .. ',' .. string.sub(rec, p.k)
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

-- publishWake tells sleeping workers of a shard that a reminder is due at
-- at (Unix ms); wake does so when the shard's earliest due time moved
-- earlier than before (the head before the change). schedule.lua, which
-- runs without this file, writes the same message itself.
local function publishWake(channel, shard, at)
  redis.call('PUBLISH', channel, shard .. ':' .. string.format('%.0f', at))
end

local function wake(dueKey, before, channel, shard)
  local now = head(dueKey)
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

local K = {due = KEYS[1], rec = KEYS[2], lease = KEYS[3], dead = KEYS[4], err = KEYS[5], seq = KEYS[6]}

