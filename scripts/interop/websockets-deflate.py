#!/usr/bin/env python3
"""Python `websockets` (compression on, its default) against a pushwire echo server: the
offer is accepted, and text and binary messages from 0 bytes to 1 MiB come back equal.

    python3 scripts/interop/websockets-deflate.py ws://127.0.0.1:PORT/
"""
import asyncio
import re
import sys

from websockets.asyncio.client import connect


def text(n):
    return ("hello world, how is everyone? " * (n // 30 + 1))[:n]


def binary(n):
    return bytes((k * 7 + (k >> 9)) % 251 for k in range(n))


async def main(url):
    sizes = [0, 1, 10, 100, 1000, 65536, 300000, 1 << 20]
    async with connect(url, max_size=64 << 20, open_timeout=10) as ws:
        agreed = [e.name for e in ws.protocol.extensions]
        print("[websockets-deflate] agreed:", ", ".join(agreed) or "(nothing)")
        if "permessage-deflate" not in agreed:
            sys.exit("[websockets-deflate] FAIL: permessage-deflate was not agreed")
        for n in sizes:
            for message in (text(n), binary(n)):
                await ws.send(message)
                echo = await asyncio.wait_for(ws.recv(), 30)
                if echo != message:
                    sys.exit("[websockets-deflate] FAIL: a %s message of %d bytes came back changed"
                             % (type(message).__name__, n))
    print("[websockets-deflate] ok: %d messages, 0 B to 1 MiB, text and binary, round-tripped"
          % (2 * len(sizes)))


if __name__ == "__main__":
    if len(sys.argv) != 2 or not re.match(r"^ws://127\.0\.0\.1:\d+/", sys.argv[1]):
        sys.exit("usage: websockets-deflate.py ws://127.0.0.1:PORT/  (loopback only)")
    asyncio.run(main(sys.argv[1]))
