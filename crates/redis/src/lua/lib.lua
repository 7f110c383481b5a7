-- Shared by the document scripts. For a prefix P and a collection C (message | alert) the keys
-- are, all in the slot of the hash tag {C} (one collection, one slot: see the crate's docs):
--   P..'{'..C..'}:'..id        the document: its body, exactly as written (the record's JSON)
--   P..'{'..C..'}.idx:'..N     index N: sorted set of ids scored by creation time (ms)
--   P..'{'..C..'}.exp'         sorted set of ids scored by expiry time (ms), to trim the indexes
--   P..'{'..C..'}.meta'        hash id -> its revision, then the names of its indexes, "\n"-separated
-- Documents are '}:' and an id, the structures '}.' and a name: no id can collide with them. The
-- client passes in KEYS every key it can compute; the scripts make only the keys they find
-- inside (the documents an index or the expiry set names, the indexes an old version was in),
-- from the same prefixes, so that these carry the same hash tag and live in the same slot. Every
-- redis.call costs about a microsecond of script overhead on top of the command: the scripts make
-- as few as the bookkeeping allows, and no closures or tables on the common path.

-- The revision and the index names of a meta entry.
local function split_meta(meta)
  return string.match(meta, '^(%d+)\n?(.*)$')
end

-- Removes up to `max` expired documents from their indexes, oldest expiry first.
-- doc_prefix..id is a document, idx_prefix..name an index.
local function trim(exp, meta, doc_prefix, idx_prefix, now, max)
  local ids = redis.call('ZRANGEBYSCORE', exp, '-inf', now, 'LIMIT', 0, max)
  for _, id in ipairs(ids) do
    if redis.call('EXISTS', doc_prefix..id) == 0 then
      local entry = redis.call('HGET', meta, id)
      if entry then
        local _, names = split_meta(entry)
        for name in string.gmatch(names, '[^\n]+') do redis.call('ZREM', idx_prefix..name, id) end
      end
      redis.call('HDEL', meta, id)
    end
    redis.call('ZREM', exp, id)
  end
end

-- Writes a document and moves it between indexes. KEYS[k] is the document, KEYS[first..last]
-- the keys of the indexes it belongs in; `exp` the expiry set, `meta` the meta hash; `names` its
-- index names "\n"-joined, `rev` its new revision (nil or false when its meta entry is written
-- already). `old` is the index names it is in now (nil when none). Only the indexes that change
-- are touched: a status change moves the id out of two and into two.
local function write_at(k, first, last, exp, meta, id, body, created, ttl, now, names, idx_prefix,
    rev, old)
  if old == names then
    -- In the same indexes already: only the document, its revision and its expiry change.
  elseif old then
    local had = {}
    for name in string.gmatch(old, '[^\n]+') do had[idx_prefix..name] = true end
    for i = first, last do
      if had[KEYS[i]] then had[KEYS[i]] = false else redis.call('ZADD', KEYS[i], created, id) end
    end
    for key, stale in pairs(had) do
      if stale then redis.call('ZREM', key, id) end
    end
  else
    for i = first, last do redis.call('ZADD', KEYS[i], created, id) end
  end
  if rev then redis.call('HSET', meta, id, rev..'\n'..names) end
  if ttl > 0 then
    redis.call('SET', KEYS[k], body, 'PX', ttl)
    redis.call('ZADD', exp, now + ttl, id)
  else
    redis.call('SET', KEYS[k], body)
  end
end

-- `write_at` for a script of one document. KEYS: the document, the expiry set, the meta hash,
-- then the keys of the indexes it belongs in. ARGV: id, body, created, ttl, now, the index names
-- "\n"-joined, the index key prefix, the new revision.
local function write(old)
  write_at(1, 4, #KEYS, KEYS[2], KEYS[3], ARGV[1], ARGV[2], ARGV[3], tonumber(ARGV[4]),
    tonumber(ARGV[5]), ARGV[6], ARGV[7], ARGV[8], old)
end
