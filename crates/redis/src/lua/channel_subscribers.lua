-- Subscriber counts of a channel. KEYS: its hash instance -> 'count:expiry (ms)'. ARGV: 'put',
-- now, the instance, its count, ttl (ms) (a count of 0 forgets it); or 'count', now. Returns the
-- subscribers of the live instances ('count'), forgetting the instances gone.
local now = tonumber(ARGV[2])
if ARGV[1] == 'put' then
  if tonumber(ARGV[4]) == 0 then
    redis.call('HDEL', KEYS[1], ARGV[3])
  else
    redis.call('HSET', KEYS[1], ARGV[3], ARGV[4]..':'..(now + tonumber(ARGV[5])))
    if redis.call('PTTL', KEYS[1]) < tonumber(ARGV[5]) then redis.call('PEXPIRE', KEYS[1], ARGV[5]) end
  end
  return 0
end
local total, all = 0, redis.call('HGETALL', KEYS[1])
for i = 1, #all, 2 do
  local count, expires = string.match(all[i + 1], '^(%d+):(%d+)$')
  if count and tonumber(expires) > now then
    total = total + tonumber(count)
  else
    redis.call('HDEL', KEYS[1], all[i])
  end
end
return total
