-- Appends a batch of samples of series the client already saw registered (the fast path of
-- series.rs): no check, for none is due, only each name's record appended to its log (the same
-- record append_name writes: k, the k series numbers, the count m, then the m points, every
-- number a little-endian double before the points) and the log folded when full. KEYS: for each
-- name, P{metrics:N} and P{metrics:N}.meta. ARGV: now, retention, max points per series, then
-- for each name the gen its numbers were seen under and its record. Returns {'ok'}, or
-- {'stale'} with nothing written when a name's meta no longer has that gen (Redis flushed or
-- restarted empty, then the name made again or not): the client then forgets what it saw and
-- takes the checked path.
local now, retention, max_points = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3])
for i = 2, #KEYS, 2 do
  if redis.call('HGET', KEYS[i], 'gen') ~= ARGV[3 + i - 1] then return {'stale'} end
end
for i = 1, #KEYS, 2 do
  local size = redis.call('APPEND', KEYS[i]..'.log', ARGV[3 + i + 1])
  if size >= LOG_POINTS * SENT then fold(KEYS[i], now, retention, max_points) end
end
return {'ok'}
