#!/usr/bin/env bash
# Prepares a fresh Debian 12 machine to build and test nanoproc, then builds the release
# binary. Idempotent: installs only what is missing.
set -euo pipefail
cd "$(dirname "$0")/.."

# Says what failed in a way CI logs cannot hide, and stops: tests must never be skipped
# because a toolchain silently failed to install.
die() {
    {
        echo "##########################################################################"
        echo "setup: ERROR: $1"
        shift
        for line in "$@"; do echo "  $line"; done
        echo "##########################################################################"
    } >&2
    exit 1
}

# A C toolchain and pkg-config (needed by some crates' build scripts); usually present.
# The wasm guest toolchain for tests/guests.rs and tests/escape.rs: clang-14 with wasm-ld,
# wasi-libc and the wasm32 compiler-rt builtins (C guests for wasm32-wasi).
missing=()
command -v cc >/dev/null 2>&1 || missing+=(build-essential)
command -v pkg-config >/dev/null 2>&1 || missing+=(pkg-config)
command -v git >/dev/null 2>&1 || missing+=(git)
for pkg in clang-14 lld-14 wasi-libc libclang-rt-14-dev-wasm32; do
    dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" ||
        missing+=("$pkg")
done
if ((${#missing[@]})); then
    echo "setup: installing ${missing[*]}"
    sudo=""
    if [ "$(id -u)" -ne 0 ]; then sudo="sudo"; fi
    $sudo apt-get update ||
        die "apt-get update failed; could not install: ${missing[*]}"
    $sudo apt-get install -y --no-install-recommends "${missing[@]}" ||
        die "apt-get install failed for: ${missing[*]}" \
            "the guests in guests/ cannot be built without them (see ../shared/README.md)"
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

# The Rust guests' standard library (wasm32-wasip1).
if ! command -v rustup >/dev/null 2>&1; then
    die "rustup not found: cannot add the wasm32-wasip1 target the Rust guests need" \
        "install Rust with rustup (see above) and run this script again"
fi
if ! rustup target list --installed | grep -qx wasm32-wasip1; then
    echo "setup: adding the Rust target wasm32-wasip1"
    rustup target add wasm32-wasip1 ||
        die "rustup target add wasm32-wasip1 failed" \
            "the Rust guests in guests/rust cannot be built without it"
fi

cargo build --release -p nanoproc-cli

# The guests run by tests/guests.rs and tests/escape.rs (target/guests/{c,rust}/*.wasm).
./scripts/build-guests.sh

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
