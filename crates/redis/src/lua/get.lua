
-- KEYS: the document, the meta hash. ARGV: the id. Returns nil, or {the body, its revision}:
-- read together, so that a revision always belongs to the body it comes with.
local current = redis.call('GET', KEYS[1])
if not current then return false end
return {current, tonumber((split_meta(redis.call('HGET', KEYS[2], ARGV[1]) or '0')))}
