#!/usr/bin/env bash
# The whole test suite: what CI runs (.ci/run) and what a developer runs before pushing.
set -euo pipefail
cd "$(dirname "$0")/.."

# The CLI tests run the real binary of the same profile (target/release/nanoproc), and
# cargo does not build another package's binaries for a test crate: build it first.
cargo build --release -p nanoproc-cli
# tests/guests.rs and tests/escape.rs run the C and Rust programs of guests/ (fast when
# up to date; fails loudly if the toolchains ./scripts/setup.sh installs are missing).
./scripts/build-guests.sh
# The Rust (wit-bindgen) library of examples/markdown-app, run by tests/cli_nano.rs.
./scripts/build-examples.sh
cargo test --workspace --release
# Once more at opt-level 1 (the test profile), where the threaded code's handlers return to
# a trampoline instead of jumping to each other (crates/engine/build.rs): the engine's own
# tests and the spec testsuite.
cargo test -p nanoproc-engine
cargo test -p nanoproc-tests --test spec
cargo fmt --all -- --check
cargo clippy --workspace --release --all-targets -- -D warnings
