-- Shared by the series scripts. For a metric name N under a prefix P, in the slot of the hash tag
-- {metrics:N}:
--   P{metrics:N}.sids   hash: series key (its labels, as the client writes them) -> n; the only
--                       place a series' labels are kept
--   P{metrics:N}.meta   hash: kind (the tipo its first sample pinned), retention (ms), max_points
--   P{metrics:N}.log    string: the name's newest samples, LOGGED bytes each (series n, timestamp
--                       in ms, value: three little-endian doubles), in arrival order; a batch is
--                       one APPEND to it. Once it holds LOG_POINTS, or before a query reads the
--                       name, it is folded into the series' strings and emptied
--   P{metrics:N}.p:n    string: the points of series n, POINT bytes each (the timestamp and the
--                       value, two little-endian doubles), in time order, equal timestamps in
--                       arrival order; it expires when no sample came for a retention
-- all made from the name's base key P{metrics:N} (same tag, same slot), and the registry, in the
-- slot of {metrics}: P{metrics}.kind (hash nome -> tipo, every name) and P{metrics}.exposed (hash:
-- a name an exposition uses -> the metric that uses it).
-- Writing a sample is packing it and one APPEND per batch: the work per series (finding its end,
-- appending, cutting, its expiry) is paid when the log is folded, once for all the samples of the
-- series that the log gathered.
-- A series' string may hold, at its head, points past max_points or the retention that no read
-- shows: they are cut once they are many (an eighth of the cap), so that a full series is not
-- rewritten at every fold. Reads start at the later of (count - max_points) and the first point
-- in the retention.
-- A name's samples are ARGV[from..to], PER values each: index in the batch, tipo, series key,
-- timestamp, value (as text).
local PER = 5
local POINT = 16
local LOGGED = 24
local LOG_POINTS = 2048

-- The timestamp of point i (from 0) of the series string `key`.
local function ts_at(key, i)
  return (struct.unpack('<d', redis.call('GETRANGE', key, i * POINT, i * POINT + 7)))
end

-- The first point in [lo, hi) whose timestamp is >= ms (or > ms when `after`).
local function bound(key, lo, hi, ms, after)
  while lo < hi do
    local mid = math.floor((lo + hi) / 2)
    local t = ts_at(key, mid)
    if t < ms or (after and t == ms) then lo = mid + 1 else hi = mid end
  end
  return lo
end

-- The first point a read shows: past the cap's excess and within the retention.
local function first_shown(key, count, max_points, horizon)
  local start = math.max(count - max_points, 0)
  if start < count and ts_at(key, start) < horizon then
    start = bound(key, start, count, horizon, false)
  end
  return start
end

-- Whether a name's samples fit: its kind, its series cap. Returns a rejection ({'type', index,
-- kind} or {'cap', index}) or nil; the kind the name is pinned to (false when none); and the
-- number of each series of the batch that already has one (series key -> n).
local function check_name(sids, meta, from, to, cap)
  local pinned = redis.call('HGET', meta, 'kind')
  local kind = pinned
  local keys, seen = {}, {}
  for i = from, to, PER do
    local tipo, series = ARGV[i + 1], ARGV[i + 2]
    kind = kind or tipo
    if tipo ~= kind then return {'type', tonumber(ARGV[i]), kind}, pinned, nil end
    if not seen[series] then
      seen[series] = true
      keys[#keys + 1] = series
    end
  end
  local known, count = {}, nil
  local numbers = redis.call('HMGET', sids, unpack(keys))
  for j, series in ipairs(keys) do
    if numbers[j] then known[series] = tonumber(numbers[j]) end
  end
  for i = from, to, PER do
    local series = ARGV[i + 2]
    if not known[series] and seen[series] then
      seen[series] = false
      count = count or redis.call('HLEN', sids)
      if count >= cap then return {'cap', tonumber(ARGV[i])}, pinned, nil end
      count = count + 1
    end
  end
  return nil, pinned, known
end

-- Orders points {ts, value, arrival} by time, equal timestamps in arrival order.
local function by_time(a, b)
  return a[1] < b[1] or (a[1] == b[1] and a[3] < b[3])
end

-- Writes one series' new points (each {ts, value, arrival}) into its string, in one write: they
-- are put in time order, and where the oldest is older than the string's last point, the
-- string's tail from there is merged with them (points already there first among equal
-- timestamps: they arrived earlier). Then the head nobody reads is cut if it is large.
local function write_points(key, points, now, retention, max_points)
  table.sort(points, by_time)
  local count = redis.call('STRLEN', key) / POINT
  local at = count
  if count > 0 and ts_at(key, count - 1) > points[1][1] then
    at = bound(key, 0, count, points[1][1], true)
  end
  local packed = {}
  if at < count then
    local tail = redis.call('GETRANGE', key, at * POINT, -1)
    local i, j = 1, 1
    local tail_ts = (struct.unpack('<d', tail, 1))
    while i <= #points or j <= #tail do
      if j <= #tail and (i > #points or tail_ts <= points[i][1]) then
        packed[#packed + 1] = string.sub(tail, j, j + POINT - 1)
        j = j + POINT
        if j <= #tail then tail_ts = (struct.unpack('<d', tail, j)) end
      else
        packed[#packed + 1] = struct.pack('<dd', points[i][1], points[i][2])
        i = i + 1
      end
    end
    redis.call('SETRANGE', key, at * POINT, table.concat(packed))
  else
    for i, p in ipairs(points) do packed[i] = struct.pack('<dd', p[1], p[2]) end
    redis.call('APPEND', key, table.concat(packed))
  end
  count = count + #points
  local dead = first_shown(key, count, max_points, now - retention)
  if dead >= count then
    redis.call('DEL', key)
    return
  end
  if dead >= math.max(16, math.floor(max_points / 8)) then
    redis.call('SET', key, redis.call('GETRANGE', key, dead * POINT, -1))
  end
  redis.call('PEXPIRE', key, retention)
end

-- Folds the log of the name at `base` into its series' strings, and empties it.
local function fold(base, now, retention, max_points)
  local log_key = base..'.log'
  local log = redis.call('GET', log_key)
  if not log then return end
  redis.call('DEL', log_key)
  if redis.call('EXISTS', base) == 1 then
    -- The sorted sets in which an earlier version kept the name's samples: this one does not
    -- read them, so they go.
    for _, n in ipairs(redis.call('HVALS', base..'.sids')) do redis.call('DEL', base..'.s:'..n) end
    redis.call('DEL', base)
  end
  local by_series, order = {}, {}
  for at = 1, #log, LOGGED do
    local n, ts, v = struct.unpack('<ddd', log, at)
    local points = by_series[n]
    if not points then
      points = {}
      by_series[n] = points
      order[#order + 1] = n
    end
    points[#points + 1] = {ts, v, at}
  end
  for _, n in ipairs(order) do
    write_points(string.format('%s.p:%d', base, n), by_series[n], now, retention, max_points)
  end
end

-- Writes a name's samples (checked; `known` as check_name found it) into its log, and folds the
-- log when it is full.
local function append_name(base, sids, meta, from, to, now, retention, max_points, known)
  if not redis.call('HGET', meta, 'kind') then redis.call('HSET', meta, 'kind', ARGV[from + 1]) end
  redis.call('HSET', meta, 'retention', retention, 'max_points', max_points)
  local packed, count = {}, nil
  for i = from, to, PER do
    local series = ARGV[i + 2]
    local n = known[series]
    if not n then
      count = count or redis.call('HLEN', sids)
      count = count + 1
      n = count
      redis.call('HSET', sids, series, n)
      known[series] = n
    end
    packed[#packed + 1] = struct.pack('<ddd', n, tonumber(ARGV[i + 3]), tonumber(ARGV[i + 4]))
  end
  local log_key = base..'.log'
  local size = redis.call('APPEND', log_key, table.concat(packed))
  redis.call('PEXPIRE', log_key, retention)
  if size >= LOG_POINTS * LOGGED then fold(base, now, retention, max_points) end
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
