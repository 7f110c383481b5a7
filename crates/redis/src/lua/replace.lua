
-- KEYS and ARGV[1..7] as `write` takes them; ARGV[8] the expected revision. Returns 1 when
-- written, 0 when the document is gone, else the stored one. (Expired documents are trimmed by
-- inserts and lists; a replace has no need to.)
local current = redis.call('GET', KEYS[1])
if not current then return 0 end
if rev_of(current) ~= tonumber(ARGV[8]) then return current end
write(1, false)
return 1
