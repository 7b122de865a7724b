#!/usr/bin/env python3
"""The checks of scripts/nginx-test.sh: pushwire behind nginx with TLS, as docs/nginx.conf
configures it.

    nginx-test.py render --conf docs/nginx.conf --out FILE --upstream-port P --https-port T
                         --http-port H --cert CRT --key KEY --access-log LOG
    nginx-test.py check  --conf docs/nginx.conf --bin PUSHWIRE --https-port T --http-port H
                         --ca CA --trace-log LOG --error-log LOG --access-log LOG
                         [--nginx-version V] [--started EPOCH]

`render` substitutes the test's ports and paths into the documented file and refuses to
write it if one of the documented values is gone (so the test cannot silently drift from
the documentation). `check` runs every check against the running pair; `pushwire serve`
must run with --trace, writing to --trace-log: what pushwire received from nginx (the
forwarded headers, which upstream connection carried which request) is read from it.

Every wait is bounded; the first failed check ends the run with exit status 1.
"""

import argparse
import http.client
import json
import re
import socket
import ssl
import subprocess
import sys
import threading
import time

from websockets.exceptions import InvalidStatus
from websockets.sync.client import connect as ws_connect

HOST = "localhost"
# Sent by the test on the requests it wants to find again in pushwire's trace.
PROBE_HEADER = "X-Nginx-Test"


class CheckFailed(Exception):
    pass


def expect(condition, message):
    if not condition:
        raise CheckFailed(message)


# --- render ---------------------------------------------------------------------------

# Each documented value the test replaces, with what it becomes. Every one must occur
# exactly once in docs/nginx.conf.
def substitutions(args):
    return [
        ("server 127.0.0.1:8080;", f"server 127.0.0.1:{args.upstream_port};"),
        # sndbuf is the one test-only setting. On loopback the kernel's send buffer took
        # a whole 1 MiB answer at once (measured), so a client that does not read never
        # made nginx wait, buffering on or off. A small one makes nginx wait, as a slow
        # link does, and the slow-reader check can tell whether nginx reads ahead (into a
        # temporary file) or leaves the rest with pushwire.
        ("listen 443 ssl http2;", f"listen 127.0.0.1:{args.https_port} ssl http2 sndbuf=16k;"),
        ("listen 80;", f"listen 127.0.0.1:{args.http_port};"),
        (
            "/etc/letsencrypt/live/push.example.com/fullchain.pem;",
            f"{args.cert};",
        ),
        ("/etc/letsencrypt/live/push.example.com/privkey.pem;", f"{args.key};"),
        (
            "access_log /var/log/nginx/pushwire.access.log pushwire;",
            f"access_log {args.access_log} pushwire;",
        ),
    ]


def directives(text):
    """The configuration without its comments (for the checks on what nginx reads)."""
    return "\n".join(line.split("#", 1)[0] for line in text.splitlines())


def render(args):
    text = open(args.conf, encoding="utf-8").read()
    for documented, tested in substitutions(args):
        count = directives(text).count(documented)
        if count != 1:
            sys.exit(
                f"nginx-test.py: {args.conf} has {count} occurrences of "
                f"`{documented}` (expected 1): update scripts/nginx-test.py with it"
            )
        text = text.replace(documented, tested, 1)
    # What is left must not reach outside the test's own directory.
    for path in re.findall(r"(?<![\w$])/(?:etc|var|run|usr)/\S*", directives(text)):
        sys.exit(f"nginx-test.py: the rendered configuration still names {path}")
    with open(args.out, "w", encoding="utf-8") as out:
        out.write(text)


# --- helpers --------------------------------------------------------------------------


def tls_context(ca):
    """Trusts the test's CA and nothing else; hostname checking stays on."""
    ctx = ssl.create_default_context(cafile=ca)
    expect(ctx.verify_mode == ssl.CERT_REQUIRED and ctx.check_hostname, "TLS verification off")
    return ctx


class Https:
    def __init__(self, port, ctx):
        self.port = port
        self.ctx = ctx

    def connection(self, timeout=10):
        return http.client.HTTPSConnection(HOST, self.port, context=self.ctx, timeout=timeout)

    def request(self, method, path, body=None, headers=None, timeout=10, conn=None):
        own = conn is None
        conn = conn or self.connection(timeout)
        try:
            start = time.monotonic()
            conn.request(method, path, body=body, headers=headers or {})
            resp = conn.getresponse()
            data = resp.read()
            return resp.status, resp, data, time.monotonic() - start
        finally:
            if own:
                conn.close()

    def publish(self, channel, text):
        status, resp, body, elapsed = self.request(
            "POST", f"/channels/{channel}", body=text.encode(),
            headers={"Content-Type": "text/plain; charset=utf-8"},
        )
        expect(status == 201, f"POST /channels/{channel}: {status} {body[:200]!r}")
        answer = json.loads(body)
        expect(
            set(answer) == {"id", "epoch"} and isinstance(answer["id"], int)
            and re.fullmatch(r"[A-Za-z0-9_-]{11}", answer["epoch"]),
            f"POST /channels/{channel}: unexpected answer {answer}",
        )
        return answer, elapsed


def ms(seconds):
    return f"{seconds * 1000:.1f} ms"


def wait_for(predicate, what, seconds=5.0):
    deadline = time.monotonic() + seconds
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise CheckFailed(f"timed out after {seconds} s waiting for {what}")
        time.sleep(0.05)


def serve_default(binary, option):
    """`pushwire serve --help`'s default for OPTION, in seconds (e.g. 120 for
    --max-poll-timeout): the test compares the documented nginx timeouts with the values
    the binary really runs with."""
    out = subprocess.run(
        [binary, "serve", "--help"], capture_output=True, text=True, timeout=10, check=True
    ).stdout
    match = re.search(re.escape(option) + r" .*?\[default: (\d+)\]", out, re.S)
    expect(match, f"`pushwire serve --help` gives no default for {option}")
    return int(match.group(1))


def nginx_seconds(conf_text, directive):
    """The one value of DIRECTIVE in docs/nginx.conf, in seconds (`150s`, `150`, `2m`)."""
    values = re.findall(rf"^\s*{directive}\s+(\d+)([sm]?)\s*;", directives(conf_text), re.M)
    expect(len(values) == 1,
           f"{directive} is set {len(values)} times in seconds or minutes in docs/nginx.conf")
    number, unit = values[0]
    return int(number) * (60 if unit == "m" else 1)


# --- pushwire's trace: what nginx sent upstream ---------------------------------------

# `HH:MM:SS.ffffff [#C <-] text`: the time of day, the connection, the direction.
TRACE_LINE = re.compile(r"^\d\d:\d\d:\d\d\.\d{6} \[#(\d+\.\d+) (<-|->)\] (.*)$")


def upstream_heads(trace_log):
    """Every HTTP head pushwire received, as {conn, line, headers}, in order. pushwire
    --trace prints a head as `TIME [#C <-] HTTP GET /path HTTP/1.1` followed by one
    `TIME [#C <-]      Name: value` line per header (and a body as one
    `TIME [#C <-]      (body: N bytes)` line)."""
    heads, open_heads = [], {}
    with open(trace_log, encoding="utf-8", errors="replace") as f:
        for raw in f:
            m = TRACE_LINE.match(raw.rstrip("\n"))
            if not m:
                continue
            conn, direction, text = m.groups()
            if direction != "<-":
                continue
            if text.startswith("HTTP "):
                line = text[5:]
                head = {"conn": conn, "line": line, "headers": []}
                heads.append(head)
                open_heads[conn] = head
            elif text.startswith("     (") and conn in open_heads:
                open_heads.pop(conn, None)  # the body, after the last field
            elif text.startswith("     ") and conn in open_heads:
                name, _, value = text.strip().partition(": ")
                open_heads[conn]["headers"].append((name.lower(), value))
            else:
                open_heads.pop(conn, None)
    return heads


def header_values(head, name):
    return [v for n, v in head["headers"] if n == name.lower()]


def probed_heads(trace_log, probe):
    return [h for h in upstream_heads(trace_log) if probe in header_values(h, PROBE_HEADER)]


def wait_for_probe(trace_log, probe, count=1):
    return wait_for(
        lambda: (lambda hs: hs if len(hs) >= count else None)(probed_heads(trace_log, probe)),
        f"{count} upstream request(s) with {PROBE_HEADER}: {probe} in pushwire's trace",
    )


# --- the checks -----------------------------------------------------------------------


def check_documented_timeouts(conf_text, binary, figures):
    """The documented timeouts against the binary's defaults (a real poll held for the
    full 120 s would make every CI run two minutes longer)."""
    longest_poll = serve_default(binary, "--max-poll-timeout")
    idle = serve_default(binary, "--idle-timeout")
    read = nginx_seconds(conf_text, "proxy_read_timeout")
    send = nginx_seconds(conf_text, "proxy_send_timeout")
    keepalive = nginx_seconds(conf_text, "keepalive_timeout")
    for name, value in [("proxy_read_timeout", read), ("proxy_send_timeout", send)]:
        expect(value > longest_poll,
               f"{name} {value}s is not above the longest poll ({longest_poll} s)")
    expect(keepalive < idle,
           f"upstream keepalive_timeout {keepalive}s is not below --idle-timeout ({idle} s)")
    print(f"ok: proxy_read/send_timeout {read}s/{send}s > --max-poll-timeout {longest_poll} s; "
          f"upstream keepalive_timeout {keepalive}s < --idle-timeout {idle} s")
    figures["timeouts"] = f"read {read}s > poll {longest_poll}s"


def check_tls_is_verified(port, ctx):
    """The client really verifies: the same certificate is refused without the test's CA,
    and under another name."""
    for name, context, server_name in [
        ("the system's CAs", ssl.create_default_context(), HOST),
        ("another host name", ctx, "push.example.com"),
    ]:
        with socket.create_connection((HOST, port), timeout=5) as raw:
            try:
                with context.wrap_socket(raw, server_hostname=server_name):
                    raise CheckFailed(f"TLS handshake verified with {name}")
            except ssl.SSLCertVerificationError:
                pass
    with socket.create_connection((HOST, port), timeout=5) as raw:
        with ctx.wrap_socket(raw, server_hostname=HOST) as tls:
            version = tls.version()
    print(f"ok: certificate verified against the test CA ({version}); refused with the "
          "system's CAs and under another name")
    return version


def check_healthz_and_page(api):
    status, resp, body, _ = api.request("GET", "/healthz")
    expect(status == 200 and body == b"ok", f"GET /healthz: {status} {body[:100]!r}")
    status, resp, body, _ = api.request("GET", "/")
    ctype = resp.getheader("Content-Type", "")
    expect(status == 200 and ctype.startswith("text/html") and b"WebSocket" in body,
           f"GET /: {status} {ctype} ({len(body)} bytes)")
    print(f"ok: GET /healthz 200 ok, GET / the demo page ({len(body)} bytes, {ctype})")


def check_redirect(http_port):
    conn = http.client.HTTPConnection(HOST, http_port, timeout=5)
    try:
        conn.request("GET", "/channels/x?since=0")
        resp = conn.getresponse()
        resp.read()
        location = resp.getheader("Location", "")
    finally:
        conn.close()
    expect(resp.status == 301 and location == f"https://{HOST}/channels/x?since=0",
           f"plain HTTP: {resp.status} Location: {location!r}")
    print(f"ok: plain HTTP answers 301 to {location}")


def check_websocket(args, api, ctx, figures):
    """(a) wss:// subscriber gets what a POST through nginx publishes, in the hub's
    id/epoch JSON, and what it sends itself is published."""
    first, _ = api.publish("x", "before the subscription")
    epoch = first["epoch"]
    url = f"wss://{HOST}:{args.https_port}/channels/x?since={first['id']}&epoch={epoch}"
    # As a page served through the proxy would: its origin names the proxy's host and
    # port, which pushwire sees as its own through `Host $http_host`.
    page_origin = f"https://{HOST}:{args.https_port}"
    with ws_connect(url, ssl=ctx, open_timeout=10, close_timeout=5, origin=page_origin,
                    additional_headers={PROBE_HEADER: "websocket"}) as ws:
        hello = json.loads(ws.recv(timeout=10))
        expect(hello == {"epoch": epoch, "next": first["id"]}, f"first frame {hello}")

        sent_at = time.monotonic()
        second, _ = api.publish("x", "über nginx ✓")
        frame = json.loads(ws.recv(timeout=10))
        latency = time.monotonic() - sent_at
        expect(second == {"id": first["id"] + 1, "epoch": epoch}, f"POST answer {second}")
        expect(frame == {"id": second["id"], "data": "über nginx ✓"}, f"frame {frame}")

        # 60 KiB in one message: nginx passes the upgraded connection's frames through.
        big = "".join(chr(ord("a") + i % 26) for i in range(60 * 1024))
        third, _ = api.publish("x", big)
        frame = json.loads(ws.recv(timeout=10))
        expect(frame == {"id": third["id"], "data": big}, "the 60 KiB message arrived changed")

        ws.send("sent over wss")
        frame = json.loads(ws.recv(timeout=10))
        expect(frame == {"id": third["id"] + 1, "data": "sent over wss"}, f"own message {frame}")
    # Another site's page is refused (pushwire's Origin check, through the proxy).
    try:
        with ws_connect(url, ssl=ctx, open_timeout=10, origin="https://evil.example"):
            refused = None
    except InvalidStatus as e:
        refused = e.response.status_code
    expect(refused == 403, f"another site's WebSocket answered {refused}, want 403")
    path = f"/channels/x?since={third['id']}&epoch={epoch}&timeout=0"
    status, _, body, _ = api.request("GET", path)
    answer = json.loads(body)
    expect(status == 200
           and answer["messages"] == [{"id": third["id"] + 1, "data": "sent over wss"}],
           f"poll after the WebSocket publish: {status} {answer}")

    head = wait_for_probe(args.trace_log, "websocket")[0]
    expect(head["line"].endswith(" HTTP/1.1"), f"upgrade sent upstream as {head['line']}")
    expect(header_values(head, "upgrade") == ["websocket"]
           and [v.lower() for v in header_values(head, "connection")] == ["upgrade"],
           f"upgrade headers upstream: {head['headers']}")
    print(f"ok: wss:// subscriber got the POSTed message {ms(latency)} after the publish "
          f"(epoch {epoch}, ids {first['id']}..{third['id'] + 1}: a 60 KiB message, "
          "its own publish); Upgrade and Connection: upgrade reached pushwire; a page of "
          "the proxy's origin was let in, another site's got 403")
    figures["wss"] = ms(latency)


class HeldPoll(threading.Thread):
    """One long-poll over its own connection, timed from its start to its answer."""

    def __init__(self, api, path):
        super().__init__(daemon=True)
        self.api, self.path = api, path
        self.result, self.error, self.done_at = None, None, None

    def run(self):
        try:
            self.result = self.api.request("GET", self.path, timeout=60)
        except Exception as error:  # reported by the check that waits for it
            self.error = error
        self.done_at = time.monotonic()


def check_long_poll(args, api, figures):
    """(b) a held poll is answered as soon as a message is published."""
    poll = HeldPoll(api, "/channels/y?since=0&timeout=20")
    poll.start()
    time.sleep(1.0)
    expect(poll.done_at is None,
           f"the poll was answered before any publish: {poll.result or poll.error}")
    published_at = time.monotonic()
    answer, _ = api.publish("y", "wake up")
    poll.join(10)
    expect(not poll.is_alive(), "the held poll was not answered within 10 s of the publish")
    expect(poll.error is None, f"the held poll failed: {poll.error}")
    status, resp, body, _ = poll.result
    latency = poll.done_at - published_at
    expect(status == 200, f"held poll: {status} {body[:200]!r}")
    want = {"epoch": answer["epoch"], "messages": [{"id": 1, "data": "wake up"}], "next": 1}
    expect(json.loads(body) == want, f"held poll answer {body!r}")
    expect(resp.getheader("Cache-Control") == "no-store", "Cache-Control lost on the way")
    expect(latency < 1.0, f"the held poll took {ms(latency)} after the publish (timeout=20)")
    print(f"ok: long-poll held 1.0 s (timeout=20) answered {ms(latency)} after the publish")
    figures["long-poll"] = ms(latency)


def check_long_poll_http2(args, api, figures):
    """The same held poll over HTTP/2 (curl: Python's standard library has no HTTP/2)."""
    url = f"https://{HOST}:{args.https_port}/channels/h2?since=0&timeout=20"
    curl = subprocess.Popen(
        ["curl", "-sS", "--http2", "--cacert", args.ca,
         "--resolve", f"{HOST}:{args.https_port}:127.0.0.1", "--max-time", "30",
         "-w", "\n%{http_code} %{http_version} %{time_total}", url],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )
    try:
        time.sleep(1.0)
        if curl.poll() is not None:
            raise CheckFailed(f"the HTTP/2 poll ended before any publish: {curl.communicate()}")
        published_at = time.monotonic()
        answer, _ = api.publish("h2", "over h2")
        out, err = curl.communicate(timeout=10)
        latency = time.monotonic() - published_at
    finally:
        if curl.poll() is None:
            curl.kill()
            curl.wait(5)
    body, _, status_line = out.rpartition("\n")
    status, version, total = (status_line.split() + ["?", "?", "?"])[:3]
    expect(curl.returncode == 0 and (status, version) == ("200", "2"),
           f"HTTP/2 poll: curl exit {curl.returncode}, {status} over HTTP/{version} "
           f"after {total} s {err}")
    want = {"epoch": answer["epoch"], "messages": [{"id": 1, "data": "over h2"}], "next": 1}
    expect(json.loads(body) == want, f"HTTP/2 poll answer {body!r}")
    expect(latency < 1.0, f"the HTTP/2 poll took {ms(latency)} after the publish")
    print(f"ok: long-poll over HTTP/2 answered {ms(latency)} after the publish")
    figures["h2 long-poll"] = ms(latency)


def check_poll_timeout(api, figures):
    """(b) a poll that times out gets pushwire's 204 through nginx, not a 502/504."""
    status, _, body, elapsed = api.request("GET", "/channels/quiet?since=0&timeout=3", timeout=30)
    expect(status == 204 and body == b"", f"timeout=3 poll: {status} {body[:200]!r}")
    expect(2.5 <= elapsed < 8, f"timeout=3 poll answered after {elapsed:.2f} s")
    print(f"ok: timeout=3 poll got 204 after {elapsed:.2f} s")
    figures["204"] = f"{elapsed:.2f} s"


def spooled(args, what):
    """nginx's warnings that it wrote `what` ("client request body", "upstream
    response") to a temporary file."""
    with open(args.error_log, encoding="utf-8", errors="replace") as f:
        return [line.strip() for line in f if f"{what} is buffered to a temporary file" in line]


def check_body_limits(args, api):
    """A publish at pushwire's limit is held in nginx's memory (client_body_buffer_size),
    not written to disk; one byte over gets pushwire's own 413 (plain text), not nginx's
    HTML one."""
    api.publish("limits", "m" * (64 * 1024))
    status, resp, body, _ = api.request("POST", "/channels/limits", body=b"m" * (64 * 1024 + 1))
    expect(status == 413 and resp.getheader("Content-Type", "").startswith("text/plain")
           and b"request body too large" in body, f"oversized publish: {status} {body[:200]!r}")
    on_disk = spooled(args, "a client request body")
    expect(not on_disk, "nginx wrote publishes to disk:\n" + "\n".join(on_disk))
    print("ok: a 64 KiB publish is accepted without touching nginx's disk, 64 KiB + 1 gets "
          "pushwire's 413")


def check_slow_reader_is_not_spooled(args, api, ctx, figures):
    """proxy_buffering off: a ~1 MiB poll answer to a client that does not read is not read
    ahead by nginx into memory and a temporary file (nginx logs a warning when it spools)."""
    messages = [f"{i:02d}" + chr(ord("A") + i) * (60 * 1024 - 2) for i in range(1, 17)]
    for text in messages:
        api.publish("z", text)
    raw = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    raw.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 8192)  # a small window: a slow reader
    raw.settimeout(10)
    raw.connect(("127.0.0.1", args.https_port))
    conn = http.client.HTTPSConnection(HOST, args.https_port, context=ctx, timeout=10)
    conn.sock = ctx.wrap_socket(raw, server_hostname=HOST)
    try:
        conn.request("GET", "/channels/z?since=0&timeout=0")
        resp = conn.getresponse()
        time.sleep(1.5)  # read nothing of the body meanwhile
        body = resp.read()
    finally:
        conn.close()
    answer = json.loads(body)
    expect(resp.status == 200 and [m["data"] for m in answer["messages"]] == messages,
           f"slow reader: {resp.status}, {len(answer.get('messages', []))} messages")
    on_disk = spooled(args, "an upstream response")
    expect(not on_disk, "nginx spooled the answer to disk:\n" + "\n".join(on_disk))
    print(f"ok: a {len(body) // 1024} KiB answer to a slow reader was passed on, not read "
          "ahead into a temporary file")
    figures["slow reader"] = f"{len(body) // 1024} KiB unspooled"


def check_forwarded_headers(args, api, figures):
    """(d) what pushwire receives: the client's Host, X-Forwarded-For/-Proto, HTTP/1.1 and
    no Connection header; a forged X-Forwarded-For is kept and the real peer appended,
    and pushwire answers the same."""
    status, _, body, _ = api.request("GET", "/healthz", headers={
        PROBE_HEADER: "forwarded", "X-Forwarded-For": "203.0.113.7"})
    expect(status == 200 and body == b"ok", f"/healthz with X-Forwarded-For: {status} {body!r}")
    head = wait_for_probe(args.trace_log, "forwarded")[0]
    got = {name: header_values(head, name) for name in
           ["host", "x-forwarded-for", "x-forwarded-proto", "connection", "upgrade"]}
    want = {"host": [f"{HOST}:{args.https_port}"], "x-forwarded-for": ["203.0.113.7, 127.0.0.1"],
            "x-forwarded-proto": ["https"], "connection": [], "upgrade": []}
    expect(head["line"] == "GET /healthz HTTP/1.1" and got == want,
           f"upstream request {head['line']!r}: {got}, expected {want}")
    print("ok: upstream got Host, X-Forwarded-For (forged value kept, peer appended), "
          "X-Forwarded-Proto: https, HTTP/1.1, no Connection header")

    # keepalive: sequential requests reuse one upstream connection.
    conn = api.connection()
    try:
        for i in range(5):
            status, _, _, _ = api.request(
                "GET", "/healthz", headers={PROBE_HEADER: "keepalive"}, conn=conn)
            expect(status == 200, f"keepalive probe {i}: {status}")
    finally:
        conn.close()
    heads = wait_for_probe(args.trace_log, "keepalive", count=5)
    upstream = sorted({h["conn"] for h in heads})
    expect(len(upstream) == 1, f"5 sequential requests used upstream connections {upstream}")
    print("ok: 5 sequential requests went over 1 keepalive upstream connection")
    figures["keepalive"] = "5 requests / 1 upstream connection"


def check_access_log(args):
    lines = wait_for(lambda: [line for line in open(args.access_log, encoding="utf-8")
                              if '"GET /channels/y ' in line], "the held poll in the access log")
    with open(args.access_log, encoding="utf-8") as f:
        every = f.readlines()
    leaked = [line for line in every if "?" in line]
    expect(not leaked, "query strings in the access log:\n" + "".join(leaked[:3]))
    print(f"ok: access log has {len(every)} lines, none with a query string "
          f"(e.g. {lines[0].strip()})")


def check(args):
    started = args.started or time.time()
    conf_text = open(args.conf, encoding="utf-8").read()
    ctx = tls_context(args.ca)
    api = Https(args.https_port, ctx)
    figures = {}
    try:
        check_documented_timeouts(conf_text, args.bin, figures)
        tls_version = check_tls_is_verified(args.https_port, ctx)
        check_healthz_and_page(api)
        check_redirect(args.http_port)
        check_websocket(args, api, ctx, figures)
        check_long_poll(args, api, figures)
        check_long_poll_http2(args, api, figures)
        check_poll_timeout(api, figures)
        check_body_limits(args, api)
        check_slow_reader_is_not_spooled(args, api, ctx, figures)
        check_forwarded_headers(args, api, figures)
        check_access_log(args)
    except Exception as error:  # a failed check, or any error on the way (websockets', ssl's)
        print(f"nginx-test: FAILED: {type(error).__name__}: {error}")
        return 1
    summary = ", ".join(f"{k} {v}" for k, v in figures.items())
    print(f"nginx-test: ok (nginx {args.nginx_version}, {tls_version}; {summary}; "
          f"{time.time() - started:.1f} s in all)")
    return 0


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    r = sub.add_parser("render")
    r.add_argument("--conf", required=True)
    r.add_argument("--out", required=True)
    for name in ["--upstream-port", "--https-port", "--http-port"]:
        r.add_argument(name, type=int, required=True)
    for name in ["--cert", "--key", "--access-log"]:
        r.add_argument(name, required=True)
    c = sub.add_parser("check")
    for name in ["--conf", "--bin", "--ca", "--trace-log", "--error-log", "--access-log"]:
        c.add_argument(name, required=True)
    for name in ["--https-port", "--http-port"]:
        c.add_argument(name, type=int, required=True)
    c.add_argument("--nginx-version", default="?")
    c.add_argument("--started", type=float)
    args = parser.parse_args()
    if args.command == "render":
        render(args)
        return 0
    return check(args)


if __name__ == "__main__":
    sys.exit(main())
