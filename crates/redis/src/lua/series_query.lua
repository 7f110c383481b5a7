-- The samples of one metric name N. KEYS (slot of the hash tag {metrics:N}): P{metrics:N},
-- P{metrics:N}.meta, as series_append.lua keeps them. ARGV: tipo ('' for any), from, to, limit,
-- now. Returns up to `limit` "seq|json" members within the range and the name's retention; the
-- caller merges the names of a query in time order.
local kind = redis.call('HGET', KEYS[2], 'kind')
if not kind or (ARGV[1] ~= '' and ARGV[1] ~= kind) then return {} end
local retention = tonumber(redis.call('HGET', KEYS[2], 'retention'))
if retention then
  redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', '('..(tonumber(ARGV[5]) - retention))
end
return redis.call('ZRANGEBYSCORE', KEYS[1], ARGV[2], ARGV[3], 'LIMIT', 0, ARGV[4])
