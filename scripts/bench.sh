#!/usr/bin/env bash
# Integra's benchmarks, each beside a yardstick measured in the same run on the same machine:
#   store  the Redis store's operations, beside redis-benchmark;
#   bus    the Kafka bus alone: 64 publishes in flight, for three linger.ms settings;
#   http   POST /messages end to end on Redis + Kafka, beside a bare actix-web JSON handler (wrk),
#          then the same server with one backend at a time, with the CPU each process spent;
#   metrics POST /metrics on Redis (embedded bus), batches of 100 samples over 20 names and of
#          one name; with COMPARE_BIN=path, another build measured in the same run;
#   rules  POST /metrics as above, with and without 100 rules over the pushed names, interleaved
#          rounds on one server, the embedded store and Redis: the ratio of medians;
#   peers  Integra beside the programs its users would otherwise run (Debian's Alertmanager and
#          Pushgateway, and the seed in FastAPI, scripts/seed_fastapi.py, installed here):
#          PEER_ROUNDS (3) interleaved rounds of PEER_SECONDS (10) s
#          per subject, medians, ratios, server CPU per operation from /proc;
#   samples a million metric samples pushed to a fresh server (scripts/push-samples.py), on the
#          embedded store and on Redis: bytes per sample held, from the server's resident memory
#          and Redis' used_memory.
#   channels tests/examples/fanout.rs (Rust, one thread) against a release server, on the embedded
#          backends and on Redis + Kafka: 1,000 subscribers of one channel and publications at full
#          speed (deliveries/s, latency, server CPU per delivery), 10,000 missed publications
#          recovered by one subscriber, the server memory of 2,000 more connections.
# Prints markdown; BENCHMARKS.md records a run. Usage: scripts/bench.sh [store|bus|http|metrics|rules|peers|samples|channels]...
# SERVER_BIN=path measures another build of integra-server (an older commit's, to compare).
#
# Every measured server gets fresh dependencies: a Tansu of its own on BENCH_KAFKA_PORT (19092),
# started for it and stopped after, and Redis database 15, flushed. The in-memory broker slows
# down as it fills, so a broker shared across runs would make later runs look worse.
set -euo pipefail
cd "$(dirname "$0")/.."

CONNECTIONS=${CONNECTIONS:-64}
DURATION=${DURATION:-20}      # seconds, the headline runs
SHORT=${SHORT:-10}            # seconds, the one-backend-at-a-time runs
KAFKA_PORT=${BENCH_KAFKA_PORT:-19092}
REDIS_URL=redis://127.0.0.1:6379/15
SERVER_BIN=${SERVER_BIN:-target/release/integra-server}
BENCH_STATE=target/bench/services
# The wrk script of a run: its path, then an argument for it if any ("" for a plain GET).
WRK_SCRIPT=scripts/wrk-post-message.lua

# run_wrk spec url wrk-options...: wrk with the script `spec` ("path [argument]", or "").
run_wrk() {
  local spec=$1 url=$2; shift 2
  local script=${spec%% *}
  if [ -z "$spec" ]; then wrk "$@" "$url"
  elif [ "$script" = "$spec" ]; then wrk "$@" -s "$script" "$url"
  else wrk "$@" -s "$script" "$url" -- "${spec#* }"
  fi
}
wanted=("$@"); [ ${#wanted[@]} -eq 0 ] && wanted=(store bus http)

scripts/services.sh redis >&2
if ! command -v wrk >/dev/null; then
  (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq wrk) >/dev/null
fi
# --bins as well: selecting examples alone would build no server binary.
cargo build -q --release -p integra-server --bins -p integra-http --example bare \
  -p integra-redis --example store_bench -p integra-kafka --example publish_bench

echo "Machine: $(nproc) cores, $(free -g | awk '/Mem/ {print $2}') GiB; $(date -u +%Y-%m-%dT%H:%MZ); server: $SERVER_BIN"
echo

broker_pid() { cat "$BENCH_STATE/tansu.pid" 2>/dev/null || true; }

stop_broker() {
  local pid; pid=$(broker_pid)
  if [ -n "$pid" ]; then kill "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true; fi
  rm -f "$BENCH_STATE/tansu.pid"
  for _ in $(seq 1 50); do (exec 3<>"/dev/tcp/127.0.0.1/$KAFKA_PORT") 2>/dev/null || return 0; sleep 0.1; done
}

fresh_dependencies() {
  stop_broker
  if (exec 3<>"/dev/tcp/127.0.0.1/$KAFKA_PORT") 2>/dev/null; then
    echo "port $KAFKA_PORT is taken by a broker this script did not start: stop it first" >&2
    exit 1
  fi
  KAFKA_PORT=$KAFKA_PORT INTEGRA_STATE_DIR=$BENCH_STATE scripts/services.sh kafka >&2
  redis-cli -u "$REDIS_URL" FLUSHDB >/dev/null
}
trap stop_broker EXIT

bench_store() {
  echo "### Redis store"
  echo
  echo "redis-benchmark, same Redis, $CONNECTIONS clients:"
  echo '```'
  redis-benchmark -q -n 200000 -c "$CONNECTIONS" -t set,get,zadd | tr '\r' '\n' | grep -E "requests per second" | sed 's/^ *//'
  redis-benchmark -q -n 200000 -c "$CONNECTIONS" EVAL "redis.call('SET', KEYS[1], ARGV[1]) redis.call('ZADD', KEYS[2], 1, ARGV[1]) return 1" 2 "b:{k}" "b:{z}" v \
    | tr '\r' '\n' | grep -E "requests per second" | sed 's/^ *//; s/^EVAL.*: \([0-9.]* requests per second\)/EVAL of a SET + ZADD script: \1/'
  echo '```'
  echo
  target/release/examples/store_bench
  echo
}

bench_bus() {
  echo "### Kafka bus alone: $CONNECTIONS publishes in flight, each waiting for its acknowledgement"
  echo
  fresh_dependencies
  BENCH_KAFKA_BROKERS=127.0.0.1:$KAFKA_PORT target/release/examples/publish_bench
  stop_broker
  echo
}

cpu_ticks() { # pid: user + system clock ticks so far
  awk '{print $14 + $15}' "/proc/$1/stat" 2>/dev/null || echo 0
}

tree_ticks() { # pid: cpu_ticks of the process and of its children (uvicorn's workers)
  local total child
  total=$(cpu_ticks "$1")
  for child in $(pgrep -P "$1"); do total=$((total + $(tree_ticks "$child"))); done
  echo "$total"
}

# wrk_run name url seconds [server_pid]: one markdown row; with a server pid, the CPU that the
# server, Redis, the broker and the machine spent per request.
wrk_run() {
  local name=$1 url=$2 seconds=$3 server=${4:-} out rps p50 p99 errors
  local redis_pid broker s0 r0 b0 m0 s1 r1 b1 m1
  redis_pid=$(pgrep -x redis-server | head -1); broker=$(broker_pid)
  s0=$(cpu_ticks "${server:-self}"); r0=$(cpu_ticks "$redis_pid"); b0=$(cpu_ticks "${broker:-self}")
  m0=$(awk '/^cpu / {print $2 + $3 + $4 + $7 + $8}' /proc/stat)
  out=$(run_wrk "$WRK_SCRIPT" "$url" -t2 -c"$CONNECTIONS" -d"${seconds}s" --latency)
  s1=$(cpu_ticks "${server:-self}"); r1=$(cpu_ticks "$redis_pid"); b1=$(cpu_ticks "${broker:-self}")
  m1=$(awk '/^cpu / {print $2 + $3 + $4 + $7 + $8}' /proc/stat)
  rps=$(awk '/Requests\/sec/ {print $2}' <<<"$out")
  p50=$(awk '$1 == "50%" {print $2}' <<<"$out")
  p99=$(awk '$1 == "99%" {print $2}' <<<"$out")
  errors=$(awk '/Non-2xx/ {print $NF}' <<<"$out"); errors=${errors:-0}
  RPS[$name]=$rps
  if [ -z "$server" ]; then
    echo "| $name | $rps | $p50 | $p99 | $errors |"
    return
  fi
  local hz; hz=$(getconf CLK_TCK)
  awk -v name="$name" -v rps="$rps" -v p50="$p50" -v p99="$p99" -v errors="$errors" -v hz="$hz" \
      -v s=$((s1 - s0)) -v r=$((r1 - r0)) -v b=$((b1 - b0)) -v m=$((m1 - m0)) -v t="$seconds" \
      -v brk="${broker:+1}" 'BEGIN {
    n = rps * t; us = 1e6 / hz / n
    printf "| %s | %s | %s | %s | %s | %.0f | %.0f | %s | %.0f |\n", name, rps, p50, p99, errors,
      s * us, r * us, (brk ? sprintf("%.0f", b * us) : "-"), m * us
  }'
}

# Runs $SERVER_BIN from the checkout it was built in (two levels above its target/release), so
# that it reads its own config/default.toml: an older build refuses keys it does not know.
run_server() {
  local bin; bin=$(realpath "$SERVER_BIN")
  cd "$(dirname "$bin")/../.." && exec "$bin"
}

# server_start store bus: starts the server on fresh dependencies on 127.0.0.1:18080, ready; its
# pid in SERVER_PID.
server_start() {
  local store=$1 bus=$2
  fresh_dependencies
  [ "$bus" = kafka ] || stop_broker
  INTEGRA__SERVER__BIND=127.0.0.1:18080 INTEGRA__LOG__LEVEL=warn \
  INTEGRA__STORE__BACKEND=$store INTEGRA__STORE__URL=$REDIS_URL \
  INTEGRA__BUS__BACKEND=$bus INTEGRA__BUS__BROKERS=127.0.0.1:$KAFKA_PORT \
    run_server >/dev/null & SERVER_PID=$!
  for _ in $(seq 1 100); do curl -fs http://127.0.0.1:18080/readyz >/dev/null && break; sleep 0.2; done
  curl -fs http://127.0.0.1:18080/readyz >/dev/null
}

# server_run name store bus seconds [path]: starts the server on fresh dependencies, warms it up,
# measures it (POST path, /messages by default, with $WRK_SCRIPT), stops it.
server_run() {
  local name=$1 store=$2 bus=$3 seconds=$4 path=${5:-/messages} pid
  server_start "$store" "$bus"; pid=$SERVER_PID
  run_wrk "$WRK_SCRIPT" "http://127.0.0.1:18080$path" -t2 -c"$CONNECTIONS" -d3s >/dev/null
  wrk_run "$name" "http://127.0.0.1:18080$path" "$seconds" "$pid"
  if [ "$store" = redis ] && [ "$bus" = kafka ]; then
    STORED=$(curl -fs "http://127.0.0.1:18080/messages?status=CONCLUIDA&limit=1" | head -c 400)
  fi
  kill "$pid"; wait "$pid" 2>/dev/null || true
}

bench_http() {
  local bare_pid port
  declare -gA RPS
  for port in 18000 18080; do
    if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
      echo "port $port is already in use: stop what listens there first" >&2
      exit 1
    fi
  done
  echo "### POST /messages, $CONNECTIONS connections, wrk on the same 2 cores"
  echo
  target/release/examples/bare 127.0.0.1:18000 & bare_pid=$!
  for _ in $(seq 1 50); do (exec 3<>/dev/tcp/127.0.0.1/18000) 2>/dev/null && break; sleep 0.1; done
  wrk -t2 -c"$CONNECTIONS" -d3s -s scripts/wrk-post-message.lua http://127.0.0.1:18000/messages >/dev/null
  echo "| server, ${DURATION} s | requests/s | p50 | p99 | non-2xx |"
  echo "|---|---|---|---|---|"
  wrk_run "bare actix-web JSON handler" http://127.0.0.1:18000/messages "$DURATION"
  kill "$bare_pid"; wait "$bare_pid" 2>/dev/null || true
  echo
  echo "| server | requests/s | p50 | p99 | non-2xx | server CPU µs/req | Redis µs/req | broker µs/req | whole machine µs/req |"
  echo "|---|---|---|---|---|---|---|---|---|"
  server_run "integra-server, Redis + Kafka (Tansu), ${DURATION} s" redis kafka "$DURATION"
  server_run "memory + memory, ${SHORT} s" memory memory "$SHORT"
  server_run "Redis + memory, ${SHORT} s" redis memory "$SHORT"
  server_run "memory + Kafka, ${SHORT} s" memory kafka "$SHORT"
  echo
  awk -v a="${RPS[integra-server, Redis + Kafka (Tansu), ${DURATION} s]}" -v b="${RPS[bare actix-web JSON handler]}" \
    'BEGIN { printf "integra (Redis + Kafka) / bare: %.3f (1/%.1f)\n", a / b, b / a }'
  echo
  echo "a message as stored after the run: \`${STORED:-}\`"
}

bench_metrics() {
  declare -gA RPS
  echo "### POST /metrics on Redis (embedded bus), batches of 100 samples, $CONNECTIONS connections"
  echo
  echo "| server | batches/s | p50 | p99 | non-2xx | server CPU µs/batch | Redis µs/batch | broker | whole machine µs/batch |"
  echo "|---|---|---|---|---|---|---|---|---|"
  local bins=("$SERVER_BIN") bin script
  [ -n "${COMPARE_BIN:-}" ] && bins+=("$COMPARE_BIN")
  for shape in "20 names" "one-name"; do
    for bin in "${bins[@]}"; do
      local spec=scripts/wrk-push-metrics.lua
      [ "$shape" = one-name ] && spec="$spec one-name"
      WRK_SCRIPT=$spec SERVER_BIN=$bin \
        server_run "$bin, $shape a batch, ${SHORT} s" redis memory "$SHORT" /metrics
    done
  done
  stop_broker
  echo
}

RULE_ROUNDS=${RULE_ROUNDS:-3}

# rules_set create|delete: 100 rules over the 20 names scripts/wrk-push-metrics.lua pushes, 5 a
# name, each over every series of its name (labels {zona: z1}; 100 series a name):
# - 10 (one on each of 10 names) fire at once for every series (>= 0): 1,000 alerts opened, then
#   every sample of those series moves a firing series, and the rule is written each round;
# - 10 (on the other 10 names) have a threshold 0.2% of the samples pass, with por_segundos 30:
#   their series go pending and back all the time;
# - 80 have a threshold the samples never reach.
rules_set() {
  local action=$1 i id condicao limite por
  for i in $(seq 0 99); do
    id=bench-$i
    if [ "$action" = delete ]; then
      curl -fs -X DELETE "http://127.0.0.1:18080/rules/$id" >/dev/null
      continue
    fi
    condicao='>'; limite=5000; por=0
    if [ "$i" -lt 10 ]; then condicao='>='; limite=0
    elif [ "$i" -lt 20 ]; then limite=999; por=30
    fi
    curl -fs -H 'content-type: application/json' http://127.0.0.1:18080/rules -d \
      "{\"id\":\"$id\",\"metrica\":\"carga_$((i % 20))\",\"labels\":{\"zona\":\"z1\"},\"condicao\":\"$condicao\",\"limite\":$limite,\"por_segundos\":$por,\"severidade\":\"media\",\"titulo\":\"t\"}" \
      >/dev/null
  done
}

# median of the numbers given.
median() { printf '%s\n' "$@" | sort -g | awk '{v[NR] = $1} END {print v[int((NR + 1) / 2)]}'; }

bench_rules() {
  declare -gA RPS
  local store r without with
  echo "### POST /metrics with and without 100 rules over the pushed names (batches of 100 samples over 20 names, $CONNECTIONS connections, embedded bus)"
  echo
  echo "$RULE_ROUNDS interleaved rounds of ${SHORT} s per case on one server per store: without rules, then with the 100 rules, then without again (deleted)."
  echo
  for store in memory redis; do
    echo "| $store store, round | batches/s | p50 | p99 | non-2xx | server CPU µs/batch | Redis µs/batch | broker | whole machine µs/batch |"
    echo "|---|---|---|---|---|---|---|---|---|"
    server_start "$store" memory
    WRK_SCRIPT=scripts/wrk-push-metrics.lua
    run_wrk "$WRK_SCRIPT" http://127.0.0.1:18080/metrics -t2 -c"$CONNECTIONS" -d3s >/dev/null
    without=(); with=(); TRACKED=()
    for r in $(seq 1 "$RULE_ROUNDS"); do
      wrk_run "no rules, $r" http://127.0.0.1:18080/metrics "$SHORT" "$SERVER_PID"
      without+=("${RPS[no rules, $r]}")
      rules_set create
      wrk_run "100 rules, $r" http://127.0.0.1:18080/metrics "$SHORT" "$SERVER_PID"
      with+=("${RPS[100 rules, $r]}")
      # That the rules were at work: the series they track when the round ends.
      TRACKED+=("$(curl -fs http://127.0.0.1:18080/rules | python3 -c 'import json, sys; print(sum(len(r["series"]) for r in json.load(sys.stdin)))')")
      rules_set delete
    done
    kill "$SERVER_PID"; wait "$SERVER_PID" 2>/dev/null || true
    echo
    echo "series pending or firing when each round with rules ended: ${TRACKED[*]}"
    echo
    awk -v a="$(median "${with[@]}")" -v b="$(median "${without[@]}")" -v s="$store" \
      'BEGIN { printf "%s store: median with rules / without: %.3f (the rules cost %.1f%% of the throughput)\n\n", s, a / b, (1 - a / b) * 100 }'
  done
  stop_broker
}

PEER_ROUNDS=${PEER_ROUNDS:-3}
PEER_SECONDS=${PEER_SECONDS:-10}
AM_PORT=19193
PG_PORT=19191
SEED_PORT=19170
SEED_VENV=${XDG_CACHE_HOME:-$HOME/.cache}/integra/seed-venv

# The FastAPI seed's virtualenv (scripts/seed_fastapi.py), made once from PyPI.
ensure_seed() {
  [ -x "$SEED_VENV/bin/uvicorn" ] && return
  python3 -m venv "$SEED_VENV"
  "$SEED_VENV/bin/pip" install -q fastapi 'uvicorn[standard]' redis aiokafka >/dev/null
}

# peer_measure subject url script pid: one wrk run of PEER_SECONDS; appends
# "requests/s:server µs/op:Redis µs/op:p99:non-2xx" to PEER[subject].
peer_measure() {
  local subject=$1 url=$2 script=$3 pid=$4 out s0 s1 r0 r1 redis_pid
  redis_pid=$(pgrep -x redis-server | head -1)
  s0=$(tree_ticks "$pid"); r0=$(cpu_ticks "$redis_pid")
  out=$(run_wrk "$script" "$url" -t2 -c"$CONNECTIONS" -d"${PEER_SECONDS}s" --latency)
  s1=$(tree_ticks "$pid"); r1=$(cpu_ticks "$redis_pid")
  PEER[$subject]+=$(awk -v s=$((s1 - s0)) -v r=$((r1 - r0)) -v hz="$(getconf CLK_TCK)" \
    -v t="$PEER_SECONDS" -v out="$out" 'BEGIN {
      n = split(out, lines, "\n"); rps = 0; p99 = "-"; bad = 0
      for (i = 1; i <= n; i++) {
        split(lines[i], f, " ")
        if (lines[i] ~ /Requests\/sec/) rps = f[2]
        if (f[1] == "99%") p99 = f[2]
        if (lines[i] ~ /Non-2xx/) bad = f[length(f)]
      }
      ops = rps * t; if (ops == 0) ops = 1
      printf "%s:%.0f:%.0f:%s:%s ", rps, s * 1e6 / hz / ops, r * 1e6 / hz / ops, p99, bad
    }')
}

# peer_median subject field (1 requests/s, 2 server µs, 3 Redis µs, 4 p99, 5 non-2xx summed).
peer_median() {
  tr ' ' '\n' <<<"${PEER[$1]}" | awk -F: -v f="$2" 'NF {
      if (f == 5) { sum += $5; next }
      v[++n] = $f
    }
    END {
      if (f == 5) { print sum + 0; exit }
      if (f == 4) { print v[int((n + 1) / 2)]; exit }
      asort(v); print v[int((n + 1) / 2)]
    }'
}

# start_integra port store bus: a release server of its own, its pid in INTEGRA_PID.
start_integra() {
  INTEGRA__SERVER__BIND=127.0.0.1:$1 INTEGRA__LOG__LEVEL=warn \
  INTEGRA__STORE__BACKEND=$2 INTEGRA__STORE__URL=$REDIS_URL \
  INTEGRA__BUS__BACKEND=$3 INTEGRA__BUS__BROKERS=127.0.0.1:$KAFKA_PORT \
    run_server >/dev/null & INTEGRA_PID=$!
  for _ in $(seq 1 100); do curl -fs "http://127.0.0.1:$1/readyz" >/dev/null && return; sleep 0.2; done
  echo "integra on :$1 did not become ready" >&2; exit 1
}

bench_peers() {
  declare -gA PEER
  local pids=() am pg seed mem redis full r
  if ! command -v prometheus-alertmanager >/dev/null || ! command -v prometheus-pushgateway >/dev/null; then
    (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq \
      prometheus-alertmanager prometheus-pushgateway) >/dev/null
  fi
  ensure_seed
  fresh_dependencies
  mkdir -p "$BENCH_STATE/alertmanager"
  printf 'route:\n  receiver: none\nreceivers:\n  - name: none\n' >"$BENCH_STATE/alertmanager.yml"
  prometheus-alertmanager --config.file="$BENCH_STATE/alertmanager.yml" \
    --storage.path="$BENCH_STATE/alertmanager" --web.listen-address=127.0.0.1:$AM_PORT \
    --cluster.listen-address= --log.level=warn >"$BENCH_STATE/alertmanager.log" 2>&1 & am=$!
  prometheus-pushgateway --web.listen-address=127.0.0.1:$PG_PORT --log.level=warn \
    >"$BENCH_STATE/pushgateway.log" 2>&1 & pg=$!
  # The seed, one uvicorn worker per core (as Integra has), on the same Redis and broker.
  (cd scripts && SEED_REDIS_URL=$REDIS_URL SEED_BROKERS=127.0.0.1:$KAFKA_PORT exec "$SEED_VENV/bin/uvicorn" \
    seed_fastapi:app --host 127.0.0.1 --port $SEED_PORT --workers "$(nproc)" --log-level warning \
    >"../$BENCH_STATE/seed.log" 2>&1) & seed=$!
  start_integra 18081 memory memory; mem=$INTEGRA_PID
  start_integra 18082 redis memory; redis=$INTEGRA_PID
  start_integra 18083 redis kafka; full=$INTEGRA_PID
  pids=("$am" "$pg" "$seed" "$mem" "$redis" "$full")
  for port in $AM_PORT $PG_PORT $SEED_PORT; do
    for _ in $(seq 1 50); do (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null && break; sleep 0.1; done
  done
  # A page of 100 to list on each store.
  for port in 18081 18082; do scripts/seed-messages.sh "http://127.0.0.1:$port"; done
  local subjects=(
    "am|http://127.0.0.1:$AM_PORT/api/v2/alerts|scripts/wrk-new-alert.lua alertmanager|$am"
    "alerts-mem|http://127.0.0.1:18081/alerts|scripts/wrk-new-alert.lua|$mem"
    "alerts-redis|http://127.0.0.1:18082/alerts|scripts/wrk-new-alert.lua|$redis"
    "pg|http://127.0.0.1:$PG_PORT|scripts/wrk-push-metrics.lua pushgateway|$pg"
    "push-redis|http://127.0.0.1:18082/metrics|scripts/wrk-push-metrics.lua|$redis"
    "list-mem|http://127.0.0.1:18081/messages?limit=100||$mem"
    "list-redis|http://127.0.0.1:18082/messages?limit=100||$redis"
    "seed|http://127.0.0.1:$SEED_PORT/messages|scripts/wrk-post-message.lua|$seed"
    "send-full|http://127.0.0.1:18083/messages|scripts/wrk-post-message.lua|$full"
  )
  for r in $(seq 1 "$PEER_ROUNDS"); do
    echo "round $r of $PEER_ROUNDS" >&2
    for s in "${subjects[@]}"; do
      IFS='|' read -r name url script pid <<<"$s"
      peer_measure "$name" "$url" "$script" "$pid"
    done
  done
  kill "${pids[@]}" 2>/dev/null || true; wait "${pids[@]}" 2>/dev/null || true
  # The message row's dependency alone: the same broker, 64 publishes in flight (as many as wrk's
  # connections), each waiting for its acknowledgement, nothing else running. A broker that alone
  # cannot publish at 10x the seed's rate shows that no server on this machine can reach it.
  # The broker's CPU over the whole of it, per publish (linger.ms 5 batches more, and costs less a
  # publish: the figure is, if anything, below what 64 publishes at linger 0-1 cost).
  local alone b0 b1
  b0=$(cpu_ticks "$(broker_pid)")
  alone=$(BENCH_KAFKA_BROKERS=127.0.0.1:$KAFKA_PORT target/release/examples/publish_bench)
  b1=$(cpu_ticks "$(broker_pid)")
  stop_broker

  local m; m() { peer_median "$1" "$2"; }
  echo "### Integra beside its peers: $PEER_ROUNDS interleaved rounds of ${PEER_SECONDS} s, wrk -t2 -c$CONNECTIONS, medians"
  echo
  echo "| work | Integra | peer, same run | ratio | target |"
  echo "|---|---|---|---|---|"
  awk -v a="$(m alerts-mem 1)" -v b="$(m am 1)" -v c="$(m alerts-mem 2)" -v d="$(m am 2)" 'BEGIN {
    printf "| alert ingest, new ids, embedded store | %.0f/s, %s µs server | Alertmanager %s, `POST /api/v2/alerts`: %.0f/s, %s µs | **%.2fx** | >= 2x |\n",
      a, c, "'"$(prometheus-alertmanager --version 2>&1 | awk 'NR == 1 {print $3}')"'", b, d, a / b }'
  awk -v a="$(m alerts-redis 1)" -v b="$(m am 1)" -v c="$(m alerts-redis 2)" -v r="$(m alerts-redis 3)" 'BEGIN {
    printf "| alert ingest, new ids, Redis | %.0f/s, %s µs server + %s µs Redis | Alertmanager %.0f/s | **%.2fx** | >= 1.2x |\n",
      a, c, r, b, a / b }'
  awk -v a="$(m push-redis 1)" -v b="$(m pg 1)" -v p="$(m push-redis 4)" -v c="$(m push-redis 2)" -v d="$(m pg 2)" 'BEGIN {
    printf "| metric push, 100 samples per request, Redis | %.0f samples/s, p99 %s, %s µs server per request | Pushgateway %s: %.0f samples/s, %s µs per request | **%.2fx** | >= 3x |\n",
      a * 100, p, c, "'"$(prometheus-pushgateway --version 2>&1 | awk 'NR == 1 {print $3}')"'", b * 100, d, a / b }'
  awk -v a="$(m list-mem 1)" -v c="$(m list-mem 2)" 'BEGIN {
    printf "| `GET /messages?limit=100`, embedded | %.0f/s; %s µs of server CPU per request | - | - | <= 60 µs |\n", a, c }'
  awk -v a="$(m list-redis 1)" -v c="$(m list-redis 2)" -v r="$(m list-redis 3)" 'BEGIN {
    printf "| the same on Redis | %.0f/s; %s µs server + %s µs Redis | - | - | <= 90 µs server |\n", a, c, r }'
  awk -v a="$(m send-full 1)" -v p="$(m send-full 4)" -v c="$(m send-full 2)" -v b="$(m seed 1)" -v q="$(m seed 4)" -v d="$(m seed 2)" 'BEGIN {
    printf "| `POST /messages`, Redis + Kafka | %.0f/s, p99 %s, %s µs server | the seed in FastAPI (scripts/seed_fastapi.py), same Redis and broker: %.0f/s, p99 %s, %s µs | **%.2fx** | >= 10x the seed, p99 < 20 ms |\n", a, p, c, b, q, d, a / b }'
  echo
  echo "The broker alone, after the rounds (\`publish_bench\`: 64 publishes in flight, each acknowledged):"
  echo
  echo "$alone"
  echo
  awk -v seed="$(m seed 1)" -v alone="$alone" -v ticks=$((b1 - b0)) -v hz="$(getconf CLK_TCK)" \
    -v redis="$(m send-full 3)" 'BEGIN {
    n = split(alone, lines, "\n"); best = 0; published = 0
    for (i = 1; i <= n; i++) {
      split(lines[i], f, "|")
      published += (f[3] + 0) * 8
      if (f[3] + 0 > best) { best = f[3] + 0; linger = f[2] + 0 }
    }
    target = seed * 10; broker = ticks * 1e6 / hz / (published ? published : 1)
    cores = (broker + redis) * target / 1e6
    printf "10x the seed is %.0f messages/s; the broker alone publishes at most %.0f/s (linger.ms %d): %s\n\n",
      target, best, linger, (best < target ? "**beyond this machine**, whatever the server costs" : "within the broker'"'"'s reach alone")
    printf "At that rate the broker (%.0f µs a publish, alone) and Redis (%.0f µs a message in the rounds above) need %.2f of the machine'"'"'s 2 cores, before the server, wrk and the kernel: %s\n",
      broker, redis, cores, (cores >= 2 ? "**beyond this machine**" : "within it")
  }'
  echo
  local bad s n
  bad=$(for s in "${subjects[@]}"; do n=$(m "${s%%|*}" 5); [ "$n" = 0 ] || printf ' %s: %s' "${s%%|*}" "$n"; done)
  echo "non-2xx answers over every run:${bad:- none}"
}

# samples_run store: one fresh server on `store` (embedded bus), a million samples pushed; a row.
samples_run() {
  local store=$1 pid rss0 rss1 mem0 mem1 held total=${SAMPLES:-1000000}
  # The embedded bus: no broker; only Redis is made fresh.
  stop_broker
  redis-cli -u "$REDIS_URL" FLUSHDB >/dev/null
  start_integra 18084 "$store" memory; pid=$INTEGRA_PID
  rss0=$(awk '/^VmRSS/ {print $2 * 1024}' "/proc/$pid/status")
  mem0=$(redis-cli INFO memory | awk -F: '/^used_memory:/ {print $2 + 0}')
  scripts/push-samples.py 127.0.0.1:18084 "$total"
  rss1=$(awk '/^VmRSS/ {print $2 * 1024}' "/proc/$pid/status")
  mem1=$(redis-cli INFO memory | awk -F: '/^used_memory:/ {print $2 + 0}')
  held=$(curl -fs "http://127.0.0.1:18084/metrics?nome=carga_0&limit=10000" | grep -o '"nome"' | wc -l)
  kill "$pid"; wait "$pid" 2>/dev/null || true
  awk -v s="$store" -v n="$total" -v r=$((rss1 - rss0)) -v m=$((mem1 - mem0)) -v h="$held" 'BEGIN {
    printf "| %s | %d | %.1f (%.0f MiB) | %s | %d of %d |\n", s, n, r / n, r / 1048576,
      (s == "redis" ? sprintf("%.1f (%.0f MiB)", m / n, m / 1048576) : "-"), h, (n / 20 > 10000 ? 10000 : n / 20) }'
}

# channels_run store bus: a fresh release server on `store` and `bus`, the fan-out generator
# against it; its rows.
channels_run() {
  local store=$1 bus=$2 pid
  fresh_dependencies
  [ "$bus" = kafka ] || stop_broker
  INTEGRA__SERVER__BIND=127.0.0.1:18095 INTEGRA__LOG__LEVEL=warn \
  INTEGRA__STORE__BACKEND=$store INTEGRA__STORE__URL=$REDIS_URL \
  INTEGRA__BUS__BACKEND=$bus INTEGRA__BUS__BROKERS=127.0.0.1:$KAFKA_PORT \
  INTEGRA__CHANNELS__HISTORY_SIZE=10000 INTEGRA__WS__MAX_CONNECTIONS=20000 \
    run_server >/dev/null & pid=$!
  for _ in $(seq 1 150); do curl -fs http://127.0.0.1:18095/readyz >/dev/null && break; sleep 0.2; done
  echo "#### $store store, $bus bus"
  echo
  FANOUT_URL=http://127.0.0.1:18095 FANOUT_PID=$pid target/release/examples/fanout
  echo
  kill "$pid"; wait "$pid" 2>/dev/null || true
}

bench_channels() {
  cargo build -q --release -p integra-tests --example fanout
  echo "### Channels: fan-out, recovery and memory (tests/examples/fanout.rs)"
  echo
  channels_run memory memory
  channels_run redis kafka
}

bench_samples() {
  echo "### Bytes per metric sample held: ${SAMPLES:-1000000} samples, 20 names x 100 series, batches of 100"
  echo
  echo "| store | samples pushed | server RSS growth, bytes per sample | Redis used_memory growth, bytes per sample | samples of carga_0 read back |"
  echo "|---|---|---|---|---|"
  samples_run memory
  samples_run redis
  echo
}

for w in "${wanted[@]}"; do
  case "$w" in
    store) bench_store ;;
    bus) bench_bus ;;
    http) bench_http ;;
    metrics) bench_metrics ;;
    rules) bench_rules ;;
    peers) bench_peers ;;
    samples) bench_samples ;;
    channels) bench_channels ;;
    *) echo "unknown benchmark $w" >&2; exit 2 ;;
  esac
done
