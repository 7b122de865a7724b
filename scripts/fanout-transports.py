#!/usr/bin/env python3
"""Fan-out to many subscribers of one channel, by transport, in one run.

    scripts/fanout-transports.py [--bin target/release/pushwire] [--conns 10000]
                                 [--rounds 5] [--reps 5] [--transports ws,longpoll,sse,ws-mux]

Each repetition runs every transport in turn (interleaved, so that a noisy minute hits
them alike), each against a fresh `pushwire serve` on a free loopback port, started here
and stopped by its PID:

    pushwire serve --addr 127.0.0.1:PORT --max-connections 30000          (CPU 0)
    pushwire load http://127.0.0.1:PORT/channels/fan --mode fanout \\
        --conns CONNS --rounds ROUNDS --transport T                        (CPU 1)

(pinned with taskset when it is installed). It prints each run's LOAD line and, per
transport, the median and the range over the repetitions of: the time to open every
subscriber, the server's CPU time for the whole run (user + system, /proc/PID/stat:
accepting, handshakes, the rounds), and the delivery latency's p50, p99 and max. The
1-minute load average before each run is printed too: the machine may be shared.

Standard library only; every socket is the load generator's, on 127.0.0.1; each run is
bounded by the load generator's own deadline and a 180 s timeout here.
"""
import argparse
import os
import resource
import shutil
import socket
import statistics
import subprocess
import sys
import time


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def cpu_seconds(pid):
    """User + system CPU time of a process so far."""
    with open("/proc/%d/stat" % pid) as f:
        # The command name is in parentheses and may hold spaces: split after it.
        fields = f.read().rsplit(")", 1)[1].split()
    ticks = int(fields[11]) + int(fields[12])  # utime, stime (fields 14 and 15)
    return ticks / os.sysconf("SC_CLK_TCK")


def wait_listening(port, limit=10.0):
    deadline = time.time() + limit
    while time.time() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
            return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError("the server did not listen on %d" % port)


def pinned(cpu, argv):
    return (["taskset", "-c", str(cpu)] if shutil.which("taskset") else []) + argv


def one_run(binary, transport, conns, rounds):
    port = free_port()
    server = subprocess.Popen(
        pinned(0, [binary, "serve", "--addr", "127.0.0.1:%d" % port,
                   "--max-connections", "30000", "--log", "off"]),
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        wait_listening(port)
        url = "http://127.0.0.1:%d/channels/fan" % port
        load = subprocess.run(
            pinned(1, [binary, "load", url, "--mode", "fanout", "--conns", str(conns),
                       "--rounds", str(rounds), "--transport", transport]),
            capture_output=True, text=True, timeout=180)
        cpu = cpu_seconds(server.pid)
    finally:
        server.terminate()
        try:
            server.wait(timeout=10)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()
    lines = [l for l in load.stdout.splitlines() if l.startswith("LOAD ")]
    if not lines:
        raise RuntimeError("no LOAD line from %s:\n%s%s" % (transport, load.stdout, load.stderr))
    fields = dict(kv.split("=", 1) for kv in lines[0].split()[1:])
    fields["server_cpu_ms"] = str(round(cpu * 1000))
    return lines[0], fields


def cell(values):
    return "%.0f (%.0f–%.0f)" % (statistics.median(values), min(values), max(values))


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--bin", default="target/release/pushwire")
    ap.add_argument("--conns", type=int, default=10000)
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--reps", type=int, default=5)
    ap.add_argument("--transports", default="ws,longpoll,sse,ws-mux")
    args = ap.parse_args()
    transports = args.transports.split(",")

    # One descriptor per subscriber: raise the soft limit to the hard one (the children
    # inherit it).
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    if hard < args.conns + 100:
        sys.exit("the open-file hard limit (%d) is too low for %d subscribers" % (hard, args.conns))

    results = {t: [] for t in transports}
    clean = True
    for rep in range(1, args.reps + 1):
        for transport in transports:
            load_avg = os.getloadavg()[0]
            line, fields = one_run(args.bin, transport, args.conns, args.rounds)
            print("rep %d %-8s load %.2f  %s server_cpu_ms=%s"
                  % (rep, transport, load_avg, line, fields["server_cpu_ms"]), flush=True)
            clean &= fields["errors"] == "0" and fields["mismatches"] == "0"
            results[transport].append(fields)
            time.sleep(2)

    print()
    print("| transport | open %d subscribers (ms) | server CPU per run (ms) | p50 (ms) | p99 (ms) | max (ms) |"
          % args.conns)
    print("|---|---|---|---|---|---|")
    for transport, runs in results.items():
        col = lambda key, scale: cell([int(r[key]) / scale for r in runs])
        print("| %s | %s | %s | %s | %s | %s |" % (
            transport, col("connect_ms", 1), col("server_cpu_ms", 1),
            col("p50_us", 1000), col("p99_us", 1000), col("max_us", 1000)))
    print("\nmedian (min–max) over %d repetitions of %d rounds; errors: %s"
          % (args.reps, args.rounds, "none" if clean else "SOME (see the LOAD lines)"))
    sys.exit(0 if clean else 1)


if __name__ == "__main__":
    main()
