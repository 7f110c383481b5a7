-- Appends a batch of samples of several names in one call, all or none: on one Redis (not a
-- cluster), where every key is on the same server. KEYS: P{metrics}.kind, P{metrics}.exposed,
-- then for each name the three keys series_append.lua takes. ARGV: now, retention, max series,
-- max points per series, max names, then for each name: nome, the names its exposition uses
-- ("\n"-joined), its group of samples (`read_group`). Returns {'ok'} followed by each name's
-- series numbers (as append_name returns them), or the rejection of the batch's first refused
-- sample.
local now, retention = tonumber(ARGV[1]), tonumber(ARGV[2])
local cap, max_points, max_names = tonumber(ARGV[3]), tonumber(ARGV[4]), tonumber(ARGV[5])
local names, at = {}, 6
for k = 3, #KEYS, 3 do
  local group = read_group(at + 2)
  names[#names + 1] = {nome = ARGV[at], exposed = ARGV[at + 1], group = group, key = k}
  at = group.next
end
local first, unpinned = nil, {}
for _, name in ipairs(names) do
  local rejection, pinned, numbers = check_name(KEYS[name.key + 1], KEYS[name.key + 2], name.group,
    cap)
  name.numbers = numbers
  if rejection and (not first or rejection[2] < first[2]) then first = rejection end
  if not pinned then
    unpinned[#unpinned + 1] = {name.nome, name.group.tipo, name.group.first, name.exposed}
  end
end
if first then return first end
local refused = register(KEYS[1], KEYS[2], max_names, unpinned)
if refused then return refused end
local reply = {'ok'}
for _, name in ipairs(names) do
  reply[#reply + 1] = append_name(KEYS[name.key], KEYS[name.key + 1], KEYS[name.key + 2],
    name.group, now, retention, max_points, name.numbers)
end
return reply
