#!/usr/bin/env bash
# Builds the test guests (guests/c/*.c with clang-14 for wasm32-wasi, guests/rust/ with
# cargo for wasm32-wasip1) into $NANOPROC_GUESTS (default target/guests): c/NAME.wasm and
# rust/NAME.wasm. tests/guests.rs and tests/escape.rs run them through `nanoproc run`.
# The toolchains come from ./scripts/setup.sh. Fails loudly when one is missing: the tests
# must never be skipped silently.
set -euo pipefail
cd "$(dirname "$0")/.."

out="${NANOPROC_GUESTS:-target/guests}"

die() {
    {
        echo "##########################################################################"
        echo "build-guests: ERROR: $1"
        shift
        for line in "$@"; do echo "  $line"; done
        echo "  Install the guest toolchains with ./scripts/setup.sh, then run"
        echo "  ./scripts/build-guests.sh again. tests/guests.rs and tests/escape.rs fail"
        echo "  without the guests."
        echo "##########################################################################"
    } >&2
    exit 1
}

# C: clang-14, wasm-ld-14, wasi-libc and the wasm32 compiler-rt builtins (Debian packages
# clang-14 lld-14 wasi-libc libclang-rt-14-dev-wasm32).
command -v clang-14 >/dev/null 2>&1 || die "clang-14 not found" "(Debian package clang-14)"
command -v wasm-ld-14 >/dev/null 2>&1 || die "wasm-ld-14 not found" "(Debian package lld-14)"
[ -f /usr/lib/wasm32-wasi/libc.a ] ||
    die "wasi-libc not found (/usr/lib/wasm32-wasi/libc.a)" "(Debian package wasi-libc)"

mkdir -p "$out/c" "$out/rust"
for src in guests/c/*.c; do
    name="$(basename "$src" .c)"
    # --stack-first: a stack overflow traps instead of silently overwriting static data.
    clang-14 --target=wasm32-wasi -O2 -Wall -Wextra -Werror -Wl,--stack-first,--strip-debug \
        "$src" -o "$out/c/$name.wasm" ||
        die "compiling $src failed" "(is libclang-rt-14-dev-wasm32 installed?)"
done

# Rust: the wasm32-wasip1 standard library (rustup target add wasm32-wasip1).
if command -v rustup >/dev/null 2>&1 &&
    ! rustup target list --installed | grep -qx wasm32-wasip1; then
    die "the Rust target wasm32-wasip1 is not installed" "(rustup target add wasm32-wasip1)"
fi
cargo build --quiet --release --locked --manifest-path guests/rust/Cargo.toml \
    --target wasm32-wasip1 --target-dir "$out/cargo" ||
    die "building the Rust guests (guests/rust) for wasm32-wasip1 failed"
for bin in guests/rust/src/bin/*.rs; do
    name="$(basename "$bin" .rs)"
    cp "$out/cargo/wasm32-wasip1/release/$name.wasm" "$out/rust/$name.wasm"
done

echo "build-guests: built $(ls "$out"/c/*.wasm "$out"/rust/*.wasm | wc -l) guests into $out/{c,rust}"
