#!/usr/bin/env bash
# Release hygiene: what a published crate must get right, checked before it is published.
#
#   scripts/release-check.sh                # every check, in this order
#   scripts/release-check.sh deps msrv      # some of them
#
#   docs     `cargo doc --no-deps` with warnings denied: the library's public docs, and the
#            binary's (which `cargo doc` skips by default: its name is the library's)
#   package  `cargo package` builds the packaged crate with no warning; the repository's
#            tooling (.ci/, fuzz/, scripts/) stays out, what the crate needs goes in; the
#            .crate stays under 1 MiB
#   msrv     the `rust-version` of Cargo.toml (installed with rustup if missing) builds the
#            library, the binary and the examples, and passes the library's tests
#   deps     `cargo tree -e normal`: without default features the library depends on
#            exactly mio, sha1, base64 and rand (their own dependencies aside); the default
#            features add signal-hook and its dependencies, nothing else
#
# Each check is announced with a `==> check` line and timed; the first failure stops the
# run with a non-zero exit code. Builds go to the usual target directory
# ($CARGO_TARGET_DIR or target/); the MSRV build to its own `msrv/` in it, so the stable
# build is not replaced.
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."
if ! command -v cargo >/dev/null 2>&1 && [ -f "$HOME/.cargo/env" ]; then
  . "$HOME/.cargo/env"
fi
export CARGO_TERM_COLOR="${CARGO_TERM_COLOR:-never}"
TARGET_DIR="${CARGO_TARGET_DIR:-target}"

fail() {
  echo "release-check: $*" >&2
  exit 1
}

check_docs() {
  export RUSTDOCFLAGS="${RUSTDOCFLAGS:-} -D warnings"
  cargo doc --locked --no-deps
  # Its own directory: the binary's docs would overwrite the library's (the same name).
  # Cargo still warns of an "output filename collision" (cargo#6313); there is none here.
  cargo doc --locked --no-deps --bin pushwire --target-dir "$TARGET_DIR/bin-doc"
}

# Kept at the crate's root or built from it; the crate does not build, or is not
# documented or licensed, without them.
PACKAGE_NEEDS=(Cargo.toml Cargo.lock README.md CHANGELOG.md LICENSE-MIT LICENSE-APACHE
  src/lib.rs src/bin/pushwire/main.rs src/hub/demo.html)
# The repository's tooling, of no use to a user of the crate.
PACKAGE_LEAVES_OUT=(.ci/ fuzz/ scripts/)
PACKAGE_MAX_BYTES=$((1 << 20))

check_package() {
  local list out name crate bytes
  list=$(cargo package --locked --allow-dirty --list)
  for name in "${PACKAGE_NEEDS[@]}"; do
    grep -qxF "$name" <<<"$list" || fail "the package lacks $name"
  done
  for name in "${PACKAGE_LEAVES_OUT[@]}"; do
    if grep -q "^$name" <<<"$list"; then
      fail "the package holds $name: $(grep "^$name" <<<"$list" | head -3 | tr '\n' ' ')"
    fi
  done
  # Verifying builds the unpacked crate, as crates.io would get it.
  out=$(cargo package --locked --allow-dirty 2>&1) || {
    echo "$out"
    fail "cargo package failed"
  }
  echo "$out"
  if grep -q '^warning' <<<"$out"; then
    fail "cargo package warns (see above)"
  fi
  crate="$TARGET_DIR/package/pushwire-$(sed -n 's/^version = "\(.*\)"$/\1/p' Cargo.toml | head -1).crate"
  bytes=$(stat -c %s "$crate")
  echo "$crate: $bytes bytes, $(wc -l <<<"$list") files"
  [ "$bytes" -le "$PACKAGE_MAX_BYTES" ] ||
    fail "the crate is $bytes bytes, over $PACKAGE_MAX_BYTES: see what \`cargo package --list\` added"
}

check_msrv() {
  local msrv
  msrv=$(sed -n 's/^rust-version = "\([0-9.]*\)"$/\1/p' Cargo.toml)
  [ -n "$msrv" ] || fail "no rust-version in Cargo.toml"
  if ! rustup toolchain list | grep -q "^$msrv-"; then
    rustup toolchain install "$msrv" --profile minimal
  fi
  rustc "+$msrv" --version
  CARGO_TARGET_DIR="$TARGET_DIR/msrv" cargo "+$msrv" build --locked --lib --bins --examples
  CARGO_TARGET_DIR="$TARGET_DIR/msrv" cargo "+$msrv" test --locked --lib
}

# The names of the packages in `cargo tree`'s output (`name vX.Y.Z ...` per line), sorted,
# each once, without the first line (the crate itself).
tree_names() {
  cargo tree --locked -e normal --target all --prefix none "$@" | tail -n +2 | awk '{print $1}' | sort -u
}

# `expect_names WHAT EXPECTED ACTUAL`: fails showing both lists unless they are equal.
expect_names() {
  if [ "$2" != "$3" ]; then
    fail "$1: expected [$(echo $2)], found [$(echo $3)]"
  fi
  echo "$1: $(echo $3)"
}

check_deps() {
  local lib default lib_all default_all added signal_hook_tree outside
  # --target all: a dependency for another platform counts too.
  lib=$(tree_names --no-default-features --depth 1)
  expect_names "direct dependencies, --no-default-features" \
    "$(printf '%s\n' base64 mio rand sha1)" "$lib"
  default=$(tree_names --depth 1)
  expect_names "direct dependencies, default features" \
    "$(printf '%s\n' base64 mio rand sha1 signal-hook)" "$default"
  # What the default features add, transitively, is signal-hook's own tree.
  lib_all=$(tree_names --no-default-features)
  default_all=$(tree_names)
  added=$(comm -13 <(echo "$lib_all") <(echo "$default_all"))
  signal_hook_tree=$(cargo tree --locked -e normal --target all --prefix none -p signal-hook |
    awk '{print $1}' | sort -u)
  outside=$(comm -23 <(echo "$added") <(echo "$signal_hook_tree"))
  [ -z "$outside" ] || fail "the default features add, besides signal-hook's tree: $(echo $outside)"
  echo "the default features add: $(echo $added)"
  if grep -qx signal-hook <<<"$lib_all"; then
    fail "signal-hook is in the tree without default features"
  fi
  echo "all dependencies, --no-default-features: $(echo $lib_all)"
}

run_check() {
  local name="$1" start=$SECONDS rc=0
  echo
  echo "==> $name"
  # A subshell outside any `||`/`if`, so `set -e` also holds inside the functions.
  set +e
  (set -e; "check_$name")
  rc=$?
  set -e
  if [ "$rc" != 0 ]; then
    echo "==> FAILED: $name (exit $rc, $((SECONDS - start)) s)"
    exit "$rc"
  fi
  echo "==> ok: $name ($((SECONDS - start)) s)"
}

CHECKS=("$@")
[ "${#CHECKS[@]}" -gt 0 ] || CHECKS=(docs package msrv deps)
for check in "${CHECKS[@]}"; do
  declare -F "check_$check" >/dev/null || fail "no check named '$check' (docs, package, msrv, deps)"
done
START=$SECONDS
for check in "${CHECKS[@]}"; do
  run_check "$check"
done
echo
echo "==> release checks passed in $((SECONDS - START)) s"
