-- extend.lua: renew the leases of running handlers.
-- KEYS: due, rec, lease, dead, err, seq
-- ARGV[1]: new lease deadline, Unix ms
-- ARGV[2..]: 2 values per claim: id, version
-- Returns: one integer per claim, 1 renewed or 0 lost (cancelled,
-- rescheduled, released or taken back: the handler's work no longer counts).
local res = {}
for j = 2, #ARGV, 2 do
  local id = ARGV[j]
  if holds(K, id, ARGV[j + 1]) then
    redis.call('ZADD', K.lease, 'XX', ARGV[1], id)
    table.insert(res, 1)
  else
    table.insert(res, 0)
  end
end
return res
