-- ARGV: P, nome ('' for every name), tipo ('' for any), from, to, limit, now.
-- Returns up to `limit` "seq|json" members of each matching name, within the range and the
-- name's retention; the caller merges them in time order.
local P = ARGV[1]
local from, to, limit, now = ARGV[4], ARGV[5], ARGV[6], tonumber(ARGV[7])
local names
if ARGV[2] ~= '' then names = {ARGV[2]} else names = redis.call('HKEYS', P..'metrics.kind') end
local out = {}
for _, nome in ipairs(names) do
  local kind = redis.call('HGET', P..'metrics.kind', nome)
  if kind and (ARGV[3] == '' or ARGV[3] == kind) then
    local key = P..'metrics:'..nome
    local retention = tonumber(redis.call('HGET', P..'metrics.retention', nome))
    if retention then redis.call('ZREMRANGEBYSCORE', key, '-inf', '('..(now - retention)) end
    local members = redis.call('ZRANGEBYSCORE', key, from, to, 'LIMIT', 0, limit)
    for _, m in ipairs(members) do out[#out + 1] = m end
  end
end
return out
