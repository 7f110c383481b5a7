#!/usr/bin/env bash
# The chaos soak (make soak): two release servers share a Redis with AOF (appendfsync always) and
# a durable Tansu, both of their own; tests/examples/soak.rs drives mixed load for SOAK_SECS
# (600) while this script kills -9 and restarts Redis once and the broker once. The driver prints
# the invariants at the end and exits non-zero when one does not hold. Output: target/soak/.
#
# Usage: scripts/soak.sh   (SOAK_SECS=120 for a short run)
set -euo pipefail
cd "$(dirname "$0")/.."

SECS=${SOAK_SECS:-600}
BUS_TIMEOUT_MS=${SOAK_BUS_TIMEOUT_MS:-5000}
REDIS_PORT=6391 BROKER_PORT=9193 A_PORT=18181 B_PORT=18182
OUT=target/soak
mkdir -p "$OUT"
WORK=$(mktemp -d /tmp/integra-soak.XXXXXX)
LOG="$OUT/soak-$(date -u +%Y%m%dT%H%M%SZ).log"

scripts/services.sh tansu-durable >/dev/null
TANSU=${INTEGRA_TANSU_DURABLE:-${XDG_CACHE_HOME:-$HOME/.cache}/integra/tansu-0.6.0-libsql/bin/tansu}
command -v redis-server >/dev/null || scripts/services.sh redis >/dev/null
echo "soak: building the server and the driver (release)"
cargo build --release -q -p integra-server --bin integra-server -p integra-tests --example soak

pids=()
cleanup() {
  for p in "${pids[@]}" $(cat "$WORK"/*.pid 2>/dev/null); do kill -9 "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$WORK"
}
trap cleanup EXIT

wait_port() { for _ in $(seq 1 200); do (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null && return 0; sleep 0.1; done; return 1; }

start_redis() {
  redis-server --port $REDIS_PORT --bind 127.0.0.1 --appendonly yes --appendfsync always --save "" \
    --dir "$WORK" --logfile "$WORK/redis.log" >/dev/null 2>&1 &
  REDIS_PID=$!
  echo $REDIS_PID >"$WORK/redis.pid"
  wait_port $REDIS_PORT
}

start_broker() {
  mkdir -p "$WORK/tansu"
  (cd "$WORK/tansu" && exec "$TANSU" broker --listener-url tcp://127.0.0.1:$BROKER_PORT \
    --advertised-listener-url tcp://127.0.0.1:$BROKER_PORT --storage-engine sqlite://tansu.db \
    >>"$WORK/tansu.log" 2>&1) &
  BROKER_PID=$!
  echo $BROKER_PID >"$WORK/broker.pid"
  wait_port $BROKER_PORT
}

start_server() { # port
  INTEGRA__SERVER__BIND=127.0.0.1:$1 INTEGRA__STORE__BACKEND=redis \
  INTEGRA__STORE__URL=redis://127.0.0.1:$REDIS_PORT INTEGRA__STORE__KEY_PREFIX=soak: \
  INTEGRA__BUS__BACKEND=kafka INTEGRA__BUS__BROKERS=127.0.0.1:$BROKER_PORT \
  INTEGRA__BUS__TIMEOUT_MS=$BUS_TIMEOUT_MS INTEGRA__LOG__LEVEL=warn \
    target/release/integra-server >>"$OUT/server-$1.log" 2>&1 &
  pids+=($!)
  for _ in $(seq 1 600); do
    [ "$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$1/readyz")" = 200 ] && return 0
    sleep 0.1
  done
  echo "soak: the server on $1 did not get ready" >&2; return 1
}

# Leftovers of an earlier run would be measured instead: refuse.
for port in $REDIS_PORT $BROKER_PORT $A_PORT $B_PORT; do
  if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
    echo "soak: 127.0.0.1:$port is in use; stop what holds it" >&2; exit 1
  fi
done
start_redis
start_broker
: >"$OUT/server-$A_PORT.log"; : >"$OUT/server-$B_PORT.log"
start_server $A_PORT
start_server $B_PORT
began=$(date +%s)
stamp() { printf '%6ss %s\n' "$(($(date +%s) - began))" "$*"; }

# The faults (the daemons they restart keep no descriptor of tee's pipe, or it never ends): Redis
# at 35% of the run, down for 5 s; the broker at 65%, down for 10 s (longer
# than bus.timeout_ms: sends fail, and are resent).
faults() {
  sleep $((SECS * 35 / 100))
  stamp "kill -9 redis"; kill -9 "$REDIS_PID"; wait "$REDIS_PID" 2>/dev/null || true
  sleep 5; start_redis; stamp "redis restarted (its AOF replayed)"
  sleep $((SECS * 30 / 100))
  stamp "kill -9 broker"; kill -9 "$BROKER_PID"; wait "$BROKER_PID" 2>/dev/null || true
  sleep 10; start_broker; stamp "broker restarted (its SQLite kept)"
}

{
  echo "soak: $SECS s, two instances (127.0.0.1:$A_PORT, :$B_PORT), bus.timeout_ms $BUS_TIMEOUT_MS," \
    "Redis with AOF on :$REDIS_PORT, durable Tansu on :$BROKER_PORT; $(nproc) cores; $(date -u)"
  faults &
  FAULTS=$!
  SOAK_A=http://127.0.0.1:$A_PORT SOAK_B=http://127.0.0.1:$B_PORT SOAK_BROKERS=127.0.0.1:$BROKER_PORT \
  SOAK_SECS=$SECS SOAK_BUS_TIMEOUT_MS=$BUS_TIMEOUT_MS SOAK_PIDS="${pids[0]},${pids[1]}" \
    target/release/examples/soak && status=0 || status=$?
  wait "$FAULTS" 2>/dev/null || true
  for p in "${pids[@]}"; do kill -0 "$p" 2>/dev/null || { echo "soak: server $p died"; status=1; }; done
  echo "soak: panics in the server logs: $(cat "$OUT"/server-*.log | grep -c panicked || true)"
  exit $status
} 2>&1 | tee "$LOG"
