#!/usr/bin/env bash
# Prepares a fresh Debian 12 machine to build and test nanoproc, then builds the release
# binary. Idempotent: installs only what is missing.
set -euo pipefail
cd "$(dirname "$0")/.."

# A C toolchain and pkg-config (needed by some crates' build scripts); usually present.
missing=()
command -v cc >/dev/null 2>&1 || missing+=(build-essential)
command -v pkg-config >/dev/null 2>&1 || missing+=(pkg-config)
command -v git >/dev/null 2>&1 || missing+=(git)
if ((${#missing[@]})); then
    echo "setup: installing ${missing[*]}"
    sudo=""
    if [ "$(id -u)" -ne 0 ]; then sudo="sudo"; fi
    $sudo apt-get update
    $sudo apt-get install -y --no-install-recommends "${missing[@]}"
fi

if ! command -v cargo >/dev/null 2>&1; then
    echo "setup: cargo not found. Install Rust (1.88 or newer) with rustup:" >&2
    echo "  curl --proto '=https' --tlsv1.2 -sSf https://sh.rustup.rs | sh -s -- -y --profile minimal -c rustfmt,clippy" >&2
    echo "then open a new shell (or 'source \$HOME/.cargo/env') and run this script again." >&2
    exit 1
fi
# scripts/test.sh checks formatting and lints.
for component in rustfmt clippy; do
    if ! cargo "${component/rustfmt/fmt}" --version >/dev/null 2>&1; then
        if command -v rustup >/dev/null 2>&1; then
            rustup component add "$component"
        else
            echo "setup: warning: cargo $component is missing and rustup is not available" >&2
        fi
    fi
done

cargo build --release -p nanoproc-cli

# The WebAssembly spec testsuite, read by the conformance tests.
testsuite="${NANOPROC_TESTSUITE:-../shared/wasm-testsuite}"
if [ -d "$testsuite" ] && ls "$testsuite"/*.wast >/dev/null 2>&1; then
    echo "setup: spec testsuite found at $testsuite"
else
    cat >&2 <<MSG
setup: warning: the WebAssembly spec testsuite was not found at $testsuite
  The conformance tests need it. Get the pinned version with:
    git clone https://github.com/WebAssembly/testsuite
    git -C testsuite checkout a810159
  and point NANOPROC_TESTSUITE at it:
    export NANOPROC_TESTSUITE=\$PWD/testsuite
MSG
fi
echo "setup: done; the binary is target/release/nanoproc"
