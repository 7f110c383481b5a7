-- The samples of one metric name N, merged across its series in time order (ties by series
-- number, then arrival). KEYS (slot of the hash tag {metrics:N}): P{metrics:N} (the base of its
-- series' keys), P{metrics:N}.sids, P{metrics:N}.meta, as series_append.lua keeps them; the
-- name's log is folded first. ARGV:
-- tipo ('' for any), from, to ('' for open), limit, now. Returns {} for a name with no samples or
-- of another tipo, else {its tipo, points, then for each series that has a point in them: its key
-- and its n}, where points is a string of 24 bytes a point
-- (series n, timestamp ms, value: three little-endian doubles), up to `limit` of them. Reads
-- BLOCK points of a series at a time, so that a query costs about its limit, not the points held.
local BLOCK = 64
local kind = redis.call('HGET', KEYS[3], 'kind')
if not kind or (ARGV[1] ~= '' and ARGV[1] ~= kind) then return {} end
local meta = redis.call('HMGET', KEYS[3], 'retention', 'max_points')
local horizon = tonumber(ARGV[5]) - (tonumber(meta[1]) or tonumber(ARGV[5]))
local max_points = tonumber(meta[2]) or math.huge
if meta[1] then fold(KEYS[1], tonumber(ARGV[5]), tonumber(meta[1]), max_points) end
local from = math.max(tonumber(ARGV[2]) or horizon, horizon)
local to, limit = tonumber(ARGV[3]), tonumber(ARGV[4])

-- One cursor per series with points in the range: its next point's timestamp, its n, where it
-- is, where its range ends, and the block read ahead.
local heap, names = {}, {}
local sids = redis.call('HGETALL', KEYS[2])
for i = 1, #sids, 2 do
  local key, n = KEYS[1]..'.p:'..sids[i + 1], tonumber(sids[i + 1])
  local count = redis.call('STRLEN', key) / POINT
  local start = first_shown(key, count, max_points, from)
  local stop = to and bound(key, start, count, to, true) or count
  if start < stop then
    names[n] = sids[i]
    heap[#heap + 1] = {ts = ts_at(key, start), n = n, key = key, at = start, stop = stop,
      block = '', block_at = start}
  end
end

local function before(a, b) return a.ts < b.ts or (a.ts == b.ts and a.n < b.n) end
local function sift_down(i)
  local size = #heap
  while true do
    local l, r, m = 2 * i, 2 * i + 1, i
    if l <= size and before(heap[l], heap[m]) then m = l end
    if r <= size and before(heap[r], heap[m]) then m = r end
    if m == i then return end
    heap[i], heap[m] = heap[m], heap[i]
    i = m
  end
end
for i = math.floor(#heap / 2), 1, -1 do sift_down(i) end

-- The value of a cursor's current point, reading its next block when needed.
local function value(c)
  local offset = c.at - c.block_at
  if offset * POINT >= #c.block then
    local upto = math.min(c.at + BLOCK, c.stop)
    c.block = redis.call('GETRANGE', c.key, c.at * POINT, upto * POINT - 1)
    c.block_at, offset = c.at, 0
  end
  local ts, v = struct.unpack('<dd', c.block, offset * POINT + 1)
  return ts, v
end

local out, shown = {}, {}
while #heap > 0 and #out < limit do
  local c = heap[1]
  local ts, v = value(c)
  out[#out + 1] = struct.pack('<ddd', c.n, ts, v)
  shown[c.n] = true
  c.at = c.at + 1
  if c.at < c.stop then
    c.ts = value(c)
  else
    heap[1] = heap[#heap]
    heap[#heap] = nil
  end
  sift_down(1)
end
local reply = {kind, table.concat(out)}
for n in pairs(shown) do
  reply[#reply + 1] = names[n]
  reply[#reply + 1] = n
end
return reply
