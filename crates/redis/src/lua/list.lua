
-- ARGV: P, C, index name, min score, max score, skip, limit, ascending (1|0), now.
-- Returns the documents of one page (nil for one that expired since the last trim).
local P, C = ARGV[1], ARGV[2]
trim(P, C, tonumber(ARGV[9]), 1000)
local key = P..'idx:'..C..':'..ARGV[3]
local ids
if ARGV[8] == '1' then
  ids = redis.call('ZRANGEBYSCORE', key, ARGV[4], ARGV[5], 'LIMIT', ARGV[6], ARGV[7])
else
  ids = redis.call('ZREVRANGEBYSCORE', key, ARGV[5], ARGV[4], 'LIMIT', ARGV[6], ARGV[7])
end
if #ids == 0 then return {} end
local keys = {}
for i, id in ipairs(ids) do keys[i] = P..C..':'..id end
return redis.call('MGET', unpack(keys))
