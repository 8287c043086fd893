-- extend.lua: renew the leases of running handlers.
-- KEYS: due, rec, lease, dead, err, seq, heads, kinds
-- ARGV[1]: new lease deadline, Unix ms (by the worker's estimate of this
--   server's clock); ARGV[2]: the lease's length, ms
-- ARGV[3..]: 2 values per claim: id, version
-- Returns: one integer per claim, 1 renewed or 0 lost (cancelled,
-- rescheduled, released or taken back: the handler's work no longer counts).
--
-- As in claim.lua, a renewed lease lasts its length by the server's clock
-- at least, whatever the estimate; and a renewal never shortens a lease
-- (GT), which claim.lua may have set later than the worker's deadline.
local t = redis.call('TIME')
local floor = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000) + tonumber(ARGV[2])
local deadline = ARGV[1]
if floor > tonumber(deadline) then deadline = string.format('%.0f', floor) end
local res = {}
for j = 3, #ARGV, 2 do
  local id = ARGV[j]
  if holds(K, id, ARGV[j + 1]) then
    redis.call('ZADD', K.lease, 'XX', 'GT', deadline, id)
    table.insert(res, 1)
  else
    table.insert(res, 0)
  end
end
return res
