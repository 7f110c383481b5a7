-- wrk: a new alert every request, as Integra takes it (POST /alerts) or, with the argument
-- `alertmanager`, as Alertmanager does (POST /api/v2/alerts): scripts/bench.sh peers.
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"

-- Each wrk thread has a Lua state of its own: a thread number keeps their ids apart.
local threads = 0
function setup(thread)
  threads = threads + 1
  thread:set("thread", threads)
end

local body = '{"id":"bench-%d-t%d-%d","titulo":"Fila parada","descricao":"sem consumo","severidade":"alta","origem":"bench","labels":{"fila":"pedidos"}}'
function init(args)
  if args[1] == "alertmanager" then
    body = '[{"labels":{"alertname":"FilaParada","id":"bench-%d-t%d-%d","severity":"alta","origem":"bench","fila":"pedidos"},"annotations":{"summary":"Fila parada","description":"sem consumo"}}]'
  end
end

math.randomseed(os.time())
local run, n = math.random(1, 1e9), 0

request = function()
  n = n + 1
  return wrk.format(nil, nil, nil, string.format(body, run, thread, n))
end
