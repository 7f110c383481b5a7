-- wrk: POST 100 samples in the text exposition format to Pushgateway, over 20 names x 100 label
-- values as wrk-push-metrics.lua sends them to Integra (scripts/bench.sh peers). The samples of a
-- name stay together, as the format wants. Every request replaces one group (job "bench"): the
-- peer at its fastest, as Pushgateway checks every group it holds on each push.
wrk.method = "POST"
wrk.headers["Content-Type"] = "text/plain; version=0.0.4"
math.randomseed(os.time())

request = function()
  local lines = {}
  for i = 1, 100 do
    local nome = math.floor((i - 1) / 5)
    lines[i] = string.format('carga_%d{instancia="i%d",zona="z1"} %d.%d', nome, i,
      math.random(0, 1000), math.random(0, 99))
  end
  return wrk.format(nil, "/metrics/job/bench", nil,
    table.concat(lines, "\n") .. "\n")
end
