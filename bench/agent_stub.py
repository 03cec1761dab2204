#!/usr/bin/env python3
"""A stand-in for the controller's agent endpoints, to measure an emulator
alone (bench/emulate.sh STUB=1): register, heartbeat, status and logs are
answered at once with 200, a long-poll is held for its `wait` and answered
empty; no state, no scheduling. HTTP/1.1 keep-alive on 127.0.0.1 only.
Prints the requests of each kind every 5 s.
Usage: agent_stub.py PORT_FILE HEARTBEAT_MS  (writes the port it listens on)
"""
import asyncio
import json
import sys
import time

counts = {}


async def handle(reader, writer):
    try:
        while True:
            line = await reader.readline()
            if not line:
                break
            _, target, _ = line.decode().split(" ", 2)
            length = 0
            while True:
                header = await reader.readline()
                if header in (b"\r\n", b"\n", b""):
                    break
                key, _, value = header.decode().partition(":")
                if key.lower() == "content-length":
                    length = int(value)
            body = await reader.readexactly(length) if length else b""
            kind = target.split("?")[0].rsplit("/", 1)[-1]
            counts[kind] = counts.get(kind, 0) + 1
            out = "{}"
            if kind == "register":
                out = json.dumps({"node": json.loads(body)["name"],
                                  "heartbeat_interval_ms": int(sys.argv[2]),
                                  "fence_after_ms": 0})
            elif kind == "assignments":
                await asyncio.sleep(int(target.split("wait=")[1].split("&")[0]))
            writer.write(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
                         b"Content-Length: %d\r\n\r\n%s" % (len(out), out.encode()))
            await writer.drain()
    except (ConnectionError, asyncio.IncompleteReadError, ValueError, IndexError):
        pass
    writer.close()


async def report():
    last = {}
    while True:
        await asyncio.sleep(5)
        rates = {k: (v - last.get(k, 0)) / 5 for k, v in sorted(counts.items())}
        print(time.strftime("%T"), "requests/s:", rates, flush=True)
        last = dict(counts)


async def main():
    server = await asyncio.start_server(handle, "127.0.0.1", 0, backlog=8192)
    with open(sys.argv[1] + ".tmp", "w") as f:
        f.write("%d\n" % server.sockets[0].getsockname()[1])
    import os
    os.rename(sys.argv[1] + ".tmp", sys.argv[1])
    asyncio.create_task(report())
    async with server:
        await server.serve_forever()


asyncio.run(main())
