-- Checks, then appends, the samples of one metric name N, all or none. KEYS, for a prefix P, all
-- in the slot of the hash tag {metrics:N}:
--   KEYS[1] P{metrics:N}        sorted set of "seq|json" scored by timestamp (ms): the name's
--                               samples, every series together, for queries
--   KEYS[2] P{metrics:N}.sids   hash series key (its labels) -> n
--   KEYS[3] P{metrics:N}.meta   hash: kind (the tipo its first sample pinned), retention (ms),
--                               seq (the counter making every member unique)
--   and, made here from KEYS[1] (same tag, same slot): KEYS[1]..'.s:'..n, sorted set of seq
--   scored by timestamp: series n of the name, to keep its newest max_points samples.
-- ARGV: mode ('check' writes nothing, 'append'), registered ('1' when the name is known to be in
-- the store-wide registry), now, retention, max series, max points per series, then for each
-- sample: its index in the batch, tipo, series key, timestamp, json.
-- Returns {'ok'}, {'type', index, pinned tipo}, {'cap', index} or {'unregistered'} (nothing
-- written: the name must be registered first, see series_register.lua).
local mode, registered = ARGV[1], ARGV[2] == '1'
local now, retention = tonumber(ARGV[3]), tonumber(ARGV[4])
local cap, max_points = tonumber(ARGV[5]), tonumber(ARGV[6])
local FIRST, PER = 7, 5
local pinned = redis.call('HGET', KEYS[3], 'kind')
local kind = pinned
local count, fresh = nil, {}
for i = FIRST, #ARGV, PER do
  local tipo, series = ARGV[i + 1], ARGV[i + 2]
  kind = kind or tipo
  if tipo ~= kind then return {'type', tonumber(ARGV[i]), kind} end
  if not fresh[series] and redis.call('HEXISTS', KEYS[2], series) == 0 then
    count = count or redis.call('HLEN', KEYS[2])
    if count >= cap then return {'cap', tonumber(ARGV[i])} end
    count = count + 1
    fresh[series] = true
  end
end
if not pinned and not registered then return {'unregistered'} end
if mode == 'check' then return {'ok'} end
if not pinned then redis.call('HSET', KEYS[3], 'kind', kind) end
redis.call('HSET', KEYS[3], 'retention', retention)
local touched = {}
for i = FIRST, #ARGV, PER do
  local series, ts = ARGV[i + 2], ARGV[i + 3]
  local sid = redis.call('HGET', KEYS[2], series)
  if not sid then
    sid = redis.call('HLEN', KEYS[2]) + 1
    redis.call('HSET', KEYS[2], series, sid)
  end
  local one = KEYS[1]..'.s:'..sid
  local seq = redis.call('HINCRBY', KEYS[3], 'seq', 1)
  redis.call('ZADD', KEYS[1], ts, seq..'|'..ARGV[i + 4])
  redis.call('ZADD', one, ts, seq)
  local excess = redis.call('ZCARD', one) - max_points
  if excess > 0 then
    -- The series' oldest samples leave both sets; in the name's set, each is found by its
    -- timestamp and its sequence number.
    local old = redis.call('ZRANGE', one, 0, excess - 1, 'WITHSCORES')
    for j = 1, #old, 2 do
      local prefix = old[j]..'|'
      for _, member in ipairs(redis.call('ZRANGEBYSCORE', KEYS[1], old[j + 1], old[j + 1])) do
        if string.sub(member, 1, #prefix) == prefix then
          redis.call('ZREM', KEYS[1], member)
          break
        end
      end
    end
    redis.call('ZREMRANGEBYRANK', one, 0, excess - 1)
  end
  touched[one] = true
end
local horizon = '('..(now - retention)
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', horizon)
for one in pairs(touched) do redis.call('ZREMRANGEBYSCORE', one, '-inf', horizon) end
return {'ok'}
