-- Inserts documents of one collection, each unless its id is taken. KEYS: the expiry set, the
-- meta hash, then for each document its key followed by the keys of the indexes it belongs in.
-- ARGV: now, the index key prefix, the document key prefix (for trimming), then for each
-- document: the number of its index keys, its ttl (ms; 0 keeps it), id, body, created (ms), its
-- index names "\n"-joined. Returns, per document: 0 when created, else {the stored body, its
-- revision}. Many inserts in one call cost Redis one script's overhead and one trim (see the
-- crate's `batch` module).
local now, idx_prefix = tonumber(ARGV[1]), ARGV[2]
trim(KEYS[1], KEYS[2], ARGV[3], idx_prefix, now, 100)
local inserted, k, a = {}, 3, 4
while a <= #ARGV do
  local count, ttl = tonumber(ARGV[a]), tonumber(ARGV[a + 1])
  local id, names = ARGV[a + 2], ARGV[a + 5]
  -- A live document always has its meta entry: where there is none, the entry written here
  -- claims the id, and there is no document to read (one call where a new document took two).
  local claimed = redis.call('HSETNX', KEYS[2], id, '1\n'..names) == 1
  local entry = not claimed and redis.call('HGET', KEYS[2], id)
  local current = entry and redis.call('GET', KEYS[k])
  if current then
    inserted[#inserted + 1] = {current, tonumber((split_meta(entry)))}
  else
    if entry then
      -- Left by an expired document not yet trimmed, with its own creation time: unindex it.
      local _, old = split_meta(entry)
      for name in string.gmatch(old, '[^\n]+') do redis.call('ZREM', idx_prefix..name, id) end
    end
    -- A claimed id has its entry already; a stale entry is overwritten.
    write_at(k, k + 1, k + count, KEYS[1], KEYS[2], id, ARGV[a + 3], ARGV[a + 4], ttl, now, names,
      idx_prefix, entry and '1', nil)
    inserted[#inserted + 1] = 0
  end
  k, a = k + 1 + count, a + 6
end
return inserted
