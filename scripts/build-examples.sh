#!/usr/bin/env bash
# Builds the examples that need a wasm toolchain: the Rust `wit-bindgen` version of
# examples/markdown-app's render library (examples/markdown-app/render-rs, for
# wasm32-wasip1) into target/examples/markdown-app/render.wasm, which
# examples/markdown-app/nanoproc-rust.toml runs. tests/cli_nano.rs runs it.
# The Rust target comes from ./scripts/setup.sh (rustup target add wasm32-wasip1). Fails
# loudly when it is missing: the test must never be skipped silently.
set -euo pipefail
cd "$(dirname "$0")/.."

die() {
    {
        echo "##########################################################################"
        echo "build-examples: ERROR: $1"
        shift
        for line in "$@"; do echo "  $line"; done
        echo "  tests/cli_nano.rs fails without target/examples/markdown-app/render.wasm."
        echo "##########################################################################"
    } >&2
    exit 1
}

if command -v rustup >/dev/null 2>&1 &&
    ! rustup target list --installed | grep -qx wasm32-wasip1; then
    die "the Rust target wasm32-wasip1 is not installed" "(rustup target add wasm32-wasip1)"
fi
out=target/examples/markdown-app
mkdir -p "$out"
cargo build --quiet --release --locked \
    --manifest-path examples/markdown-app/render-rs/Cargo.toml \
    --target wasm32-wasip1 --target-dir target/examples/cargo ||
    die "building examples/markdown-app/render-rs for wasm32-wasip1 failed"
cp target/examples/cargo/wasm32-wasip1/release/markdown_render.wasm "$out/render.wasm"
echo "build-examples: built $out/render.wasm"
