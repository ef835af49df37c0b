#!/usr/bin/env bash
# The pair profile behind the threaded interpreter's pair handlers (`pairs!` in
# crates/engine/src/threaded.rs; docs/engine.md, "Pair handlers"): how often each
# instruction falls through to the next, per handler pair, over the benchmark workloads.
#
#   scripts/pair-profile.sh            # profile every workload below, print the top 160
#   scripts/pair-profile.sh 200 W...   # the top 200, over workloads W (harness names)
#
# Builds the harness (benches/peers, wasmi only) with `--cfg nanoproc_pair_profile` into
# its own target folder, runs each workload once (`--single`, about 20 times slower than
# normal: every dispatch counts), keeps one profile per workload in target/pair-profile/,
# and prints the `pairs!` entries that `scripts/pair-profile.py --select` picks from them.
# Needs the C workloads (`benches/peers/build-workloads.sh`) and ../shared.
# PAIR_PROFILE_RUNTIME=nanoproc-fuel profiles fuel-metered code instead, where each fuel
# region starts with a `ConsumeFuel`, and prints only the pairs with one in them (the 40
# fuel pairs: `scripts/pair-profile.sh 40` with it set).
set -euo pipefail
cd "$(dirname "$0")/.."
root="$PWD"
top=${1:-160}
shift || true
out="$root/target/pair-profile"
mkdir -p "$out"
workloads=("$@")
if [ ${#workloads[@]} -eq 0 ]; then
    # The C workloads run small; the sightglass programs that take over a minute natively
    # (ed25519, seqhash, gcc-loops) are left out.
    workloads=(fib loop bytecode calls coremark memops)
    for w in base64 ctype heapsort minicsv memmove switch keccak xchacha20 sieve matrix random \
        nestedloop ratelimit gimli xblabla20 ackermann fib2; do
        workloads+=("shootout/shootout-$w")
    done
    for w in richards quicksort hashset rust-json regex pulldown-cmark blake3-scalar bz2 \
        meshoptimizer rust-compression rust-html-rewriter blake3-simd intgemm-simd hex-simd; do
        workloads+=("$w/benchmark")
    done
fi
RUSTFLAGS="--cfg nanoproc_pair_profile" CARGO_TARGET_DIR="$out/build" \
    cargo build --release --quiet --manifest-path benches/peers/Cargo.toml \
    --no-default-features --features wasmi
bin="$out/build/release/nanoproc-peers"
runtime=${PAIR_PROFILE_RUNTIME:-nanoproc}
sightglass="${NANOPROC_SIGHTGLASS:-$root/../shared/benchmarks/sightglass}"
profiles=()
for w in "${workloads[@]}"; do
    name=$runtime.$(echo "$w" | tr / _)
    small=()
    case "$w" in */*) ;; *) small=(--small) ;; esac
    echo "pair profile: $w" >&2
    NANOPROC_PAIR_PROFILE="$out/$name.txt" "$bin" --sightglass "$sightglass" \
        --workloads "$root/benches/peers/target/workloads" --single "$runtime" "$w" \
        "${small[@]}" >/dev/null
    profiles+=("$out/$name.txt")
done
# Fuel-metered profiles give the pairs with a fuel region's `ConsumeFuel` in them (the
# rest are the unmetered profiles' pairs again).
containing=()
if [ "$runtime" = nanoproc-fuel ]; then containing=(--containing ConsumeFuel); fi
python3 scripts/pair-profile.py --select "$top" "${containing[@]}" "${profiles[@]}"
