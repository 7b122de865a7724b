#!/usr/bin/env bash
# permessage-deflate echo benchmark (issue 13): pushwire against Node `ws` with
# perMessageDeflate, on the shared harness's echo rows and its idle row.
#
#   scripts/bench/deflate-echo.sh [more harness options, e.g. --reps 5 or --rows idle10k]
#
# The shared harness cannot do this as it is (wsload offers no extension and refuses an
# answer with one; its Node peer runs with perMessageDeflate off), so this script
#   1. recreates a copy of it in $BENCHD (without target/, node_modules/, results/),
#   2. applies scripts/bench/deflate-echo.patch to the copy: wsload --deflate (offers
#      permessage-deflate, compresses what it sends, inflates RSV1 echoes before comparing
#      them byte for byte), --payload json (distinct chat-like JSON texts of the row's
#      size), --prime (idle connections each echo one message before idling);
#      harness.py --deflate, --extra NAME:OFFER:TEMPLATE, --payload, --idle-size,
#      --ratios; node/echo-deflate.js (ws with perMessageDeflate: threshold 0, no context
#      takeover either way, zlib level 1),
#   3. builds pushwire and wsload, installs ws, and runs the matrix below through the
#      copy's run.sh. Results: $BENCHD/results/<stamp>-pushwire-deflate.{md,json}.
#
# Servers, interleaved in every repetition (the harness rotates their order):
#   pushwire-deflate  pushwire echo --deflate light --deflate-min-size 0   offer: light
#   pushwire-full     pushwire echo --deflate full --deflate-min-size 0    offer: takeover
#   pushwire-off      pushwire echo --deflate off                          no offer
#   node-ws-deflate   node/echo-deflate.js                                 offer: light
#   node-ws           node/echo.js (perMessageDeflate off)                 no offer
# light = `permessage-deflate; client_no_context_takeover; server_no_context_takeover`;
# takeover = the bare `permessage-deflate`, so `--deflate full` keeps its windows.
#
# Env:
#   SHARED_BENCH  the shared harness (default: ../shared/bench from the repo root; from a
#                 git worktree elsewhere, ../shared/bench next to the main checkout)
#   BENCHD        where the copy goes (default /tmp/benchd); its target/, node/node_modules/
#                 and results/ are kept from one run to the next
#   PUSHWIRE_BIN  the server binary; when set, pushwire is not built
#   REPS          repetitions (default 3); QUICK=0 for the harness's long windows
#   NO_RUN=1      only set the copy up and build
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
PATCH="$ROOT/scripts/bench/deflate-echo.patch"
BENCHD="${BENCHD:-/tmp/benchd}"
REPS="${REPS:-3}"
MARK=".deflate-echo-copy"

say() { printf 'deflate-echo.sh: %s\n' "$*" >&2; }
die() { printf 'deflate-echo.sh: error: %s\n' "$*" >&2; exit 1; }

if [[ -z "${SHARED_BENCH:-}" ]]; then
  SHARED_BENCH="$ROOT/../shared/bench"
  if [[ ! -d "$SHARED_BENCH" ]]; then
    # a worktree: look next to the main checkout (the parent of the common .git)
    common="$(git -C "$ROOT" rev-parse --path-format=absolute --git-common-dir 2>/dev/null || true)"
    [[ -n "$common" ]] && SHARED_BENCH="$(dirname "$common")/../shared/bench"
  fi
fi
[[ -f "$SHARED_BENCH/harness.py" && -d "$SHARED_BENCH/wsload" ]] \
  || die "no shared harness at $SHARED_BENCH (set SHARED_BENCH)"
SHARED_BENCH="$(cd "$SHARED_BENCH" && pwd)"
[[ -f "$PATCH" ]] || die "missing $PATCH"
for t in patch tar cargo node npm taskset python3; do
  command -v "$t" >/dev/null || die "$t is required"
done

# ---- 1. recreate the copy, keeping only build outputs and results
case "$BENCHD" in "" | "/" | "$HOME" | "$SHARED_BENCH" | "$ROOT") die "refusing BENCHD=$BENCHD" ;; esac
if [[ -d "$BENCHD" && -n "$(ls -A "$BENCHD")" ]]; then
  [[ -f "$BENCHD/$MARK" ]] || die "$BENCHD exists and was not made by this script (no $MARK): pick another BENCHD"
  find "$BENCHD" -mindepth 1 -maxdepth 1 ! -name target ! -name results ! -name node -exec rm -rf {} +
  if [[ -d "$BENCHD/node" ]]; then
    find "$BENCHD/node" -mindepth 1 -maxdepth 1 ! -name node_modules -exec rm -rf {} +
  fi
fi
mkdir -p "$BENCHD"
say "copy $SHARED_BENCH -> $BENCHD"
tar -C "$SHARED_BENCH" --exclude=./target --exclude=./node/node_modules --exclude=./results -cf - . \
  | tar -C "$BENCHD" -xf -
chmod -R u+w "$BENCHD"
touch "$BENCHD/$MARK"

# ---- 2. the patch
say "apply $(basename "$PATCH")"
patch -p1 --forward --quiet -d "$BENCHD" < "$PATCH" || die "the patch does not apply to $SHARED_BENCH"

# ---- 3. build, install, run
if [[ -z "${PUSHWIRE_BIN:-}" ]]; then
  say "cargo build --release --bin pushwire"
  (cd "$ROOT" && cargo build --release --quiet --bin pushwire)
  PUSHWIRE_BIN="$ROOT/target/release/pushwire"
fi
[[ -x "$PUSHWIRE_BIN" ]] || die "not executable: $PUSHWIRE_BIN"
PUSHWIRE_BIN="$(cd "$(dirname "$PUSHWIRE_BIN")" && pwd)/$(basename "$PUSHWIRE_BIN")"
"$PUSHWIRE_BIN" echo --help | grep -q -- '--deflate-min-size' || die "$PUSHWIRE_BIN echo has no --deflate-min-size"

say "cargo build --release -p wsload (in $BENCHD)"
(cd "$BENCHD" && cargo build --release --quiet -p wsload)
(cd "$BENCHD" && cargo test --release --quiet -p wsload >/dev/null) || die "wsload's self-tests fail"
if [[ ! -d "$BENCHD/node/node_modules/ws" ]]; then
  say "npm ci (node/: ws + optional bufferutil)"
  (cd "$BENCHD/node" && npm ci --no-audit --no-fund --loglevel=error)
fi
[[ "${NO_RUN:-0}" == 1 ]] && { say "set up in $BENCHD (NO_RUN=1: not running)"; exit 0; }

quick=(--quick)
[[ "${QUICK:-1}" == 0 ]] && quick=()
PW="$PUSHWIRE_BIN echo --addr 127.0.0.1:{port}"
exec "$BENCHD/run.sh" --no-build \
  --server "$PW --deflate light --deflate-min-size 0" --name pushwire-deflate \
  --deflate --deflate-offer light --payload json \
  --extra "pushwire-full:takeover:$PW --deflate full --deflate-min-size 0" \
  --extra "pushwire-off:off:$PW --deflate off" \
  --peers node-deflate,node --no-raw \
  --rows 100x20Bx16,10x1KiBx16,10x64KiBx4,idle10k --idle-size 256 \
  --ratios pushwire-off/node-ws,pushwire-full/node-ws-deflate \
  "${quick[@]}" --reps "$REPS" "$@"
