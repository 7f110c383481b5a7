
-- KEYS and ARGV[1..8] as `write` takes them; ARGV[9] the document key prefix (for trimming).
-- Returns nil when created, else {the stored body, its revision}.
trim(KEYS[2], KEYS[3], ARGV[9], ARGV[7], ARGV[5], 100)
local current = redis.call('GET', KEYS[1])
local entry = redis.call('HGET', KEYS[3], ARGV[1])
if current then return {current, tonumber((split_meta(entry or '0')))} end
if entry then
  -- Left by an expired document not yet trimmed, with its own creation time: unindex it first.
  local _, names = split_meta(entry)
  for name in string.gmatch(names, '[^\n]+') do redis.call('ZREM', ARGV[7]..name, ARGV[1]) end
end
write(nil)
return false
