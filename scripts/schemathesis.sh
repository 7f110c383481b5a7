#!/usr/bin/env bash
# Runs schemathesis (PyPI) with every check over the /openapi.json of a server of this build, with
# auth off and then on; fails if either run finds anything. Installs schemathesis when missing.
# Usage: scripts/schemathesis.sh [max examples per operation, default 100]
set -euo pipefail
cd "$(dirname "$0")/.."
EXAMPLES=${1:-100}
PORT=${SCHEMATHESIS_PORT:-18333}
KEY=schemathesis-key
command -v schemathesis >/dev/null || python3 -m pip install -q schemathesis >/dev/null
cargo build -q -p integra-server
server=

stop() { if [ -n "$server" ]; then kill "$server" 2>/dev/null || true; wait "$server" 2>/dev/null || true; fi; }
trap stop EXIT

run() { # auth-keys (empty: off)
  stop
  local keys=()
  [ -n "$1" ] && keys=("INTEGRA__AUTH__API_KEYS=$1")
  env INTEGRA__SERVER__BIND=127.0.0.1:$PORT INTEGRA__LOG__LEVEL=error "${keys[@]}" \
    target/debug/integra-server >/dev/null & server=$!
  for _ in $(seq 1 100); do curl -fs "http://127.0.0.1:$PORT/healthz" >/dev/null && break; sleep 0.1; done
  local auth=()
  [ -n "$1" ] && auth=(-H "Authorization: Bearer $1")
  echo "== auth $([ -n "$1" ] && echo on || echo off)"
  schemathesis --config-file scripts/schemathesis.toml run "http://127.0.0.1:$PORT/openapi.json" \
    --checks all --exclude-checks use_after_free --max-examples "$EXAMPLES" --workers 2 --continue-on-failure "${auth[@]}"
}

failed=0
run "" || failed=1
run "$KEY" || failed=1
exit $failed
