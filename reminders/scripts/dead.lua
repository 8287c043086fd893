-- dead.lua: read dead reminders by ID, for Dead's listing (read-only).
-- It reads the IDs in order and stops once the records read reach the
-- byte bound (always reading at least one), so one call stays small
-- however large the payloads are; the caller asks again for the rest.
-- KEYS: due, rec, lease, dead, err, seq, heads, kinds
-- ARGV[1]: stop once this many record bytes are read
-- ARGV[2..]: ids
-- Returns: 4 values per ID read: id, died at (Unix ms) or false when it is
-- no longer dead, record or false, last error or false.
local maxBytes = tonumber(ARGV[1])
local res, bytes = {}, 0
for j = 2, #ARGV do
  if bytes >= maxBytes then break end
  local id = ARGV[j]
  local died = redis.call('ZSCORE', K.dead, id)
  local rec, err = false, false
  if died then
    rec = redis.call('HGET', K.rec, id)
    err = redis.call('HGET', K.err, id)
    if rec then bytes = bytes + #rec end
  end
  table.insert(res, id)
  table.insert(res, died or false)
  table.insert(res, rec)
  table.insert(res, err)
end
return res
