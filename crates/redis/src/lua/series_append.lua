-- Checks, then appends, the samples of one metric name, all or none. KEYS: P{metrics:N},
-- P{metrics:N}.sids, P{metrics:N}.meta. ARGV: mode ('check' writes nothing, 'append'),
-- registered ('1' when the name is known to be in the registry), now, retention, max series, max
-- points per series, then the name's group of samples (`read_group`; in a check, no points).
-- Returns {'ok'} (after an append, followed by the group's series numbers as append_name returns
-- them), a rejection of `check_name`, or {'unregistered'} (nothing written: the name must be
-- registered first, see series_register.lua).
local group = read_group(7)
local rejection, pinned, numbers = check_name(KEYS[2], KEYS[3], group, tonumber(ARGV[5]))
if rejection then return rejection end
if not pinned and ARGV[2] ~= '1' then return {'unregistered'} end
if ARGV[1] == 'check' then return {'ok'} end
return {'ok', append_name(KEYS[1], KEYS[2], KEYS[3], group, tonumber(ARGV[3]),
  tonumber(ARGV[4]), tonumber(ARGV[6]), numbers)}
