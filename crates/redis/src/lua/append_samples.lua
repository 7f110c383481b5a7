-- Appends a batch of samples, all or none. Keys, for a prefix P:
--   P..'metrics:'..nome            sorted set of "seq|json" scored by timestamp (ms): the name's
--                                  samples, every series together, for queries
--   P..'metrics.s:'..nome..':'..n  sorted set of seq scored by timestamp: series n of the name,
--                                  to keep its newest max_points samples
--   P..'metrics.sids:'..nome       hash series key (its labels) -> n
--   P..'metrics.kind'              hash nome -> tipo of its first sample
--   P..'metrics.exposed'           hash name an exposition uses -> the metric that uses it
--   P..'metrics.retention'         hash nome -> retention (ms), for trimming on read
--   P..'metrics.seq'               counter making every member unique
-- ('.' cannot appear in a metric name, so no name collides with them.)
-- ARGV: P, now, retention, max series per name, n, max names, max points per series, then n
-- times: nome, tipo, series key, timestamp, json, the names its exposition uses ("\n"-joined).
-- Returns {'ok'}, {'type', index, pinned tipo}, {'cap', index}, {'names', index} or
-- {'collision', index, the metric it collides with}.
local P = ARGV[1]
local now, retention, cap, n = tonumber(ARGV[2]), tonumber(ARGV[3]), tonumber(ARGV[4]), tonumber(ARGV[5])
local max_names, max_points = tonumber(ARGV[6]), tonumber(ARGV[7])
local FIRST, PER = 8, 6
local kinds, fresh, counts, exposed = {}, {}, {}, {}
local names
for i = 0, n - 1 do
  local base = FIRST + i * PER
  local nome, tipo, series = ARGV[base], ARGV[base + 1], ARGV[base + 2]
  local pinned = kinds[nome] or redis.call('HGET', P..'metrics.kind', nome)
  if pinned and pinned ~= tipo then return {'type', i, pinned} end
  if not pinned then
    names = names or redis.call('HLEN', P..'metrics.kind')
    if names >= max_names then return {'names', i} end
    names = names + 1
    for used in string.gmatch(ARGV[base + 5], '[^\n]+') do
      local owner = exposed[used] or redis.call('HGET', P..'metrics.exposed', used)
      if owner and owner ~= nome then return {'collision', i, owner} end
      exposed[used] = nome
    end
  end
  kinds[nome] = pinned or tipo
  local key = nome..'\n'..series
  if not fresh[key] and redis.call('HEXISTS', P..'metrics.sids:'..nome, series) == 0 then
    counts[nome] = counts[nome] or redis.call('HLEN', P..'metrics.sids:'..nome)
    if counts[nome] >= cap then return {'cap', i} end
    counts[nome] = counts[nome] + 1
    fresh[key] = true
  end
end
for used, nome in pairs(exposed) do redis.call('HSET', P..'metrics.exposed', used, nome) end
local touched, touched_series = {}, {}
for i = 0, n - 1 do
  local base = FIRST + i * PER
  local nome, series, ts = ARGV[base], ARGV[base + 2], ARGV[base + 3]
  local all = P..'metrics:'..nome
  redis.call('HSETNX', P..'metrics.kind', nome, ARGV[base + 1])
  local sids = P..'metrics.sids:'..nome
  local sid = redis.call('HGET', sids, series)
  if not sid then
    sid = redis.call('HLEN', sids) + 1
    redis.call('HSET', sids, series, sid)
  end
  local one = P..'metrics.s:'..nome..':'..sid
  local seq = redis.call('INCR', P..'metrics.seq')
  redis.call('ZADD', all, ts, seq..'|'..ARGV[base + 4])
  redis.call('ZADD', one, ts, seq)
  local excess = redis.call('ZCARD', one) - max_points
  if excess > 0 then
    -- The series' oldest samples leave both sets; in the name's set, each is found by its
    -- timestamp and its sequence number.
    local old = redis.call('ZRANGE', one, 0, excess - 1, 'WITHSCORES')
    for j = 1, #old, 2 do
      local prefix = old[j]..'|'
      for _, member in ipairs(redis.call('ZRANGEBYSCORE', all, old[j + 1], old[j + 1])) do
        if string.sub(member, 1, #prefix) == prefix then
          redis.call('ZREM', all, member)
          break
        end
      end
    end
    redis.call('ZREMRANGEBYRANK', one, 0, excess - 1)
  end
  touched[nome] = true
  touched_series[one] = true
end
local horizon = '('..(now - retention)
for nome in pairs(touched) do
  redis.call('ZREMRANGEBYSCORE', P..'metrics:'..nome, '-inf', horizon)
  redis.call('HSET', P..'metrics.retention', nome, retention)
end
for one in pairs(touched_series) do redis.call('ZREMRANGEBYSCORE', one, '-inf', horizon) end
return {'ok'}
