
-- KEYS: the index, the expiry set, the meta hash. ARGV: min score, max score, skip, limit,
-- ascending (1|0), now, the document key prefix, the index key prefix, '1' for the bodies alone.
-- Returns, for each document of one page, its body (nil for one that expired since the last trim)
-- and, unless the bodies alone were asked for, its meta entry.
trim(KEYS[2], KEYS[3], ARGV[7], ARGV[8], ARGV[6], 1000)
local ids
if ARGV[5] == '1' then
  ids = redis.call('ZRANGEBYSCORE', KEYS[1], ARGV[1], ARGV[2], 'LIMIT', ARGV[3], ARGV[4])
else
  ids = redis.call('ZREVRANGEBYSCORE', KEYS[1], ARGV[2], ARGV[1], 'LIMIT', ARGV[3], ARGV[4])
end
if #ids == 0 then return {} end
local metas = ARGV[9] ~= '1' and redis.call('HMGET', KEYS[3], unpack(ids))
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
