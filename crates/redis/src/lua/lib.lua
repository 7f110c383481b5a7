-- Shared by every document script. Keys, for a prefix P and a collection C (message | alert):
--   P..C..':'..id          the document (JSON, its revision spliced first: {"_rev":N,...})
--   P..'idx:'..C..':'..N   index N: sorted set of ids scored by creation time (ms)
--   P..'exp:'..C           sorted set of ids scored by expiry time (ms), to trim the indexes
--   P..'members:'..C       hash id -> the names of its indexes, "\n"-separated
-- The structures never start with C..':', so no id can collide with them.

local function each_name(names, f)
  for name in string.gmatch(names, '[^\n]+') do f(name) end
end

-- Writes a document and moves it between indexes, all in this one atomic script. Only the
-- indexes that change are touched: a status change moves the id out of two and into two.
local function write(P, C, id, body, created, ttl, now, names)
  local members = P..'members:'..C
  local old = redis.call('HGET', members, id)
  local kept = {}
  if old then
    local new = {}
    each_name(names, function(name) new[name] = true end)
    each_name(old, function(name)
      if new[name] then kept[name] = true else redis.call('ZREM', P..'idx:'..C..':'..name, id) end
    end)
  end
  if ttl > 0 then
    redis.call('SET', P..C..':'..id, body, 'PX', ttl)
    redis.call('ZADD', P..'exp:'..C, now + ttl, id)
  else
    redis.call('SET', P..C..':'..id, body)
  end
  each_name(names, function(name)
    if not kept[name] then redis.call('ZADD', P..'idx:'..C..':'..name, created, id) end
  end)
  if old ~= names then redis.call('HSET', members, id, names) end
end

-- Removes up to `max` expired documents from their indexes, oldest expiry first.
local function trim(P, C, now, max)
  local exp = P..'exp:'..C
  local members = P..'members:'..C
  local ids = redis.call('ZRANGEBYSCORE', exp, '-inf', now, 'LIMIT', 0, max)
  for _, id in ipairs(ids) do
    if redis.call('EXISTS', P..C..':'..id) == 0 then
      local names = redis.call('HGET', members, id)
      if names then
        each_name(names, function(name) redis.call('ZREM', P..'idx:'..C..':'..name, id) end)
      end
      redis.call('HDEL', members, id)
    end
    redis.call('ZREM', exp, id)
  end
end

local function rev_of(body)
  return tonumber(string.match(body, '^{"_rev":(%d+)'))
end
