-- Reads a channel's publications after an offset. KEYS: the meta hash, the stream. ARGV: a new
-- epoca (used when the channel has no history), history_ttl (ms), the offset after which to
-- read, the most to return, history_size. Returns {epoca, latest offset, first kept offset (0:
-- none), then for each publication: offset, time (ms), data}. Of what the stream holds, only the
-- last history_size count as kept, as an exact trim would have left them.
local epoca = begin(KEYS[1], KEYS[2], ARGV[1], ARGV[2])
local latest = tonumber(redis.call('HGET', KEYS[1], 'offset'))
local oldest = redis.call('XRANGE', KEYS[2], '-', '+', 'COUNT', 1)
local reply = {epoca, latest, 0}
if #oldest == 0 then return reply end
local first = math.max(tonumber(string.match(oldest[1][1], '^(%d+)')), latest - tonumber(ARGV[5]) + 1)
reply[3] = first
local from = math.max(tonumber(ARGV[3]) + 1, first)
if from > latest then return reply end
local entries = redis.call('XRANGE', KEYS[2], from..'-0', '+', 'COUNT', ARGV[4])
for _, entry in ipairs(entries) do
  local fields = entry[2]
  local t, d = nil, nil
  for i = 1, #fields, 2 do
    if fields[i] == 't' then t = fields[i + 1] elseif fields[i] == 'd' then d = fields[i + 1] end
  end
  reply[#reply + 1] = tonumber(string.match(entry[1], '^(%d+)'))
  reply[#reply + 1] = tonumber(t)
  reply[#reply + 1] = d
end
return reply
