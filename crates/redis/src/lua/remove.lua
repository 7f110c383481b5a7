
-- Removes a document. KEYS: the document, the expiry set, the meta hash. ARGV: id, the index key
-- prefix. Returns 1 when there was one, else 0.
local existed = redis.call('DEL', KEYS[1])
local entry = redis.call('HGET', KEYS[3], ARGV[1])
if entry then
  local _, names = split_meta(entry)
  for name in string.gmatch(names, '[^\n]+') do redis.call('ZREM', ARGV[2]..name, ARGV[1]) end
  redis.call('HDEL', KEYS[3], ARGV[1])
end
redis.call('ZREM', KEYS[2], ARGV[1])
return existed
