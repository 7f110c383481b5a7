-- wrk: POST /metrics, batches of 100 gauge samples spread over 20 names x 100 label values
-- (2,000 series), as a busy exporter would push them. scripts/memtest.sh uses it.
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"

math.randomseed(os.time())

request = function()
  local samples = {}
  for i = 1, 100 do
    samples[i] = string.format(
      '{"nome":"carga_%d","valor":%d.%d,"labels":{"instancia":"i%d","zona":"z1"}}',
      math.random(0, 19), math.random(0, 1000), math.random(0, 99), math.random(0, 99))
  end
  return wrk.format(nil, "/metrics", nil, "[" .. table.concat(samples, ",") .. "]")
end
