#!/usr/bin/env bash
# Instructions per request of one server worker, counted by callgrind: a figure that does not
# move with the load of this shared machine, so that two builds compare in any hour.
#
#   scripts/instructions.sh BIN STORE BUS PATH WRK_SCRIPT [OUT]
#   e.g. scripts/instructions.sh target/release/integra-server memory memory /alerts scripts/wrk-new-alert.lua
#
# The server runs under valgrind with one worker (INTEGRA__SERVER__WORKERS=1) and counting off;
# after a warm-up of 5 s (wrk -t1 -c8), counting is switched on for SECONDS_COUNTED (15) s of the same load,
# then dumped to OUT.1 (callgrind_annotate OUT.1 reads it). Background work of the server (timers,
# the silences' and the rules' rounds) is counted too, shared among the requests.
# STORE redis uses database 15 of the local Redis, flushed first; BUS kafka the broker at
# KAFKA_BROKERS (127.0.0.1:9092, what `make services` starts).
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=$1 STORE=$2 BUS=$3 URL_PATH=$4 SCRIPT=$5 OUT=${6:-target/bench/callgrind.out}
PORT=${PORT:-18555}
mkdir -p "$(dirname "$OUT")"; rm -f "$OUT" "$OUT".*
command -v valgrind >/dev/null || (apt-get install -y -qq valgrind >/dev/null)
redis-cli -n 15 FLUSHDB >/dev/null
INTEGRA__SERVER__BIND=127.0.0.1:$PORT INTEGRA__SERVER__WORKERS=1 INTEGRA__LOG__LEVEL=warn \
INTEGRA__STORE__BACKEND=$STORE INTEGRA__STORE__URL=redis://127.0.0.1:6379/15 \
INTEGRA__BUS__BACKEND=$BUS INTEGRA__BUS__BROKERS=${KAFKA_BROKERS:-127.0.0.1:9092} \
  valgrind --tool=callgrind --instr-atstart=no --callgrind-out-file="$OUT" \
  "$BIN" --config config/default.toml >"$OUT.log" 2>&1 & pid=$!
trap 'kill $pid 2>/dev/null || true' EXIT
for _ in $(seq 1 300); do curl -fs "http://127.0.0.1:$PORT/readyz" >/dev/null && break; sleep 0.5; done
wrk -t1 -c8 -d5s -s "$SCRIPT" "http://127.0.0.1:$PORT$URL_PATH" >/dev/null
callgrind_control -i on $pid >/dev/null
wrk -t1 -c8 -d"${SECONDS_COUNTED:-15}s" -s "$SCRIPT" "http://127.0.0.1:$PORT$URL_PATH" >"$OUT.wrk"
callgrind_control -i off $pid >/dev/null
callgrind_control -d $pid >/dev/null
sleep 1
requests=$(awk '/requests in/ {print $1}' "$OUT.wrk")
instructions=$(callgrind_annotate "$OUT.1" 2>/dev/null | grep 'PROGRAM TOTALS' | tr -d , | awk '{print $1}' || true)
echo "requests=$requests instructions=$instructions per_request=$((instructions / requests))"
