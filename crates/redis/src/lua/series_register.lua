-- Registers the metric names of a batch, all or none: the store-wide part of appending samples.
-- KEYS: P{metrics}.kind, P{metrics}.exposed. ARGV: max names, then for each name of the batch, in
-- the order of their first sample: nome, tipo, the index of its first sample, the names its
-- exposition uses ("\n"-joined). Returns {'ok'} or the rejection `register` gives.
local names = {}
for i = 2, #ARGV, 4 do names[#names + 1] = {ARGV[i], ARGV[i + 1], ARGV[i + 2], ARGV[i + 3]} end
return register(KEYS[1], KEYS[2], tonumber(ARGV[1]), names) or {'ok'}
