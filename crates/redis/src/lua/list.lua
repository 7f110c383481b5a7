
-- KEYS: the index, the expiry set, the members hash. ARGV: min score, max score, skip, limit,
-- ascending (1|0), now, the document key prefix, the index key prefix.
-- Returns the documents of one page (nil for one that expired since the last trim).
trim(KEYS[2], KEYS[3], ARGV[7], ARGV[8], ARGV[6], 1000)
local ids
if ARGV[5] == '1' then
  ids = redis.call('ZRANGEBYSCORE', KEYS[1], ARGV[1], ARGV[2], 'LIMIT', ARGV[3], ARGV[4])
else
  ids = redis.call('ZREVRANGEBYSCORE', KEYS[1], ARGV[2], ARGV[1], 'LIMIT', ARGV[3], ARGV[4])
end
if #ids == 0 then return {} end
local prefix = ARGV[7]
for i, id in ipairs(ids) do ids[i] = prefix..id end
return redis.call('MGET', unpack(ids))
