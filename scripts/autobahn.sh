#!/usr/bin/env bash
# Run Autobahn|Testsuite (fuzzingclient, every case: 1-11 and the permessage-deflate
# cases 12-13) against `pushwire echo` and apply a strict gate.
#
#   scripts/autobahn.sh                 build, start the server, run, summarize, gate
#   scripts/autobahn.sh --check OUTDIR  only summarize + gate an existing report
#
# The gate passes only when, for agent "pushwire":
#   - NON-STRICT = 0, FAILED = 0, UNIMPLEMENTED = 0 (and no behavior other than OK and
#     INFORMATIONAL), per summarize.py's last line and per index.json;
#   - every case's behaviorClose is OK or INFORMATIONAL;
#   - with the default CASES and exclusions, all 517 cases ran.
# The server must also still be running after the suite. Exit 0 on pass, 1 otherwise.
#
# Env:
#   CASES            case patterns (comma list or JSON list), default '*'
#   OUTDIR           report directory, default /tmp/pushwire-autobahn
#   PUSHWIRE_BIN     server binary to use; when set, nothing is built
#   PUSHWIRE_ECHO_ARGS  extra options for `pushwire echo` (split on whitespace)
#   EXPECT_TOTAL     expected number of cases (default 517 with the default CASES and
#                    AUTOBAHN_EXCLUDE; otherwise not checked)
#   SKIP_SETUP=1     do not run scripts/autobahn/setup.sh (the venv is already set up)
#   AUTOBAHN_TIMEOUT seconds before wstest is killed, default 2400 (the whole suite takes
#                    about 13 minutes here, bound by the Python client on the compression cases)
#   AUTOBAHN_VENV    the suite's venv, default /tmp/pushwire-autobahn-venv
#
# Everything the run needs is in scripts/autobahn/: setup.sh installs the pinned
# suite from PyPI into the venv and ports it to Python 3 (port_py3.py), run.sh runs
# the fuzzing client, summarize.py reads the report.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
AB="$ROOT/scripts/autobahn"
AGENT=pushwire
OUTDIR="${OUTDIR:-/tmp/pushwire-autobahn}"

say() { printf 'autobahn.sh: %s\n' "$*"; }
die() { printf 'autobahn.sh: error: %s\n' "$*" >&2; exit 1; }

[ -f "$AB/setup.sh" ] && [ -f "$AB/run.sh" ] && [ -f "$AB/summarize.py" ] \
  || die "Autobahn scripts not found in $AB"

# --- the gate ------------------------------------------------------------------------
# gate OUTDIR EXPECTED_TOTAL(or empty): summarize the report, print a one-line verdict,
# return 0 on pass and 1 on fail.
gate() {
  local outdir="$1" expect="$2" summary rc=0
  summary="$(mktemp)"
  # summarize.py exits 0 even with failures (we do not pass --strict: the gate below is
  # stricter); 2 means the report is missing or unreadable.
  python3 "$AB/summarize.py" "$outdir" --agent "$AGENT" > "$summary" || rc=$?
  cat "$summary"
  if [ "$rc" != 0 ]; then
    rm -f "$summary"
    echo "autobahn: FAIL: summarize.py exited $rc (no usable report in $outdir)"
    return 1
  fi
  rc=0
  python3 - "$(tail -n 1 "$summary")" "$outdir/index.json" "$AGENT" "$expect" <<'EOF' || rc=$?
import json, re, sys

line, index_path, agent, expect = sys.argv[1:]
problems = []

# 1. summarize.py's last line, e.g.
#    autobahn: 514 OK, 0 NON-STRICT, 0 FAILED, 0 UNIMPLEMENTED, 3 INFORMATIONAL of 517
#    (summarize.py appends "N <OTHER>" parts for any behavior outside the usual five)
m = re.fullmatch(r"autobahn: (?P<parts>.+) of (?P<total>\d+)", line.strip())
parts = [re.fullmatch(r"(\d+) ([A-Z][A-Z _-]*)", p) for p in m.group("parts").split(", ")] if m else [None]
if not all(parts):
    print("autobahn: FAIL: unrecognised summary line: %r" % line)
    sys.exit(1)
counts = {p.group(2): int(p.group(1)) for p in parts}
total = int(m.group("total"))
for name in ("OK", "NON-STRICT", "FAILED", "UNIMPLEMENTED", "INFORMATIONAL"):
    if name not in counts:
        problems.append("summary line lacks %s" % name)
for name, n in counts.items():
    if name not in ("OK", "INFORMATIONAL") and n:
        problems.append("%d %s" % (n, name))
if sum(counts.values()) != total:
    problems.append("summary counts add up to %d, not %d" % (sum(counts.values()), total))
if total == 0:
    problems.append("no cases ran")
if expect and total != int(expect):
    problems.append("%d cases ran, expected %s" % (total, expect))

# 2. index.json, per case: behavior and behaviorClose
def key(cid):
    return tuple(int(x) if x.isdigit() else x for x in cid.split("."))
try:
    with open(index_path, encoding="utf-8") as f:
        cases = json.load(f).get(agent, {})
except (OSError, ValueError) as e:
    cases = {}
    problems.append("cannot read %s: %s" % (index_path, e))
if len(cases) != total:
    problems.append("index.json has %d cases for %s, summary says %d" % (len(cases), agent, total))
for field in ("behavior", "behaviorClose"):
    bad = sorted((cid for cid, c in cases.items()
                  if c.get(field) not in ("OK", "INFORMATIONAL")), key=key)
    if bad:
        shown = ", ".join("%s=%s" % (cid, cases[cid].get(field)) for cid in bad[:20])
        more = " and %d more" % (len(bad) - 20) if len(bad) > 20 else ""
        problems.append("%s not OK/INFORMATIONAL in %d case(s): %s%s" % (field, len(bad), shown, more))

head = "%d OK, %d INFORMATIONAL of %d" % (counts.get("OK", 0), counts.get("INFORMATIONAL", 0), total)
if problems:
    print("autobahn: FAIL (strict gate): %s; %s" % (head, "; ".join(problems)))
    sys.exit(1)
print("autobahn: PASS (strict gate): %s, no NON-STRICT/FAILED/UNIMPLEMENTED, every behaviorClose OK/INFORMATIONAL" % head)
EOF
  rm -f "$summary"
  return "$rc"
}

if [ "${1:-}" = "--check" ]; then
  [ $# -eq 2 ] || die "usage: $0 --check OUTDIR"
  gate "$2" "${EXPECT_TOTAL:-}"
  exit $?
elif [ $# -gt 0 ]; then
  sed -n '2,29p' "$0" >&2
  exit 2
fi

# --- expected case count ---------------------------------------------------------------
CASES="${CASES:-*}"
EXPECT="${EXPECT_TOTAL:-}"
if [ -z "$EXPECT" ] && [ "$CASES" = "*" ] && [ -z "${AUTOBAHN_EXCLUDE:-}" ]; then
  EXPECT=517 # every case: 1.*-11.* and the permessage-deflate ones, 12.* and 13.*
fi

# --- the server --------------------------------------------------------------------------
if [ -n "${PUSHWIRE_BIN:-}" ]; then
  BIN="$PUSHWIRE_BIN"
else
  say "building: cargo build --release"
  (cd "$ROOT" && cargo build --release)
  TARGET_DIR="${CARGO_TARGET_DIR:-target}"
  case "$TARGET_DIR" in /*) ;; *) TARGET_DIR="$ROOT/$TARGET_DIR" ;; esac
  BIN="$TARGET_DIR/release/pushwire"
fi
[ -x "$BIN" ] || die "server binary $BIN is missing or not executable"

mkdir -p "$OUTDIR"
OUTDIR="$(cd "$OUTDIR" && pwd)"
SERVER_LOG="$OUTDIR/server.log"

PORT="$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()')"
EXTRA=()
if [ -n "${PUSHWIRE_ECHO_ARGS:-}" ]; then
  read -r -a EXTRA <<< "$PUSHWIRE_ECHO_ARGS"
fi

SERVER_PID=""
cleanup() {
  if [ -n "$SERVER_PID" ] && kill -0 "$SERVER_PID" 2>/dev/null; then
    kill "$SERVER_PID" 2>/dev/null || true
    for _ in $(seq 50); do
      kill -0 "$SERVER_PID" 2>/dev/null || break
      sleep 0.1
    done
    kill -9 "$SERVER_PID" 2>/dev/null || true
    wait "$SERVER_PID" 2>/dev/null || true
  fi
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

server_died() {
  local rc=0
  wait "$SERVER_PID" || rc=$?
  SERVER_PID=""
  echo "autobahn.sh: server log ($SERVER_LOG), last lines:"
  tail -n 30 "$SERVER_LOG" || true
  echo "autobahn: FAIL: the server exited (status $rc) $1"
  exit 1
}

say "starting: $BIN echo --addr 127.0.0.1:$PORT${EXTRA[*]:+ ${EXTRA[*]}} (log $SERVER_LOG)"
"$BIN" echo --addr "127.0.0.1:$PORT" ${EXTRA[@]+"${EXTRA[@]}"} > "$SERVER_LOG" 2>&1 < /dev/null &
SERVER_PID=$!

# wait (at most 10 s) until the port accepts connections
ready=0
for _ in $(seq 100); do
  kill -0 "$SERVER_PID" 2>/dev/null || server_died "before accepting connections"
  if (exec 3<> "/dev/tcp/127.0.0.1/$PORT") 2>/dev/null; then
    ready=1
    break
  fi
  sleep 0.1
done
[ "$ready" = 1 ] || die "server (pid $SERVER_PID) did not accept connections on 127.0.0.1:$PORT within 10 s"
say "server pid $SERVER_PID listening on 127.0.0.1:$PORT"

# --- the suite ---------------------------------------------------------------------------
if [ "${SKIP_SETUP:-0}" != 1 ]; then
  "$AB/setup.sh"
fi

RUN_RC=0
AUTOBAHN_AGENT="$AGENT" AUTOBAHN_TIMEOUT="${AUTOBAHN_TIMEOUT:-2400}" \
  "$AB/run.sh" "ws://127.0.0.1:$PORT" "$CASES" "$OUTDIR" || RUN_RC=$?

kill -0 "$SERVER_PID" 2>/dev/null || server_died "during the test suite"

GATE_RC=0
gate "$OUTDIR" "$EXPECT" || GATE_RC=$?
if [ "$RUN_RC" != 0 ]; then
  echo "autobahn: FAIL: run.sh exited $RUN_RC (see $OUTDIR/wstest.log)"
  exit 1
fi
exit "$GATE_RC"
