-- Shared by the series scripts. For a metric name N under a prefix P, in the slot of the hash tag
-- {metrics:N}:
--   P{metrics:N}        sorted set of "seq|json" scored by timestamp (ms): the name's samples,
--                       every series together, for queries
--   P{metrics:N}.sids   hash series key (its labels) -> n
--   P{metrics:N}.meta   hash: kind (the tipo its first sample pinned), retention (ms), seq (the
--                       counter making every member unique)
--   P{metrics:N}.s:n    sorted set of seq scored by timestamp: series n of the name, to keep its
--                       newest max_points samples; made from the first key (same tag, same slot)
-- and the registry, in the slot of {metrics}: P{metrics}.kind (hash nome -> tipo, every name)
-- and P{metrics}.exposed (hash: a name an exposition uses -> the metric that uses it).
-- A name's samples are ARGV[from..to], PER values each: index in the batch, tipo, series key,
-- timestamp, json.
local PER = 5

-- Whether a name's samples fit: its kind, its series cap. Returns a rejection ({'type', index,
-- kind} or {'cap', index}) or nil, and the kind the name is pinned to (false when none).
local function check_name(sids, meta, from, to, cap)
  local pinned = redis.call('HGET', meta, 'kind')
  local kind = pinned
  local count, fresh = nil, {}
  for i = from, to, PER do
    local tipo, series = ARGV[i + 1], ARGV[i + 2]
    kind = kind or tipo
    if tipo ~= kind then return {'type', tonumber(ARGV[i]), kind}, pinned end
    if not fresh[series] and redis.call('HEXISTS', sids, series) == 0 then
      count = count or redis.call('HLEN', sids)
      if count >= cap then return {'cap', tonumber(ARGV[i])}, pinned end
      count = count + 1
      fresh[series] = true
    end
  end
  return nil, pinned
end

-- Writes a name's samples (checked) and trims what they push past max_points or the retention.
local function append_name(all, sids, meta, from, to, now, retention, max_points)
  if not redis.call('HGET', meta, 'kind') then redis.call('HSET', meta, 'kind', ARGV[from + 1]) end
  redis.call('HSET', meta, 'retention', retention)
  local touched = {}
  for i = from, to, PER do
    local series, ts = ARGV[i + 2], ARGV[i + 3]
    local sid = redis.call('HGET', sids, series)
    if not sid then
      sid = redis.call('HLEN', sids) + 1
      redis.call('HSET', sids, series, sid)
    end
    local one = all..'.s:'..sid
    local seq = redis.call('HINCRBY', meta, 'seq', 1)
    redis.call('ZADD', all, ts, seq..'|'..ARGV[i + 4])
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
    touched[one] = true
  end
  local horizon = '('..(now - retention)
  redis.call('ZREMRANGEBYSCORE', all, '-inf', horizon)
  for one in pairs(touched) do redis.call('ZREMRANGEBYSCORE', one, '-inf', horizon) end
end

-- Registers names, all or none: `names` is a list of {nome, tipo, index of its first sample, the
-- names its exposition uses ("\n"-joined)}. Returns a rejection ({'type', index, pinned},
-- {'names', index}, {'collision', index, owner}) or nil.
local function register(kinds, exposed_key, max_names, names)
  local count
  local exposed, new = {}, {}
  for _, n in ipairs(names) do
    local nome, tipo, index = n[1], n[2], tonumber(n[3])
    local pinned = redis.call('HGET', kinds, nome)
    if pinned then
      if pinned ~= tipo then return {'type', index, pinned} end
    else
      count = count or redis.call('HLEN', kinds)
      if count >= max_names then return {'names', index} end
      count = count + 1
      for used in string.gmatch(n[4], '[^\n]+') do
        local owner = exposed[used] or redis.call('HGET', exposed_key, used)
        if owner and owner ~= nome then return {'collision', index, owner} end
        exposed[used] = nome
      end
      new[#new + 1] = nome
      new[#new + 1] = tipo
    end
  end
  for used, nome in pairs(exposed) do redis.call('HSET', exposed_key, used, nome) end
  if #new > 0 then redis.call('HSET', kinds, unpack(new)) end
  return nil
end

