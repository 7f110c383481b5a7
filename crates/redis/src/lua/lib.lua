-- Shared by the document scripts. For a prefix P and a collection C (message | alert) the keys are
--   P..C..':'..id        the document (JSON, its revision spliced first: {"_rev":N,...})
--   P..'idx:'..C..':'..N index N: sorted set of ids scored by creation time (ms)
--   P..'exp:'..C         sorted set of ids scored by expiry time (ms), to trim the indexes
--   P..'members:'..C     hash id -> the names of its indexes, "\n"-separated
-- The structures never start with C..':', so no id can collide with them. The client passes every
-- key it can compute; the scripts build only the keys of indexes an old version was in. Every
-- redis.call costs about a microsecond of script overhead on top of the command: the scripts make
-- as few as the bookkeeping allows, and no closures or tables on the common path.

-- Removes up to `max` expired documents from their indexes, oldest expiry first.
-- doc_prefix..id is a document, idx_prefix..name an index.
local function trim(exp, members, doc_prefix, idx_prefix, now, max)
  local ids = redis.call('ZRANGEBYSCORE', exp, '-inf', now, 'LIMIT', 0, max)
  for _, id in ipairs(ids) do
    if redis.call('EXISTS', doc_prefix..id) == 0 then
      local names = redis.call('HGET', members, id)
      if names then
        for name in string.gmatch(names, '[^\n]+') do redis.call('ZREM', idx_prefix..name, id) end
      end
      redis.call('HDEL', members, id)
    end
    redis.call('ZREM', exp, id)
  end
end

-- Writes a document and moves it between indexes. KEYS: the document, the expiry set, the
-- members hash, then the keys of the indexes it belongs in. ARGV from `first`: id, body,
-- created, ttl, now, the index names "\n"-joined, the index key prefix. `fresh`: the document
-- did not exist, so any index entries of its id are left by an expired one (with another
-- creation time). Only the indexes that change are touched: a status change moves the id out of
-- two and into two.
local function write(first, fresh)
  local id, body, created = ARGV[first], ARGV[first + 1], ARGV[first + 2]
  local ttl, now = tonumber(ARGV[first + 3]), tonumber(ARGV[first + 4])
  local names, idx_prefix = ARGV[first + 5], ARGV[first + 6]
  local old = redis.call('HGET', KEYS[3], id)
  if old and fresh then
    for name in string.gmatch(old, '[^\n]+') do redis.call('ZREM', idx_prefix..name, id) end
    old = nil
  end
  if old == names then
    -- In the same indexes already: only the document and its expiry change.
  elseif old then
    local had = {}
    for name in string.gmatch(old, '[^\n]+') do had[idx_prefix..name] = true end
    for i = 4, #KEYS do
      if had[KEYS[i]] then had[KEYS[i]] = false else redis.call('ZADD', KEYS[i], created, id) end
    end
    for key, stale in pairs(had) do
      if stale then redis.call('ZREM', key, id) end
    end
    redis.call('HSET', KEYS[3], id, names)
  else
    for i = 4, #KEYS do redis.call('ZADD', KEYS[i], created, id) end
    redis.call('HSET', KEYS[3], id, names)
  end
  if ttl > 0 then
    redis.call('SET', KEYS[1], body, 'PX', ttl)
    redis.call('ZADD', KEYS[2], now + ttl, id)
  else
    redis.call('SET', KEYS[1], body)
  end
end

local function rev_of(body)
  return tonumber(string.match(body, '^{"_rev":(%d+)'))
end
