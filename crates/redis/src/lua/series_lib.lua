-- Shared by the series scripts. For a metric name N under a prefix P, in the slot of the hash tag
-- {metrics:N}:
--   P{metrics:N}.sids   hash: series key (its labels, as the client writes them) -> n; the only
--                       place a series' labels are kept
--   P{metrics:N}.meta   hash: kind (the tipo its first sample pinned), retention (ms), max_points
--   P{metrics:N}.p:n    string: the points of series n, POINT bytes each (the timestamp in ms and
--                       the value, two little-endian doubles), in time order, equal timestamps in
--                       arrival order; it expires when no sample came for a retention; made from
--                       the name's base key P{metrics:N} (same tag, same slot)
-- and the registry, in the slot of {metrics}: P{metrics}.kind (hash nome -> tipo, every name)
-- and P{metrics}.exposed (hash: a name an exposition uses -> the metric that uses it).
-- A series' string may hold, at its head, points past max_points or the retention that no read
-- shows: they are cut once they are many (SLACK), so that a full series is not rewritten at every
-- sample. Reads start at the later of (count - max_points) and the first point in the retention.
-- A name's samples are ARGV[from..to], PER values each: index in the batch, tipo, series key,
-- timestamp, value (as text).
local PER = 5
local POINT = 16

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

-- Writes one series' new points (in arrival order) into its string: in-order points are appended
-- together, an older one is put in its place; then the head nobody reads is cut if it is large.
local function write_points(key, points, now, retention, max_points)
  local count = redis.call('STRLEN', key) / POINT
  local last = count > 0 and ts_at(key, count - 1) or nil
  local run = {}
  for _, p in ipairs(points) do
    local ts = p[1]
    local packed = struct.pack('<dd', ts, p[2])
    if not last or ts >= last then
      run[#run + 1] = packed
      last = ts
    else
      if #run > 0 then
        redis.call('APPEND', key, table.concat(run))
        count, run = count + #run, {}
      end
      local at = bound(key, 0, count, ts, true)
      redis.call('SETRANGE', key, at * POINT, packed..redis.call('GETRANGE', key, at * POINT, -1))
      count = count + 1
    end
  end
  if #run > 0 then
    redis.call('APPEND', key, table.concat(run))
    count = count + #run
  end
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

-- Writes a name's samples (checked), series by series.
local function append_name(base, sids, meta, from, to, now, retention, max_points)
  if not redis.call('HGET', meta, 'kind') then redis.call('HSET', meta, 'kind', ARGV[from + 1]) end
  if redis.call('EXISTS', base) == 1 then
    -- The sorted sets in which an earlier version kept the name's samples: this one does not
    -- read them, so they go.
    for _, n in ipairs(redis.call('HVALS', sids)) do redis.call('DEL', base..'.s:'..n) end
    redis.call('DEL', base)
  end
  redis.call('HSET', meta, 'retention', retention, 'max_points', max_points)
  local by_series, order = {}, {}
  for i = from, to, PER do
    local series = ARGV[i + 2]
    local points = by_series[series]
    if not points then
      points = {}
      by_series[series] = points
      order[#order + 1] = series
    end
    points[#points + 1] = {tonumber(ARGV[i + 3]), tonumber(ARGV[i + 4])}
  end
  for _, series in ipairs(order) do
    local sid = redis.call('HGET', sids, series)
    if not sid then
      sid = redis.call('HLEN', sids) + 1
      redis.call('HSET', sids, series, sid)
    end
    write_points(base..'.p:'..sid, by_series[series], now, retention, max_points)
  end
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
