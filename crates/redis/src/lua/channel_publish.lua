-- Appends publications to a channel, at the next offsets. KEYS: the meta hash, the stream.
-- ARGV: a new epoca (used when the channel has no history), the time (ms), history_size,
-- history_ttl (ms), then each publication's data. Returns {epoca, the first offset given}.
local n = #ARGV - 4
local epoca = begin(KEYS[1], KEYS[2], ARGV[1], ARGV[4])
local last = redis.call('HINCRBY', KEYS[1], 'offset', n)
local first = last - n + 1
for i = 1, n do
  redis.call('XADD', KEYS[2], 'MAXLEN', '~', ARGV[3], (first + i - 1)..'-0', 't', ARGV[2], 'd', ARGV[4 + i])
end
redis.call('PEXPIRE', KEYS[1], ARGV[4])
redis.call('PEXPIRE', KEYS[2], ARGV[4])
return {epoca, first}
