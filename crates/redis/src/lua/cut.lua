
-- Settles a document: cuts its body at the last occurrence of a tail. KEYS: the document, the
-- meta hash. ARGV: id, the expected revision, the tail ('' for none). Returns 1 when written
-- (its body up to the last tail, closed with '}', at the next revision; its indexes and its
-- expiry untouched), 0 when the document is gone, else {the stored body, its revision}.
local current = redis.call('GET', KEYS[1])
if not current then return 0 end
local rev, names = split_meta(redis.call('HGET', KEYS[2], ARGV[1]) or '0')
if rev ~= ARGV[2] then return {current, tonumber(rev)} end
local tail, at = ARGV[3], nil
if tail ~= '' then
  local from = 1
  while true do
    local found = string.find(current, tail, from, true)
    if not found then break end
    at, from = found, found + 1
  end
end
if at then redis.call('SET', KEYS[1], string.sub(current, 1, at - 1)..'}', 'KEEPTTL') end
redis.call('HSET', KEYS[2], ARGV[1], (tonumber(rev) + 1)..'\n'..names)
return 1
