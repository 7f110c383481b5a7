#!/usr/bin/env bash
# The CPU of each thread of a running server and of Redis, and the machine's idle time, under one
# wrk load: what tells a load that the CPU limits from one that a serial chain limits.
# Usage: scripts/threads.sh BIN STORE PATH [WRK_SCRIPT] [CONNECTIONS] [SECONDS]
#   BIN          an integra-server build (target/release/integra-server)
#   STORE        memory | redis (Redis database 15, flushed; the bus is the embedded one)
#   PATH         e.g. /alerts (with scripts/wrk-new-alert.lua), /metrics (scripts/wrk-push-metrics.lua),
#                '/messages?limit=100' (no script: scripts/seed-messages.sh sends 150 first)
# Prints the rate, the machine's idle time (200% = both cores idle) and, per thread name (the
# actix workers, the main thread that runs the Redis pool, librdkafka's), its share of a core and
# its CPU per request, from /proc.
set -euo pipefail
BIN=$1 STORE=$2 URLPATH=$3 WRK_SCRIPT=${4:-} CONNECTIONS=${5:-64} SECONDS_=${6:-8}
PORT=${PORT:-18089}
cd "$(dirname "$0")/.."
redis-cli -n 15 FLUSHDB >/dev/null
INTEGRA__SERVER__BIND=127.0.0.1:$PORT INTEGRA__STORE__BACKEND=$STORE \
  INTEGRA__STORE__URL=redis://127.0.0.1:6379/15 INTEGRA__BUS__BACKEND=memory INTEGRA__LOG__LEVEL=warn \
  "$BIN" >/dev/null 2>&1 &
server=$!
trap 'kill $server 2>/dev/null || true' EXIT
for _ in $(seq 1 100); do curl -fs -o /dev/null "http://127.0.0.1:$PORT/readyz" && break; sleep 0.1; done
if [ -z "$WRK_SCRIPT" ]; then scripts/seed-messages.sh "http://127.0.0.1:$PORT"; fi
load() { wrk -t2 -c"$CONNECTIONS" -d"$1"s ${WRK_SCRIPT:+-s "$WRK_SCRIPT"} "http://127.0.0.1:$PORT$URLPATH"; }
load 2 >/dev/null
redis=$(pgrep -f 'redis-server.*:6379' | head -1)
# Ticks (1/100 s) by thread name, Redis as one, and the machine's idle ticks.
snapshot() {
  for task in /proc/$server/task/*; do
    echo "$(tr ' ' _ <"$task/comm") $(awk '{print $14 + $15}' "$task/stat")"
  done
  echo "redis-server $(awk '{print $14 + $15}' "/proc/$redis/stat")"
  echo "idle $(awk '/^cpu / {print $5 + $6}' /proc/stat)"
}
before=$(snapshot)
out=$(load "$SECONDS_")
after=$(snapshot)
rate=$(awk '/Requests\/sec/ {print $2}' <<<"$out")
echo "rate: $rate/s with $CONNECTIONS connections; $(awk '/Latency/ {print "latency", $2, "on average,", $4, "at most"}' <<<"$out")"
sum() { awk '{t[$1] += $2} END {for (k in t) print k, t[k]}' | sort; }
join <(sum <<<"$before") <(sum <<<"$after") | awk -v s="$SECONDS_" -v r="$rate" '
  $1 == "idle" { printf "machine idle: %.0f%% of a core (200%% = both cores idle)\n", ($3 - $2) / s; next }
  $3 > $2 { printf "  %-18s %5.1f%% of a core  %7.1f µs a request\n", $1, ($3 - $2) / s, ($3 - $2) * 10000 / (s * r) }'
