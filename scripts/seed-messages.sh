#!/usr/bin/env bash
# Sends COUNT (150) messages of 150 characters to the server at URL, so that a page of 100 has
# something to list: scripts/bench.sh peers and scripts/threads.sh measure GET /messages?limit=100
# on what this writes. Usage: scripts/seed-messages.sh URL [COUNT]
set -euo pipefail
url=$1 count=${2:-150}
body="{\"tipo\":\"email\",\"destinatario\":\"ana@example.com\",\"conteudo\":\"$(head -c 150 /dev/zero | tr '\0' x)\"}"
for _ in $(seq 1 "$count"); do
  curl -fs -o /dev/null -H 'content-type: application/json' -d "$body" "$url/messages"
done
