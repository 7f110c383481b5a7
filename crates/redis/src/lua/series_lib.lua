-- Shared by the series scripts. For a metric name N under a prefix P, in the slot of the hash tag
-- {metrics:N}:
--   P{metrics:N}.sids   hash: series key (its labels, as the client writes them) -> n; the only
--                       place a series' labels are kept
--   P{metrics:N}.meta   hash: kind (the tipo its first sample pinned), retention (ms), max_points,
--                       gen (the server time when it was made: a client that saw the name's
--                       series numbers under one gen knows them while it holds)
--   P{metrics:N}.log    string: the name's newest samples, in arrival order, batch by batch:
--                       the batch's k series numbers (k, then k doubles), its count m (a double),
--                       then its m points as the client packed them (SENT bytes each); a batch
--                       is one APPEND. Once it holds about LOG_POINTS, or before a query reads
--                       the name, it is folded into the series' strings and emptied; it has no
--                       expiry of its own (it holds at most about LOG_POINTS samples)
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
-- A name's samples come as a group of ARGV values (see `read_group`): their tipo, the distinct
-- series they belong to, and the points packed by the client, SENT bytes each (the series'
-- place in the group, u16; timestamp ms and value, two doubles; little-endian), which a batch
-- appends to the log as they are, behind a header naming the group's series: no script work per
-- sample until the fold.
local POINT = 16
local SENT = 18
local LOG_POINTS = 4096
-- A series' head past its cap or retention is looked for once every CUT_CHECK points written.
local CUT_CHECK = 64

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

-- The group of a name's samples at ARGV[from]: tipo (the first sample's), the index in the batch
-- of the first sample, of the first sample of another tipo (-1 when none), the number k of
-- distinct series, the packed points (empty in a check), then k pairs: series key, the index of
-- its first sample, in the order of first appearance. `next` is where the values after it start.
local function read_group(from)
  local k = tonumber(ARGV[from + 3])
  local group = {tipo = ARGV[from], first = tonumber(ARGV[from + 1]),
    mismatch = tonumber(ARGV[from + 2]), blob = ARGV[from + 4], keys = {}, firsts = {},
    next = from + 5 + 2 * k}
  for j = 1, k do
    group.keys[j] = ARGV[from + 3 + 2 * j]
    group.firsts[j] = tonumber(ARGV[from + 4 + 2 * j])
  end
  return group
end

-- Whether a name's samples fit: its kind, its series cap. Returns the rejection of the first
-- refused sample ({'type', index, kind} or {'cap', index}) or nil; the kind the name is pinned to
-- (false when none); and the number n of each of the group's series that has one (by place).
local function check_name(sids, meta, group, cap)
  local stored = redis.call('HMGET', meta, 'kind', 'retention', 'max_points', 'gen')
  local pinned = stored[1]
  group.stored = stored
  local rejection
  if pinned and pinned ~= group.tipo then
    rejection = {'type', group.first, pinned}
  elseif group.mismatch >= 0 then
    rejection = {'type', group.mismatch, group.tipo}
  end
  local numbers = redis.call('HMGET', sids, unpack(group.keys))
  local count
  for j = 1, #group.keys do
    if not numbers[j] then
      count = count or redis.call('HLEN', sids)
      if count >= cap then
        if not rejection or group.firsts[j] < rejection[2] then
          rejection = {'cap', group.firsts[j]}
        end
        break
      end
      count = count + 1
    end
  end
  return rejection, pinned, numbers
end

-- Writes one series' new points into its string, in one write. `ts` holds their timestamps and
-- `packed` the points themselves (POINT bytes each), both in arrival order; they are put in time
-- order (a stable insertion sort: the points of a batch come in order, and batches nearly so),
-- and where the oldest is older than the string's last point, the string's tail from there is
-- merged with them (points already there first among equal timestamps: they arrived earlier).
-- The common case, points newer than the string's last, is three calls: its last timestamp,
-- the APPEND (which tells the new length) and the expiry. The head nobody reads is looked for
-- only when the count crosses a multiple of CUT_CHECK, and cut if it is large: a series holds
-- at most CUT_CHECK points more than its cap and retention would have it hold.
local function write_points(key, ts, packed, now, retention, max_points)
  for i = 2, #ts do
    local t, p, j = ts[i], packed[i], i - 1
    while j >= 1 and ts[j] > t do
      ts[j + 1], packed[j + 1] = ts[j], packed[j]
      j = j - 1
    end
    ts[j + 1], packed[j + 1] = t, p
  end
  local last = redis.call('GETRANGE', key, -POINT, -POINT + 7)
  local count
  if last ~= '' and struct.unpack('<d', last) > ts[1] then
    count = redis.call('STRLEN', key) / POINT
    local at = bound(key, 0, count, ts[1], true)
    local tail = redis.call('GETRANGE', key, at * POINT, -1)
    local merged, i, j = {}, 1, 1
    local tail_ts = (struct.unpack('<d', tail, 1))
    while i <= #ts or j <= #tail do
      if j <= #tail and (i > #ts or tail_ts <= ts[i]) then
        merged[#merged + 1] = string.sub(tail, j, j + POINT - 1)
        j = j + POINT
        if j <= #tail then tail_ts = (struct.unpack('<d', tail, j)) end
      else
        merged[#merged + 1] = packed[i]
        i = i + 1
      end
    end
    redis.call('SETRANGE', key, at * POINT, table.concat(merged))
    count = count + #ts
  else
    count = redis.call('APPEND', key, table.concat(packed)) / POINT
  end
  if math.floor(count / CUT_CHECK) ~= math.floor((count - #ts) / CUT_CHECK) then
    local dead = first_shown(key, count, max_points, now - retention)
    if dead >= count then
      redis.call('DEL', key)
      return
    end
    if dead >= math.max(16, math.floor(max_points / 8)) then
      redis.call('SET', key, redis.call('GETRANGE', key, dead * POINT, -1))
    end
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
  -- The log is a sequence of batches: k, k series numbers, the count m, then m points, each the
  -- series' place (2 bytes) and the point as a series string holds it (POINT bytes).
  local times, points, order = {}, {}, {}
  local at = 1
  while at <= #log do
    local k, m
    k, at = struct.unpack('<d', log, at)
    local numbers = {}
    for j = 1, k do numbers[j], at = struct.unpack('<d', log, at) end
    m, at = struct.unpack('<d', log, at)
    for _ = 1, m do
      local place, ts = struct.unpack('<Hd', log, at)
      local n = numbers[place + 1]
      local ts_of = times[n]
      if not ts_of then
        ts_of = {}
        times[n], points[n] = ts_of, {}
        order[#order + 1] = n
      end
      ts_of[#ts_of + 1] = ts
      points[n][#ts_of] = string.sub(log, at + 2, at + SENT - 1)
      at = at + SENT
    end
  end
  for _, n in ipairs(order) do
    write_points(string.format('%s.p:%d', base, n), times[n], points[n], now, retention,
      max_points)
  end
end

-- Writes a name's samples (checked: `numbers` and the group's stored meta as check_name found
-- them) into its log, and folds the log when it is full; returns the name's gen then the number
-- of each of the group's series, by place (the client keeps them for series_log.lua). The log has no expiry of its own: it is
-- folded when full or read, and holds at most about LOG_POINTS samples of the name.
local function append_name(base, sids, meta, group, now, retention, max_points, numbers)
  local stored = group.stored
  if not stored[1] then redis.call('HSET', meta, 'kind', group.tipo) end
  local gen = stored[4]
  if not gen then
    local time = redis.call('TIME')
    gen = time[1]..'.'..time[2]
    redis.call('HSET', meta, 'gen', gen)
  end
  if tonumber(stored[2]) ~= retention or tonumber(stored[3]) ~= max_points then
    redis.call('HSET', meta, 'retention', retention, 'max_points', max_points)
  end
  local header, count, assigned = {struct.pack('<d', #group.keys)}, nil, {gen}
  for j = 1, #group.keys do
    local n = tonumber(numbers[j])
    if not n then
      count = (count or redis.call('HLEN', sids)) + 1
      n = count
      redis.call('HSET', sids, group.keys[j], n)
    end
    header[j + 1] = struct.pack('<d', n)
    assigned[j + 1] = n
  end
  header[#header + 1] = struct.pack('<d', #group.blob / SENT)
  local size = redis.call('APPEND', base..'.log', table.concat(header)..group.blob)
  if size >= LOG_POINTS * SENT then fold(base, now, retention, max_points) end
  return assigned
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
