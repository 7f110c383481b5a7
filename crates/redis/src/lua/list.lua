-- KEYS: the expiry set, the meta hash, then the indexes to read (a document is in one of them
-- at most). ARGV: min score, max score, skip, limit, ascending (1|0), now, the document key
-- prefix, the index key prefix, '1' for the bodies alone. Returns, for each document of one page
-- of the indexes' union in score order (ties by id, in the same direction), its body (nil for one
-- that expired since the last trim) and, unless the bodies alone were asked for, its meta entry.
trim(KEYS[1], KEYS[2], ARGV[7], ARGV[8], ARGV[6], 1000)
local ascending = ARGV[5] == '1'
local ids
if #KEYS == 3 then
  if ascending then
    ids = redis.call('ZRANGEBYSCORE', KEYS[3], ARGV[1], ARGV[2], 'LIMIT', ARGV[3], ARGV[4])
  else
    ids = redis.call('ZREVRANGEBYSCORE', KEYS[3], ARGV[2], ARGV[1], 'LIMIT', ARGV[3], ARGV[4])
  end
else
  -- Each index's first skip + limit, merged.
  local wanted = tonumber(ARGV[3]) + tonumber(ARGV[4])
  local entries = {}
  for k = 3, #KEYS do
    local got
    if ascending then
      got = redis.call('ZRANGEBYSCORE', KEYS[k], ARGV[1], ARGV[2], 'WITHSCORES', 'LIMIT', 0, wanted)
    else
      got = redis.call('ZREVRANGEBYSCORE', KEYS[k], ARGV[2], ARGV[1], 'WITHSCORES', 'LIMIT', 0, wanted)
    end
    for i = 1, #got, 2 do entries[#entries + 1] = {tonumber(got[i + 1]), got[i]} end
  end
  if ascending then
    table.sort(entries, function(a, b) return a[1] < b[1] or (a[1] == b[1] and a[2] < b[2]) end)
  else
    table.sort(entries, function(a, b) return a[1] > b[1] or (a[1] == b[1] and a[2] > b[2]) end)
  end
  ids = {}
  local from = tonumber(ARGV[3]) + 1
  for i = from, math.min(#entries, from + tonumber(ARGV[4]) - 1) do ids[#ids + 1] = entries[i][2] end
end
if #ids == 0 then return {} end
local metas = ARGV[9] ~= '1' and redis.call('HMGET', KEYS[2], unpack(ids))
local prefix = ARGV[7]
for i, id in ipairs(ids) do ids[i] = prefix..id end
local bodies = redis.call('MGET', unpack(ids))
if not metas then return bodies end
local out = {}
for i = 1, #bodies do
  out[2 * i - 1] = bodies[i]
  out[2 * i] = metas[i]
end
return out
