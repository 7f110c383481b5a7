-- wrk: POST /metrics, batches of 100 gauge samples over 20 names x 100 label values (2,000
-- series), as a busy exporter would push them (scripts/memtest.sh, scripts/bench.sh). Arguments:
--   one-name     every batch of one name (one of 20), an exporter pushing a metric at a time;
--   pushgateway  the same samples in the text exposition format to Pushgateway, each name's
--                together as the format wants, every request replacing one group (job "bench"):
--                the peer at its fastest, as it checks every group it holds on each push.
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"

local mode
function init(args)
  mode = args[1]
  if mode == "pushgateway" then wrk.headers["Content-Type"] = "text/plain; version=0.0.4" end
end

math.randomseed(os.time())

request = function()
  if mode == "pushgateway" then
    local lines = {}
    for i = 1, 100 do
      lines[i] = string.format('carga_%d{instancia="i%d",zona="z1"} %d.%d', math.floor((i - 1) / 5), i,
        math.random(0, 1000), math.random(0, 99))
    end
    return wrk.format(nil, "/metrics/job/bench", nil, table.concat(lines, "\n") .. "\n")
  end
  local one = mode == "one-name" and math.random(0, 19)
  local samples = {}
  for i = 1, 100 do
    samples[i] = string.format(
      '{"nome":"carga_%d","valor":%d.%d,"labels":{"instancia":"i%d","zona":"z1"}}',
      one or math.random(0, 19), math.random(0, 1000), math.random(0, 99), math.random(0, 99))
  end
  return wrk.format(nil, "/metrics", nil, "[" .. table.concat(samples, ",") .. "]")
end
