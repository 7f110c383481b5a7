-- wrk: POST /metrics, batches of 100 gauge samples of one name (one of 20 per batch) over 100
-- label values: an exporter pushing one metric at a time (scripts/bench.sh metrics).
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"

math.randomseed(os.time())

request = function()
  local nome = math.random(0, 19)
  local samples = {}
  for i = 1, 100 do
    samples[i] = string.format(
      '{"nome":"carga_%d","valor":%d.%d,"labels":{"instancia":"i%d","zona":"z1"}}',
      nome, math.random(0, 1000), math.random(0, 99), math.random(0, 99))
  end
  return wrk.format(nil, "/metrics", nil, "[" .. table.concat(samples, ",") .. "]")
end
