#!/usr/bin/env python3
"""300 WebSocket clients (Python `websockets`, a standard client) connect to a running Integra,
receive one broadcast, and close one after another with the closing handshake; prints how long
each phase took. Usage: scripts/ws300.py [http://127.0.0.1:8080]   (pip install websockets)"""
import asyncio, json, sys, time, urllib.request

import websockets

BASE = sys.argv[1] if len(sys.argv) > 1 else "http://127.0.0.1:8080"


async def main():
    url = "ws" + BASE[len("http"):] + "/ws"
    started = time.monotonic()
    clients = []
    for _ in range(300):
        ws = await websockets.connect(url)
        assert json.loads(await ws.recv())["evento"] == "conectado"
        clients.append(ws)
    connected = time.monotonic()
    request = urllib.request.Request(
        BASE + "/ws/broadcast", data=b'{"texto":"ola"}', headers={"content-type": "application/json"}
    )
    assert urllib.request.urlopen(request).status == 202
    for ws in clients:
        assert await ws.recv() == "ola"
    received = time.monotonic()
    for ws in clients:
        await ws.close()
    closed = time.monotonic()
    print(f"300 connected in {connected - started:.2f} s, the broadcast received by all in "
          f"{received - connected:.2f} s, closed one after another in {closed - received:.2f} s; "
          f"{closed - started:.2f} s in all")


asyncio.run(main())
