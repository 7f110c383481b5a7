#!/usr/bin/env python3
"""Pushes SAMPLES metric samples to an Integra server (POST /metrics, batches of 100, one
keep-alive connection): 20 names x 100 series (labels instancia, zona), each series' samples a
millisecond apart within the last hour, so that every one is kept. scripts/bench.sh samples.

Usage: push-samples.py HOST:PORT [SAMPLES]"""
import datetime
import http.client
import json
import sys

NAMES, SERIES, BATCH = 20, 100, 100


def main() -> None:
    host, port = sys.argv[1].rsplit(":", 1)
    total = int(sys.argv[2]) if len(sys.argv) > 2 else 1_000_000
    start = datetime.datetime.now(datetime.timezone.utc) - datetime.timedelta(hours=1)
    conn = http.client.HTTPConnection(host, int(port))
    batch = []
    for i in range(total):
        step = i // (NAMES * SERIES)
        at = start + datetime.timedelta(milliseconds=step)
        batch.append({
            "nome": f"carga_{i % NAMES}",
            "valor": (i % 1000) / 10,
            "labels": {"instancia": f"i{(i // NAMES) % SERIES}", "zona": "z1"},
            "timestamp": at.strftime("%Y-%m-%dT%H:%M:%S.") + f"{at.microsecond // 1000:03d}Z",
        })
        if len(batch) == BATCH or i == total - 1:
            conn.request("POST", "/metrics", json.dumps(batch), {"content-type": "application/json"})
            answer = conn.getresponse()
            answer.read()
            if answer.status != 201:
                sys.exit(f"POST /metrics answered {answer.status}")
            batch = []


if __name__ == "__main__":
    main()
