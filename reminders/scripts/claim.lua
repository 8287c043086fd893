-- claim.lua: first take back expired leases (a worker died or was cut
-- off): each returns to due with attempt+1 and a new version, or goes dead
-- ("lease expired") when it was the last attempt. Then claim due
-- reminders: move them to the lease set and return their records. Both
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
-- KEYS: due, rec, lease, dead, err, seq
-- ARGV[1]: now, Unix ms (the worker's conservative estimate);
-- ARGV[2]: lease deadline for new claims, Unix ms (by that estimate; see
-- below); ARGV[3]: most reminders to claim;
-- ARGV[4]: stop claiming once this many record bytes are taken;
-- ARGV[5]: max attempts; ARGV[6]: most expired leases to take back
-- Returns: {claimed, retaken, dead, next due, next lease deadline, server
--   now} where claimed is {id, record, ...}, retaken is {id, record, ...}
--   (back to due), dead is {id, reason, record or false, ...}, the next
--   times are the earliest scores left in due and lease (false when
--   empty), and server now is the server's TIME in Unix ms.
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
  table.insert(dead, rec or false)
end

local expired = redis.call('ZRANGEBYSCORE', K.lease, '-inf', '(' .. now, 'LIMIT', 0, ARGV[6])
for _, id in ipairs(expired) do
  redis.call('ZREM', K.lease, id)
  local rec = redis.call('HGET', K.rec, id)
  local p = parse(rec)
  if not p then
    bury(id, 'corrupt', rec)
  else
    local attempt, due = p.a, p.d
    if attempt < maxAttempts then
      attempt = attempt + 1
      redis.call('ZADD', K.due, due, id)
    end
    rec = rewrite(rec, p, newVersion(K.seq), attempt, due)
    redis.call('HSET', K.rec, id, rec)
    if attempt == p.a then
      bury(id, 'lease expired', rec)
    else
      table.insert(retaken, id)
      table.insert(retaken, rec)
    end
  end
end

-- Due reminders are read with one HMGET and moved with one ZREM and one
-- ZADD, whatever their number: a command called from Lua costs about as
-- much as the work it does on one member.
local ids = redis.call('ZRANGEBYSCORE', K.due, '-inf', now, 'LIMIT', 0, maxClaim)
if #ids > 0 then
  local recs = redis.call('HMGET', K.rec, unpack(ids))
  local taken, leases, bytes = {}, {}, 0
  local nowN = tonumber(now)
  for i, id in ipairs(ids) do
    if bytes >= maxBytes then break end
    local rec = recs[i]
    local p = parse(rec)
    if p and p.dn > nowN then
      -- The record is due later than its score says: the scripts keep
      -- the two equal, so something else wrote one of them. The record,
      -- which Get shows and the worker waits for, wins: the reminder is
      -- indexed again at its due time, instead of being claimed and held
      -- by a worker until then.
      redis.call('ZADD', K.due, p.d, id)
    else
      table.insert(taken, id)
      if p then
        table.insert(leases, deadline)
        table.insert(leases, id)
        table.insert(claimed, id)
        table.insert(claimed, rec)
        bytes = bytes + #rec
      else
        bury(id, 'corrupt', rec)
      end
    end
  end
  if #taken > 0 then redis.call('ZREM', K.due, unpack(taken)) end
  if #leases > 0 then redis.call('ZADD', K.lease, unpack(leases)) end
end

local nextDue, nextLease = head(K.due), head(K.lease)
return {claimed, retaken, dead,
  nextDue and string.format('%.0f', nextDue) or false,
  nextLease and string.format('%.0f', nextLease) or false,
  serverNow}
