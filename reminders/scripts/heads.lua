-- heads.lua: set the heads of some due buckets again from the buckets
-- (lib.lua's setHead), after a ScheduleMany transaction that replaced
-- stored reminders (redis_batch.go): one moved later may have been its
-- bucket's earliest.
-- KEYS: due, rec, lease, dead, err, seq, heads, kinds
-- ARGV: bucket numbers
-- Returns: 0
for _, b in ipairs(ARGV) do setHead(K, b) end
return 0
