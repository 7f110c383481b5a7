-- Shared by the channel scripts. For a channel C, under the hash tag {ch:C} (one channel, one
-- slot):
--   P..'{ch:'..C..'}'        hash: epoca, offset (the latest publication's; 0 before the first)
--   P..'{ch:'..C..'}.log'    stream: one entry a publication, id '<offset>-0', fields t (its
--                            time, ms) and d (its data, JSON); the last history_size kept.
--                            Trimmed with MAXLEN ~ (whole nodes: a third of the cost of an
--                            exact trim), so it may hold a few more, which reads leave out.
-- Both expire history_ttl after the last publication; with them go the offsets and the epoca,
-- and the next history begins anew (offset 1, a new epoca), which is what tells a subscriber
-- that it cannot recover across the loss.

-- The channel's epoca, begun with `new_epoca` (and an empty history) when it has none.
local function begin(meta, log, new_epoca, ttl)
  local epoca = redis.call('HGET', meta, 'epoca')
  if epoca then return epoca end
  -- A history without its meta (evicted alone) cannot be trusted: it goes too.
  redis.call('DEL', log)
  redis.call('HSET', meta, 'epoca', new_epoca, 'offset', 0)
  redis.call('PEXPIRE', meta, ttl)
  return new_epoca
end
