
-- KEYS and ARGV[1..7] as `write` takes them; ARGV[8] the document key prefix (for trimming).
-- Returns nil when created, else the stored document.
trim(KEYS[2], KEYS[3], ARGV[8], ARGV[7], ARGV[5], 100)
local current = redis.call('GET', KEYS[1])
if current then return current end
write(1, true)
return false
