
-- KEYS[1] the document. ARGV: P, C, id, body (revision 1 spliced), created, ttl, now, names.
-- Returns nil when created, else the stored document.
local P, C, id = ARGV[1], ARGV[2], ARGV[3]
local now = tonumber(ARGV[7])
trim(P, C, now, 100)
local current = redis.call('GET', KEYS[1])
if current then return current end
write(P, C, id, ARGV[4], tonumber(ARGV[5]), tonumber(ARGV[6]), now, ARGV[8])
return false
