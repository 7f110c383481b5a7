-- wrk: POST /api/v2/alerts to Alertmanager, one new alert (new label set) every request: the
-- peer of wrk-post-alert.lua (scripts/bench.sh peers).
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
-- Each wrk thread has a Lua state of its own: a thread number keeps their ids apart.
local threads = 0
function setup(thread)
  threads = threads + 1
  thread:set("thread", threads)
end

math.randomseed(os.time())
local run, n = math.random(1, 1e9), 0

request = function()
  n = n + 1
  return wrk.format(nil, nil, nil, string.format(
    '[{"labels":{"alertname":"FilaParada","id":"bench-%d-t%d-%d","severity":"alta","origem":"bench","fila":"pedidos"},"annotations":{"summary":"Fila parada","description":"sem consumo"}}]',
    run, thread, n))
end
