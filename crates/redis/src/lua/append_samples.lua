-- Appends a batch of samples, all or none. Keys, for a prefix P:
--   P..'metrics:'..nome          sorted set of "seq|json" scored by timestamp (ms)
--   P..'metrics.kind'            hash nome -> tipo of its first sample
--   P..'metrics.series:'..nome   set of its label sets
--   P..'metrics.retention'       hash nome -> retention (ms), for trimming on read
--   P..'metrics.seq'             counter making every member unique
-- ('.' cannot appear in a metric name, so no name collides with them.)
-- ARGV: P, now, retention, cap, n, then n times: nome, tipo, series key, timestamp, json.
-- Returns {'ok'}, {'type', index, pinned tipo} or {'cap', index}.
local P = ARGV[1]
local now, retention, cap, n = tonumber(ARGV[2]), tonumber(ARGV[3]), tonumber(ARGV[4]), tonumber(ARGV[5])
local kinds, fresh, counts = {}, {}, {}
for i = 0, n - 1 do
  local base = 6 + i * 5
  local nome, tipo, series = ARGV[base], ARGV[base + 1], ARGV[base + 2]
  local pinned = kinds[nome] or redis.call('HGET', P..'metrics.kind', nome)
  if pinned and pinned ~= tipo then return {'type', i, pinned} end
  kinds[nome] = pinned or tipo
  local key = nome..'\n'..series
  if not fresh[key] and redis.call('SISMEMBER', P..'metrics.series:'..nome, series) == 0 then
    counts[nome] = counts[nome] or redis.call('SCARD', P..'metrics.series:'..nome)
    if counts[nome] >= cap then return {'cap', i} end
    counts[nome] = counts[nome] + 1
    fresh[key] = true
  end
end
local touched = {}
for i = 0, n - 1 do
  local base = 6 + i * 5
  local nome = ARGV[base]
  redis.call('HSETNX', P..'metrics.kind', nome, ARGV[base + 1])
  redis.call('SADD', P..'metrics.series:'..nome, ARGV[base + 2])
  local seq = redis.call('INCR', P..'metrics.seq')
  redis.call('ZADD', P..'metrics:'..nome, ARGV[base + 3], seq..'|'..ARGV[base + 4])
  touched[nome] = true
end
for nome in pairs(touched) do
  redis.call('ZREMRANGEBYSCORE', P..'metrics:'..nome, '-inf', '('..(now - retention))
  redis.call('HSET', P..'metrics.retention', nome, retention)
end
return {'ok'}
