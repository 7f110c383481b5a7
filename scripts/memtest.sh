#!/usr/bin/env bash
# The memory test of the hostile-clients issue: the release server on the embedded backends,
# metrics pushed at full speed for MINUTES (5) over 2,000 series, then 20,000 requests with
# invented methods and paths. Prints the server's resident memory every 10 s, what the store says
# it holds and evicted, and the size of the exposition, so that anyone can see it level off.
# Usage: scripts/memtest.sh   (MINUTES=1 for a quick look; extra INTEGRA__… variables pass through)
set -euo pipefail
cd "$(dirname "$0")/.."
MINUTES=${MINUTES:-5}
PORT=${MEMTEST_PORT:-18555}
command -v wrk >/dev/null || (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq wrk) >/dev/null
cargo build -q --release -p integra-server
base=http://127.0.0.1:$PORT
INTEGRA__SERVER__BIND=127.0.0.1:$PORT INTEGRA__LOG__LEVEL=warn target/release/integra-server >/dev/null & pid=$!
trap 'kill $pid 2>/dev/null || true' EXIT
for _ in $(seq 1 100); do curl -fs "$base/healthz" >/dev/null && break; sleep 0.1; done

rss() { awk '/VmRSS/ {printf "%.0f", $2 / 1024}' "/proc/$pid/status"; }
gauge() { curl -fs "$base/metrics/prometheus" | awk -v m="$1" '$1 == m {printf "%.0f", $2}'; }
row() { # label
  printf '| %s | %s MiB | %s MiB | %s | %s KB |\n' "$1" "$(rss)" \
    "$(( $(gauge integra_store_memory_bytes) / 1048576 ))" "$(gauge integra_store_evicted_records_total)" \
    "$(( $(curl -fs "$base/metrics/prometheus" | wc -c) / 1024 ))"
}

echo "Machine: $(nproc) cores; $(date -u +%Y-%m-%dT%H:%MZ); store.memory_max_bytes = ${INTEGRA__STORE__MEMORY_MAX_BYTES:-536870912}"
echo
echo "| time | server RSS | store holds (its count) | evicted | exposition |"
echo "|---|---|---|---|---|"
row "start"
wrk -t2 -c32 -d"${MINUTES}m" -s scripts/wrk-push-metrics.lua "$base/metrics" > /tmp/memtest-wrk.txt & load=$!
for second in $(seq 10 10 $((MINUTES * 60))); do
  sleep 10
  row "push ${second} s"
done
wait $load
row "push done"
echo
echo "wrk: $(awk '/Requests\/sec/ {printf "%s requests/s = %.0f samples/s", $2, $2 * 100}' /tmp/memtest-wrk.txt), $(awk '/Non-2xx/ {print $NF}' /tmp/memtest-wrk.txt || true) non-2xx"
echo
python3 - "$base" <<'PY'
import http.client, random, string, sys, urllib.parse
host = urllib.parse.urlparse(sys.argv[1]).netloc
conn = http.client.HTTPConnection(host)
statuses = {}
for i in range(20000):
    method = "".join(random.choices(string.ascii_uppercase, k=random.randint(3, 12)))
    path = "/" + "/".join("".join(random.choices(string.ascii_lowercase + string.digits, k=6)) for _ in range(random.randint(1, 4)))
    try:
        conn.request(method, path)
        response = conn.getresponse()
        response.read()
        statuses[response.status] = statuses.get(response.status, 0) + 1
    except Exception:
        conn = http.client.HTTPConnection(host)
print("20,000 invented requests:", ", ".join(f"{n} x {s}" for s, n in sorted(statuses.items())))
PY
row "after 20,000 invented requests"
