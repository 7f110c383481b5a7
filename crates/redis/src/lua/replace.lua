
-- KEYS and ARGV[1..8] as `write` takes them; ARGV[9] the expected revision. Returns 1 when
-- written, 0 when the document is gone, else {the stored body, its revision}. (Expired documents
-- are trimmed by inserts and lists; a replace has no need to.)
local current = redis.call('GET', KEYS[1])
if not current then return 0 end
local rev, names = split_meta(redis.call('HGET', KEYS[3], ARGV[1]) or '0')
if rev ~= ARGV[9] then return {current, tonumber(rev)} end
write(names)
return 1
