-- Registers the metric names of a batch, all or none: the store-wide part of appending samples.
-- KEYS, for a prefix P, both in the slot of the hash tag {metrics}:
--   KEYS[1] P{metrics}.kind      hash nome -> the tipo its first sample pinned (every name)
--   KEYS[2] P{metrics}.exposed   hash name an exposition uses -> the metric that uses it
-- ARGV: max names, then for each name of the batch, in the order of their first sample: nome,
-- tipo, the index of its first sample, the names its exposition uses ("\n"-joined).
-- Returns {'ok'}, {'type', index, pinned tipo}, {'names', index} or
-- {'collision', index, the metric it collides with}.
local max_names = tonumber(ARGV[1])
local names
local exposed, new = {}, {}
for i = 2, #ARGV, 4 do
  local nome, tipo, index = ARGV[i], ARGV[i + 1], tonumber(ARGV[i + 2])
  local pinned = redis.call('HGET', KEYS[1], nome)
  if pinned then
    if pinned ~= tipo then return {'type', index, pinned} end
  else
    names = names or redis.call('HLEN', KEYS[1])
    if names >= max_names then return {'names', index} end
    names = names + 1
    for used in string.gmatch(ARGV[i + 3], '[^\n]+') do
      local owner = exposed[used] or redis.call('HGET', KEYS[2], used)
      if owner and owner ~= nome then return {'collision', index, owner} end
      exposed[used] = nome
    end
    new[#new + 1] = nome
    new[#new + 1] = tipo
  end
end
for used, nome in pairs(exposed) do redis.call('HSET', KEYS[2], used, nome) end
if #new > 0 then redis.call('HSET', KEYS[1], unpack(new)) end
return {'ok'}
