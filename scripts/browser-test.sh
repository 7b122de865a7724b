#!/usr/bin/env bash
# Real-browser test of the demo page: headless Debian Chromium, driven by playwright-core,
# against `pushwire serve` on a free loopback port.
#
#   scripts/browser-test.sh
#
# Installs what it needs (Debian's chromium, playwright-core from scripts/browser/'s lock
# file), builds the release binary, starts the server, runs scripts/browser-test.mjs and
# exits with its status; then scripts/browser-cors.mjs, from a page of a second origin
# against a server that allows it and one that does not; then scripts/browser-sse.mjs,
# Chromium's EventSource across a server restart; then scripts/browser-fallback.mjs,
# pushwire.js falling back from WebSocket to SSE to long-poll. Screenshots go to
# ${ARTIFACTS:-/tmp/pushwire-artifacts}.
#
# BROWSER_TEST_URL=http://127.0.0.1:PORT skips the build and the server and tests that one.
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."
export ARTIFACTS="${ARTIFACTS:-/tmp/pushwire-artifacts}"
mkdir -p "$ARTIFACTS"

say() { echo "[browser-test.sh] $*"; }

# --- Chromium (Debian's package; playwright's own browser downloads can't be used here) ---
if [ ! -x /usr/bin/chromium ]; then
  SUDO=""
  if [ "$(id -u)" != 0 ]; then SUDO="sudo"; fi
  export DEBIAN_FRONTEND=noninteractive
  say "installing chromium"
  $SUDO apt-get install -y -q chromium >/dev/null \
    || { $SUDO apt-get update -q >/dev/null && $SUDO apt-get install -y -q chromium >/dev/null; }
fi
/usr/bin/chromium --version 2>/dev/null  # (its wrapper script prints a harmless shell warning)

# --- playwright-core, exactly as pinned in scripts/browser/package-lock.json ---
(
  cd scripts/browser
  export PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1
  npm ci --no-audit --no-fund --loglevel=error || npm install --no-audit --no-fund --loglevel=error
)

if [ -n "${BROWSER_TEST_URL:-}" ]; then
  say "testing $BROWSER_TEST_URL (no build, no server started)"
  exec node scripts/browser-test.mjs "$BROWSER_TEST_URL"
fi

# --- the server ---
cargo build --release
PORT="$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')"
LOG="$ARTIFACTS/server.log"
PIDFILE="$ARTIFACTS/server.pid"
# --trace: the log shows every frame's RSV bits, so the test can see that Chromium and
# the server compressed their messages (permessage-deflate, RSV1 on the first frame).
target/release/pushwire serve --addr "127.0.0.1:$PORT" --trace >"$LOG" 2>&1 &
SERVER_PID=$!
echo "$SERVER_PID" >"$PIDFILE"
cleanup() {
  local pid
  pid="$(cat "$PIDFILE" 2>/dev/null || echo "$SERVER_PID")"
  kill "$pid" 2>/dev/null || true
  wait "$pid" 2>/dev/null || true
}
trap cleanup EXIT
say "server pid $SERVER_PID on 127.0.0.1:$PORT, log $LOG"

# The browser test restarts the server mid-run (a fresh in-memory hub on the same port):
# this script stops the one in the pid file and starts the next, and waits for it.
RESTART="$ARTIFACTS/restart-server.sh"
cat >"$RESTART" <<RESTART_EOF
#!/usr/bin/env bash
set -euo pipefail
old="\$(cat "$PIDFILE")"
kill "\$old" 2>/dev/null || true
while kill -0 "\$old" 2>/dev/null; do sleep 0.05; done
"$PWD/target/release/pushwire" serve --addr "127.0.0.1:$PORT" --trace >>"$LOG" 2>&1 &
echo "\$!" >"$PIDFILE"
for _ in \$(seq 1 100); do
  curl -fsS --max-time 1 "http://127.0.0.1:$PORT/healthz" >/dev/null 2>&1 && exit 0
  sleep 0.1
done
echo "the restarted server did not answer /healthz" >&2
exit 1
RESTART_EOF
chmod +x "$RESTART"
export RESTART_SCRIPT="$RESTART"

for _ in $(seq 1 100); do
  if ! kill -0 "$SERVER_PID" 2>/dev/null; then
    say "server exited before answering /healthz; its log:"
    cat "$LOG"
    exit 1
  fi
  if curl -fsS --max-time 1 "http://127.0.0.1:$PORT/healthz" >/dev/null 2>&1; then
    break
  fi
  sleep 0.1
done
if ! curl -fsS --max-time 1 "http://127.0.0.1:$PORT/healthz" >/dev/null; then
  say "server did not answer GET /healthz within 10 s; its log:"
  cat "$LOG"
  exit 1
fi

rc=0
node scripts/browser-test.mjs "http://127.0.0.1:$PORT" || rc=$?
if [ "$rc" != 0 ]; then
  say "browser test failed (exit $rc); server log ($LOG):"
  tail -n 50 "$LOG"
  exit "$rc"
fi
# permessage-deflate on the wire: a compressed text message each way (RSV1 = RSV=100).
for direction in '<-' '->'; do
  if ! grep -qF -- "$direction] frame FIN=1 RSV=100 opcode=0x1" "$LOG"; then
    say "no compressed text frame ($direction) in the trace: permessage-deflate was not used"
    grep -F -- "frame FIN" "$LOG" | head -n 20
    exit 1
  fi
done
say "permessage-deflate: compressed text frames both ways in the trace"

# --- another origin: a page served from a second port, against a server that allows
# that origin and one that does not (scripts/browser-cors.mjs) ---
free_port() { python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
PAGE_PORT="$(free_port)"
ALLOWED_PORT="$(free_port)"
REFUSING_PORT="$(free_port)"
PAGE_DIR="$(mktemp -d)"
echo '<!doctype html><title>another origin</title><p>a page of another origin' >"$PAGE_DIR/index.html"
EXTRA_PIDS=()
python3 -m http.server --bind 127.0.0.1 --directory "$PAGE_DIR" "$PAGE_PORT" >"$ARTIFACTS/page-server.log" 2>&1 &
EXTRA_PIDS+=("$!")
target/release/pushwire serve --addr "127.0.0.1:$ALLOWED_PORT" \
  --allow-origin "http://127.0.0.1:$PAGE_PORT" >"$ARTIFACTS/allowed-server.log" 2>&1 &
EXTRA_PIDS+=("$!")
target/release/pushwire serve --addr "127.0.0.1:$REFUSING_PORT" >"$ARTIFACTS/refusing-server.log" 2>&1 &
EXTRA_PIDS+=("$!")
cleanup_all() {
  cleanup
  for pid in "${EXTRA_PIDS[@]}"; do
    kill "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
  done
  rm -rf "$PAGE_DIR"
}
trap cleanup_all EXIT
for url in "http://127.0.0.1:$PAGE_PORT/" "http://127.0.0.1:$ALLOWED_PORT/healthz" \
  "http://127.0.0.1:$REFUSING_PORT/healthz"; do
  for _ in $(seq 1 100); do
    curl -fsS --max-time 1 "$url" >/dev/null 2>&1 && break
    sleep 0.1
  done
  curl -fsS --max-time 1 "$url" >/dev/null || { say "$url did not answer"; exit 1; }
done
node scripts/browser-cors.mjs "http://127.0.0.1:$PAGE_PORT/" "http://127.0.0.1:$ALLOWED_PORT" \
  "http://127.0.0.1:$REFUSING_PORT" || rc=$?
if [ "$rc" != 0 ]; then
  say "cross-origin browser test failed (exit $rc); server logs in $ARTIFACTS"
  exit "$rc"
fi

# --- Server-Sent Events: Chromium's EventSource across a server restart (the script
# starts its own server with a data directory, and stops it by PID) ---
node scripts/browser-sse.mjs "$PWD/target/release/pushwire" || rc=$?
if [ "$rc" != 0 ]; then
  say "EventSource browser test failed (exit $rc)"
  exit "$rc"
fi

# --- pushwire.js falling back: WebSocket, SSE and long-poll pages (stubs block the
# better transports) exchanging exactly once across a restart, and 8 channels on one
# long-poll (the script starts its own server with a data directory) ---
node scripts/browser-fallback.mjs "$PWD/target/release/pushwire" || rc=$?
if [ "$rc" != 0 ]; then
  say "pushwire.js fallback browser test failed (exit $rc)"
fi
exit "$rc"
