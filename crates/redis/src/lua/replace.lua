
-- KEYS[1] the document. ARGV: P, C, id, body (new revision spliced), created, ttl, now, names,
-- expected revision. Returns 1 when written, 0 when the document is gone, else the stored one.
-- (Expired documents are trimmed by inserts and lists; a replace has no need to.)
local P, C, id = ARGV[1], ARGV[2], ARGV[3]
local now = tonumber(ARGV[7])
local current = redis.call('GET', KEYS[1])
if not current then return 0 end
if rev_of(current) ~= tonumber(ARGV[9]) then return current end
write(P, C, id, ARGV[4], tonumber(ARGV[5]), tonumber(ARGV[6]), now, ARGV[8])
return 1
