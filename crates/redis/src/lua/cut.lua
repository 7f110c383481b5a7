-- Settles documents of one collection: cuts each body at the last occurrence of a tail. KEYS:
-- the meta hash, then the documents. ARGV: the tail ('' for none), then each document's id and
-- expected revision, in the order of KEYS. Returns, per document: 1 when written (its body up to
-- the last tail, closed with '}', at the next revision; its indexes and its expiry untouched), 0
-- when the document is gone, else {the stored body, its revision}. Many settles in one call cost
-- Redis one script's overhead (see the crate's `settle` module).
local tail, settled = ARGV[1], {}
for i = 2, #KEYS do
  local id, expected = ARGV[2 * i - 2], ARGV[2 * i - 1]
  local current = redis.call('GET', KEYS[i])
  if not current then
    settled[i - 1] = 0
  else
    local rev, names = split_meta(redis.call('HGET', KEYS[1], id) or '0')
    if rev ~= expected then
      settled[i - 1] = {current, tonumber(rev)}
    else
      local at = nil
      if tail ~= '' then
        local from = 1
        while true do
          local found = string.find(current, tail, from, true)
          if not found then break end
          at, from = found, found + 1
        end
      end
      if at then redis.call('SET', KEYS[i], string.sub(current, 1, at - 1)..'}', 'KEEPTTL') end
      redis.call('HSET', KEYS[1], id, (tonumber(rev) + 1)..'\n'..names)
      settled[i - 1] = 1
    end
  end
end
return settled
