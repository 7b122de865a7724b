#!/usr/bin/env bash
# permessage-deflate with clients nobody here wrote: Python `websockets` (compression on
# by default) and Node `ws` (perMessageDeflate: true), against `pushwire echo` in both
# compression modes (`--deflate full`: context takeover; `--deflate light`: none).
#
#   scripts/interop-deflate.sh
#
# Installs what it needs (websockets with pip if missing, ws from
# scripts/interop/package-lock.json), builds the release binary, starts each server on a
# free loopback port with --trace, runs both clients against it, checks in the trace that
# compressed frames (RSV1) went both ways, and stops the server by its PID.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
say() { echo "[interop-deflate.sh] $*"; }

if ! python3 -c 'import websockets.asyncio.client' 2>/dev/null; then
  say "installing Python websockets"
  python3 -m pip install -q 'websockets>=13' 2>/dev/null \
    || python3 -m pip install -q --break-system-packages 'websockets>=13'
fi
(cd scripts/interop && { npm ci --no-audit --no-fund --loglevel=error \
  || npm install --no-audit --no-fund --loglevel=error; })
cargo build --release

ARTIFACTS="${ARTIFACTS:-/tmp/pushwire-artifacts}"
mkdir -p "$ARTIFACTS"
SERVER_PID=""
cleanup() {
  if [ -n "$SERVER_PID" ]; then
    kill "$SERVER_PID" 2>/dev/null || true
    wait "$SERVER_PID" 2>/dev/null || true
  fi
}
trap cleanup EXIT

for mode in full light; do
  PORT="$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')"
  LOG="$ARTIFACTS/interop-deflate-$mode.log"
  target/release/pushwire echo --addr "127.0.0.1:$PORT" --deflate "$mode" --trace >"$LOG" 2>&1 &
  SERVER_PID=$!
  for _ in $(seq 1 100); do
    python3 -c "import socket; socket.create_connection(('127.0.0.1', $PORT)).close()" 2>/dev/null && break
    sleep 0.1
  done
  say "pushwire echo --deflate $mode on 127.0.0.1:$PORT (pid $SERVER_PID)"
  python3 scripts/interop/websockets-deflate.py "ws://127.0.0.1:$PORT/"
  node scripts/interop/ws-deflate.mjs "ws://127.0.0.1:$PORT/"
  for direction in '<-' '->'; do
    if ! grep -qF -- "$direction] frame FIN=1 RSV=100" "$LOG"; then
      say "no compressed frame ($direction) in the trace of --deflate $mode"
      exit 1
    fi
  done
  say "--deflate $mode: compressed frames both ways; trace in $LOG"
  cleanup
  SERVER_PID=""
done
say "ok"
