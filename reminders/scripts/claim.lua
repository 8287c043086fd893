-- claim.lua: first take back expired leases (a worker died or was cut
-- off): each returns to due with attempt+1 as a pending record, or goes
-- dead ("lease expired") when it was the last attempt. Then claim due
-- reminders: move them to the lease set, write their full records with a
-- new version (see lib.lua) and return those. Both
-- loops are bounded, so one call stays well under a millisecond however
-- many reminders are due. A missing or unreadable record is dead-lettered
-- as "corrupt" instead of claimed; one due later than its score is
-- indexed again at its due time.
--
-- "Now" is the worker's estimate of this server's clock, but never later
-- than the server's own TIME: an estimate gone wrong (a failover to a
-- master whose clock is behind, a drifting host) makes a worker look too
-- early and claim nothing, never deliver early or take a live lease. The
-- server's time goes back to the worker, which measures again when its
-- estimate is off. TIME in a script needs effects replication: the default
-- since Redis 5, the only mode since 7.
-- KEYS: due, rec, lease, dead, err, seq, heads, kinds
-- ARGV[1]: now, Unix ms (the worker's conservative estimate);
-- ARGV[2]: lease deadline for new claims, Unix ms (by that estimate; see
-- below); ARGV[3]: most reminders to claim;
-- ARGV[4]: stop claiming once this many record bytes are taken;
-- ARGV[5]: max attempts; ARGV[6]: most expired leases to take back;
-- ARGV[7]: this call's token (random, made by the worker); ARGV[8]: the
--   token of the worker's last call to this shard whose reply it read, or ''
-- Returns: {claimed, retaken, dead, next due, next lease deadline, server
--   now} where claimed is {id, full record, ...}, retaken is {id, record
--   header, ...} (back to due; the full form with the new attempt, no
--   payload, for the log), dead is {id, reason, record header or false,
--   ...}, the next times are the earliest head and lease deadline left
--   (false when empty), and server now is the server's TIME
--   in Unix ms.
local t = redis.call('TIME')
local serverNow = string.format('%.0f', tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000))
local now = ARGV[1]
if tonumber(serverNow) < tonumber(now) then now = serverNow end
-- A new lease lasts its length (ARGV[2] - ARGV[1]) by this server's clock
-- at least: with the worker's estimate behind it (a failover to a master
-- whose clock is ahead, a clock stepped forward), the deadline sent may
-- already be past here, and the next claim would take the reminder back
-- while its first attempt runs. The worker keeps its own, earlier,
-- deadline, and renews the lease by it: early, never late.
local deadline = ARGV[2]
local floor = tonumber(serverNow) + tonumber(ARGV[2]) - tonumber(ARGV[1])
if floor > tonumber(deadline) then deadline = string.format('%.0f', floor) end
local maxClaim, maxBytes = tonumber(ARGV[3]), tonumber(ARGV[4])
local maxAttempts = tonumber(ARGV[5])
local claimed, retaken, dead = {}, {}, {}

local function reply()
  local nextDue, nextLease = dueHead(K), head(K.lease)
  return {claimed, retaken, dead,
    nextDue and string.format('%.0f', nextDue) or false,
    nextLease and string.format('%.0f', nextLease) or false,
    serverNow}
end

-- A claim may run twice: go-redis sends a command again when the
-- connection drops before the reply is read. The second run must not lose
-- what the first took: those reminders would sit leased and unhandled
-- until their leases expire, and spend an attempt. So the first run keeps
-- the IDs and versions it claimed under the call's token (the memo key,
-- <tag>claim:<token>, for as long as a lease), and a run that finds them
-- returns the claims still live, and claims nothing more. The worker's
-- next call drops the memo of the last call whose reply it read.
local tag = string.sub(K.due, 1, -4) -- '{<prefix>:<shard>}:', K.due less 'due'
if ARGV[8] ~= '' then redis.call('DEL', tag .. 'claim:' .. ARGV[8]) end
local memoKey = tag .. 'claim:' .. ARGV[7]
local memo = redis.call('GET', memoKey)
if memo then
  for id, version in string.gmatch(memo, '([^\n]*)\n([^\n]*)\n') do
    local rec = holds(K, id, version)
    if rec then
      table.insert(claimed, id)
      table.insert(claimed, rec)
    end
  end
  return reply()
end

-- header is a record up to its '\n', without the payload: what the worker
-- logs of a reminder taken back or dead-lettered here, so that the reply
-- stays small however large the payloads are ('' when there is none).
local function header(rec)
  local nl = string.find(rec, '\n', 1, true)
  return nl and string.sub(rec, 1, nl) or ''
end

-- bury dead-letters id. A missing record is stored as '' (corrupt too):
-- schedule.lua counts on every ID with a lease, a dead entry or a last
-- error having a field in rec, or a later Schedule of the ID would leave
-- this dead entry and its error behind.
local function bury(id, reason, rec)
  redis.call('ZADD', K.dead, now, id)
  redis.call('HSET', K.err, id, reason)
  if not rec then redis.call('HSET', K.rec, id, '') end
  table.insert(dead, id)
  table.insert(dead, reason)
  table.insert(dead, rec and header(rec) or false)
end

local expired = redis.call('ZRANGEBYSCORE', K.lease, '-inf', '(' .. now, 'LIMIT', 0, ARGV[6])
for _, id in ipairs(expired) do
  redis.call('ZREM', K.lease, id)
  local rec = redis.call('HGET', K.rec, id)
  local p = parse(rec)
  if not p then
    bury(id, 'corrupt', rec)
  elseif p.a < maxAttempts then
    redis.call('HSET', K.rec, id, pending(rec, p, p.a + 1))
    dueAdd(K, id, p.d)
    table.insert(retaken, id)
    table.insert(retaken, p.v .. ',' .. (p.a + 1) .. ',' .. p.d .. ',' .. string.sub(header(rec), p.k))
  else
    bury(id, 'lease expired', rec)
  end
end

-- Due reminders: first those of the due key as stored before the buckets
-- (see lib.lua), then those of the buckets whose heads are due, earliest
-- head first. Each bucket is read with one ZRANGEBYSCORE; the records
-- with one HMGET, whatever their number: a command called from Lua costs
-- about as much as the work it does on one member.
local cands = {} -- {id, due as stored, the set it is in}
local function collect(key, limit)
  local m = redis.call('ZRANGEBYSCORE', key, '-inf', now, 'WITHSCORES', 'LIMIT', 0, limit)
  for i = 1, #m, 2 do table.insert(cands, {m[i], m[i + 1], key}) end
end
collect(K.due, maxClaim)
-- The due heads are read a page at a time, up to maxVisits of them: a head
-- can be too low (a ScheduleMany transaction that moved its bucket's
-- earliest reminder later, see lib.lua), and a call that found only such
-- heads would leave a due reminder behind them for the next call.
local maxVisits = 256
local visited, offset = {}, 0
while #cands < maxClaim and #visited < maxVisits do
  local page = redis.call('ZRANGEBYSCORE', K.heads, '-inf', now, 'LIMIT', offset, 32)
  for _, b in ipairs(page) do
    if #cands >= maxClaim or #visited >= maxVisits then break end
    collect(bucketKey(K, b), maxClaim - #cands)
    table.insert(visited, b)
  end
  if #page < 32 then break end
  offset = offset + #page
end

if #cands > 0 then
  local ids = {}
  for i, c in ipairs(cands) do ids[i] = c[1] end
  local recs = redis.call('HMGET', K.rec, unpack(ids))
  local nowN = tonumber(now)
  local remove, live, seen, bytes = {}, {}, {}, 0
  for i, c in ipairs(cands) do
    if bytes >= maxBytes then break end
    local id, due, key, rec = c[1], c[2], c[3], recs[i]
    -- rest: the full record (lib.lua) but for its version, nil when the
    -- record is missing or unreadable.
    local rest, later
    local p = parsePending(rec)
    if p then
      rest = body(K.kinds, rec, p, due)
    else
      p = parse(rec)
      -- A full record due later than its score: something else wrote one
      -- of the two. The record, which Get shows and the worker waits
      -- for, wins: the reminder is indexed again at its due time, instead
      -- of being claimed and held by a worker until then.
      later = p and p.dn > nowN
      if p then rest = string.sub(rec, #p.v + 2) end
    end
    if later then
      redis.call('ZREM', key, id)
      dueAdd(K, id, p.d)
    else
      remove[key] = remove[key] or {}
      table.insert(remove[key], id)
      if seen[id] then
        -- In both the old due key and its bucket: claimed once, from the
        -- first.
      elseif rest then
        seen[id] = true
        table.insert(live, {id, rest})
        bytes = bytes + #rest
      else
        seen[id] = true
        bury(id, 'corrupt', rec)
      end
    end
  end
  for key, list in pairs(remove) do redis.call('ZREM', key, unpack(list)) end
  if #live > 0 then
    -- One version per claim, from one INCRBY.
    local last = redis.call('INCRBY', K.seq, #live)
    local fields, leases, memo = {}, {}, {}
    for i, l in ipairs(live) do
      local version = string.format('%.0f', last - #live + i)
      local rec = version .. ',' .. l[2]
      table.insert(memo, l[1] .. '\n' .. version .. '\n')
      table.insert(fields, l[1])
      table.insert(fields, rec)
      table.insert(leases, deadline)
      table.insert(leases, l[1])
      table.insert(claimed, l[1])
      table.insert(claimed, rec)
    end
    redis.call('HSET', K.rec, unpack(fields))
    redis.call('ZADD', K.lease, unpack(leases))
    redis.call('SET', memoKey, table.concat(memo), 'PX', tonumber(ARGV[2]) - tonumber(ARGV[1]))
  end
end

-- Each visited bucket's head is set again from the bucket, or dropped
-- with it; then the earliest heads are checked, so that a head written by
-- something else does not keep a worker waking early.
for _, b in ipairs(visited) do setHead(K, b) end
for _ = 1, 4 do
  local h = redis.call('ZRANGE', K.heads, 0, 0, 'WITHSCORES')
  if not h[2] then break end
  local first = redis.call('ZRANGE', bucketKey(K, h[1]), 0, 0, 'WITHSCORES')
  if first[2] and tonumber(first[2]) == tonumber(h[2]) then break end
  setHead(K, h[1])
end

return reply()
