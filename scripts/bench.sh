#!/usr/bin/env bash
# Integra's benchmarks, each beside a yardstick measured in the same run on the same machine:
#   1. the Redis store's operations, beside redis-benchmark;
#   2. POST /messages end to end on Redis + Kafka, beside a bare actix-web JSON handler (wrk).
# Prints markdown; BENCHMARKS.md records a run. Usage: scripts/bench.sh [store|http]...
set -euo pipefail
cd "$(dirname "$0")/.."

CONNECTIONS=${CONNECTIONS:-64}
DURATION=${DURATION:-20s}
wanted=("$@"); [ ${#wanted[@]} -eq 0 ] && wanted=(store http)

scripts/services.sh >&2
if ! command -v wrk >/dev/null; then
  (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq wrk) >/dev/null
fi
# --bins as well: selecting examples alone would build no server binary.
cargo build -q --release -p integra-server --bins -p integra-http --example bare -p integra-redis --example store_bench

echo "Machine: $(nproc) cores, $(free -g | awk '/Mem/ {print $2}') GiB; $(date -u +%Y-%m-%dT%H:%MZ)"
echo

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

wrk_run() { # name url
  local out rps p50 p99 errors
  out=$(wrk -t2 -c"$CONNECTIONS" -d"$DURATION" --latency -s scripts/wrk-post-message.lua "$2")
  rps=$(awk '/Requests\/sec/ {print $2}' <<<"$out")
  p50=$(awk '$1 == "50%" {print $2}' <<<"$out")
  p99=$(awk '$1 == "99%" {print $2}' <<<"$out")
  errors=$(awk '/Non-2xx/ {print $NF}' <<<"$out"); errors=${errors:-0}
  echo "| $1 | $rps | $p50 | $p99 | $errors |"
  RPS[$1]=$rps
}

bench_http() {
  local prefix="bench$(date +%s)." bare_pid server_pid port
  declare -gA RPS
  for port in 18000 18080; do
    if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
      echo "port $port is already in use: stop what listens there first" >&2
      exit 1
    fi
  done
  target/release/examples/bare 127.0.0.1:18000 & bare_pid=$!
  INTEGRA__SERVER__BIND=127.0.0.1:18080 INTEGRA__LOG__LEVEL=warn \
  INTEGRA__STORE__BACKEND=redis INTEGRA__STORE__KEY_PREFIX="$prefix" \
  INTEGRA__BUS__BACKEND=kafka INTEGRA__BUS__TOPIC_PREFIX="$prefix" \
    target/release/integra-server >/dev/null & server_pid=$!
  trap 'kill $bare_pid $server_pid 2>/dev/null || true' RETURN
  for _ in $(seq 1 100); do curl -fs http://127.0.0.1:18080/readyz >/dev/null && break; sleep 0.2; done
  curl -fs http://127.0.0.1:18080/readyz >/dev/null
  # Warm up both (connections, topic creation, JIT-free but caches and pools).
  wrk -t2 -c"$CONNECTIONS" -d3s -s scripts/wrk-post-message.lua http://127.0.0.1:18000/messages >/dev/null
  wrk -t2 -c"$CONNECTIONS" -d3s -s scripts/wrk-post-message.lua http://127.0.0.1:18080/messages >/dev/null
  echo "### POST /messages, $CONNECTIONS connections, $DURATION, wrk on the same 2 cores"
  echo
  echo "| server | requests/s | p50 | p99 | non-2xx |"
  echo "|---|---|---|---|---|"
  wrk_run "bare actix-web JSON handler" http://127.0.0.1:18000/messages
  wrk_run "integra-server, Redis + Kafka (Tansu)" http://127.0.0.1:18080/messages
  echo
  awk -v a="${RPS[integra-server, Redis + Kafka (Tansu)]}" -v b="${RPS[bare actix-web JSON handler]}" \
    'BEGIN { printf "integra / bare: %.3f (1/%.1f)\n", a / b, b / a }'
  local stored
  stored=$(curl -fs "http://127.0.0.1:18080/messages?status=CONCLUIDA&limit=1" | head -c 300)
  echo
  echo "a message as stored after the run: \`$stored\`"
}

for w in "${wanted[@]}"; do
  case "$w" in
    store) bench_store ;;
    http) bench_http ;;
    *) echo "unknown benchmark $w" >&2; exit 2 ;;
  esac
done
