#!/usr/bin/env bash
# Builds every cargo-fuzz target and runs each for a while, starting from its committed
# seeds (fuzz/seeds/<target>/).
#
#   scripts/fuzz-smoke.sh [SECONDS] [TARGET...]
#
# SECONDS per target defaults to 30 (or $FUZZ_SECONDS); with no TARGET, all targets run.
# The fuzzer writes new inputs into a scratch copy of the seeds (fuzz/corpus/<target>,
# ignored by git), so the committed seeds stay as they are. On a crash the script prints
# the reproducer's path, hex and base64 and exits 1. For each target it prints the
# executions per second from libFuzzer's final stats line.
#
# Replay a reproducer on stable with the same code: put it in fuzz/seeds/<target>/ and
# run `cargo test --lib fuzzing::seeds`, or run
#   cargo +nightly fuzz run <target> <path-to-reproducer>
set -euo pipefail

cd "$(dirname "$0")/.."

seconds="${1:-${FUZZ_SECONDS:-30}}"
shift || true
case "$seconds" in
    '' | *[!0-9]*)
        echo "usage: $0 [SECONDS] [TARGET...]" >&2
        exit 2
        ;;
esac

if ! rustup toolchain list | grep -q '^nightly'; then
    echo "fuzz-smoke: cargo-fuzz needs a nightly toolchain (rustup toolchain install nightly)" >&2
    exit 2
fi
if ! cargo fuzz --version >/dev/null 2>&1; then
    echo "fuzz-smoke: installing cargo-fuzz" >&2
    cargo install cargo-fuzz --locked
fi

if [ "$#" -gt 0 ]; then
    targets=("$@")
else
    mapfile -t targets < <(cargo +nightly fuzz list)
fi

echo "== building all targets"
cargo +nightly fuzz build

logs="fuzz/artifacts/logs"
mkdir -p "$logs"
summary=()
status=0
for target in "${targets[@]}"; do
    corpus="fuzz/corpus/$target"
    artifacts="fuzz/artifacts/$target"
    mkdir -p "$corpus" "$artifacts"
    if [ -d "fuzz/seeds/$target" ]; then
        cp -n "fuzz/seeds/$target"/* "$corpus"/ 2>/dev/null || true
    fi
    log="$logs/$target.log"
    echo "== $target: ${seconds}s (log: $log)"
    # The committed seeds are passed as a second, read-only corpus directory: libFuzzer
    # only writes new inputs into the first one.
    set +e
    cargo +nightly fuzz run "$target" "$corpus" "fuzz/seeds/$target" -- \
        -max_total_time="$seconds" -rss_limit_mb=2048 \
        -artifact_prefix="$artifacts/" -print_final_stats=1 >"$log" 2>&1
    rc=$?
    set -e
    execs=$(awk '/^stat::number_of_executed_units/ {n = $2} END {print n}' "$log" 2>/dev/null || true)
    rate=$(awk '/^stat::average_exec_per_sec/ {n = $2} END {print n}' "$log" 2>/dev/null || true)
    cov=$(grep -E '^#[0-9]+' "$log" 2>/dev/null | tail -1 | grep -oE 'cov: [0-9]+' || true)
    if [ "$rc" -ne 0 ]; then
        status=1
        echo "!! $target FAILED (exit $rc)"
        grep -E 'panicked at|^thread|SUMMARY|ERROR: libFuzzer' "$log" | head -5 || true
        crash=$(grep -oE 'Test unit written to [^ ]+' "$log" | tail -1 | sed 's/Test unit written to //' || true)
        if [ -z "$crash" ]; then
            crash=$(find "$artifacts" -type f -newer "$log" 2>/dev/null | head -1 || true)
            [ -n "$crash" ] || crash=$(ls -t "$artifacts"/* 2>/dev/null | head -1 || true)
        fi
        if [ -n "$crash" ] && [ -f "$crash" ]; then
            echo "   reproducer: $crash ($(wc -c <"$crash") bytes)"
            echo "   hex:    $(od -An -v -tx1 "$crash" | tr -d ' \n' | head -c 4096)"
            echo "   base64: $(base64 -w0 "$crash" | head -c 4096)"
            echo "   replay: cargo +nightly fuzz run $target $crash"
        else
            tail -20 "$log"
        fi
        summary+=("$target: FAILED after ${execs:-?} execs, ${rate:-?} exec/s")
    else
        summary+=("$target: ok, ${execs:-?} execs in ${seconds}s, ${rate:-?} exec/s, ${cov:-cov: ?}")
    fi
done

echo "== summary"
printf '%s\n' "${summary[@]}"
exit "$status"
