#!/usr/bin/env python3
"""What an idle subscriber costs the hub, by transport: server RSS growth per connection.

    scripts/idle-subscribers.py [--bin target/release/pushwire] [--conns 10000]

For each transport it starts a fresh `pushwire serve` on a free loopback port (and stops
it by PID), opens CONNS subscribers to one channel, lets each receive one message (so
every buffer that is used at all has been used), waits for the server to settle, and
reports (RSS after - RSS before) / CONNS:

    websocket   GET /channels/idle with an upgrade (no compression offered)
    sse         GET /channels/idle with Accept: text/event-stream
    longpoll    GET /channels/idle?timeout=120 held (a parked poll)
    ws-mux      GET /ws with pushwire.v1, then {"type":"subscribe","channel":"idle"}
    events      GET /events?channel=idle (Server-Sent Events of several channels)
    poll-multi  GET /poll?channel=idle&timeout=120 held

Standard library only; every socket stays on 127.0.0.1; bounded in count and time.
"""
import argparse
import base64
import os
import resource
import selectors
import socket
import subprocess
import sys
import time


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def rss_kib(pid):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    raise RuntimeError("no VmRSS")


def settle(pid, quiet=0.5, limit=10.0):
    """RSS once it has stopped moving for `quiet` seconds."""
    last, since, start = rss_kib(pid), time.time(), time.time()
    while time.time() - start < limit:
        time.sleep(0.1)
        now = rss_kib(pid)
        if now != last:
            last, since = now, time.time()
        elif time.time() - since >= quiet:
            break
    return last


def request_for(transport, i):
    if transport in ("websocket", "ws-mux"):
        key = base64.b64encode(os.urandom(16)).decode()
        path, protocol = "/channels/idle", ""
        if transport == "ws-mux":
            path, protocol = "/ws", "Sec-WebSocket-Protocol: pushwire.v1\r\n"
        return ("GET %s HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\n"
                "Connection: Upgrade\r\nSec-WebSocket-Key: %s\r\n%s"
                "Sec-WebSocket-Version: 13\r\n\r\n" % (path, key, protocol)).encode()
    if transport == "sse":
        return b"GET /channels/idle HTTP/1.1\r\nHost: x\r\nAccept: text/event-stream\r\n\r\n"
    if transport == "events":
        return b"GET /events?channel=idle HTTP/1.1\r\nHost: x\r\n\r\n"
    if transport == "poll-multi":
        return b"GET /poll?channel=idle&timeout=120 HTTP/1.1\r\nHost: x\r\n\r\n"
    return b"GET /channels/idle?timeout=120 HTTP/1.1\r\nHost: x\r\n\r\n"


def client_text_frame(text):
    """A masked text frame (RFC 6455 §5.3), with an all-zero key: the payload as is."""
    payload = text.encode()
    assert len(payload) < 126
    return bytes([0x81, 0x80 | len(payload), 0, 0, 0, 0]) + payload


def open_all(port, transport, n, deadline):
    socks = []
    sel = selectors.DefaultSelector()
    for i in range(n):
        s = socket.create_connection(("127.0.0.1", port))
        s.sendall(request_for(transport, i))
        s.setblocking(False)
        sel.register(s, selectors.EVENT_READ)
        socks.append(s)
        if i % 500 == 499:
            drain(sel, 0.0)
        if time.time() > deadline:
            raise RuntimeError("opening took too long")
    return socks, sel


def drain(sel, timeout):
    """Reads whatever has arrived; returns how many bytes."""
    total = 0
    for key, _ in sel.select(timeout):
        try:
            data = key.fileobj.recv(65536)
        except BlockingIOError:
            continue
        total += len(data)
    return total


def measure(binary, transport, n):
    port = free_port()
    server = subprocess.Popen([binary, "serve", "--addr", "127.0.0.1:%d" % port, "--log", "off",
                               "--max-poll-timeout", "300"],
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        for _ in range(100):
            try:
                socket.create_connection(("127.0.0.1", port)).close()
                break
            except OSError:
                time.sleep(0.05)
        # Warm the channel and the server's pools, so the base is not the empty process.
        publish(port, "warm")
        base = settle(server.pid)
        deadline = time.time() + 120
        socks, sel = open_all(port, transport, n, deadline)
        while drain(sel, 0.2):
            pass
        if transport == "ws-mux":
            subscribe = client_text_frame('{"type":"subscribe","channel":"idle"}')
            for s in socks:
                s.setblocking(True)
                s.sendall(subscribe)
                s.setblocking(False)
            while drain(sel, 0.2):
                pass
        # One message to every subscriber (long-polls are answered by it, then poll again).
        publish(port, "one message for everyone")
        end = time.time() + 2
        while time.time() < end and drain(sel, 0.1):
            pass
        if transport in ("longpoll", "poll-multi"):
            for s in socks:
                s.setblocking(True)
                s.sendall(request_for(transport, 0))
                s.setblocking(False)
        while drain(sel, 0.2):
            pass
        after = settle(server.pid)
        per = (after - base) * 1024 / n
        for s in socks:
            s.close()
        return base, after, per
    finally:
        server.terminate()
        server.wait(timeout=10)


def publish(port, text):
    with socket.create_connection(("127.0.0.1", port)) as s:
        body = text.encode()
        s.sendall(b"POST /channels/idle HTTP/1.1\r\nHost: x\r\nConnection: close\r\n"
                  b"Content-Length: %d\r\n\r\n%s" % (len(body), body))
        while s.recv(65536):
            pass


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--bin", default="target/release/pushwire")
    parser.add_argument("--conns", type=int, default=10_000)
    parser.add_argument("transports", nargs="*", default=["websocket", "sse", "longpoll"])
    opts = parser.parse_args()
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (min(hard, max(soft, opts.conns + 1000)), hard))
    for transport in opts.transports:
        base, after, per = measure(opts.bin, transport, opts.conns)
        print("%-10s %6d conns  RSS %7d -> %7d KiB  %5.0f bytes per subscriber"
              % (transport, opts.conns, base, after, per), flush=True)


if __name__ == "__main__":
    sys.exit(main())
