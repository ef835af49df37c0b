#!/usr/bin/env bash
# Builds the C workloads of benches/peers/workloads twice: to wasm32-wasi with clang-14
# (what every runtime runs) and natively with gcc -O2 (the "native" column).
# Output: benches/peers/target/workloads/NAME.wasm and NAME.native.
# Needs clang-14, lld-14, wasi-libc and libclang-rt-14-dev-wasm32 (scripts/setup.sh
# installs them) and gcc.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
out="$here/target/workloads"
mkdir -p "$out"
for tool in clang-14 gcc; do
    command -v "$tool" >/dev/null || { echo "build-workloads: $tool not found (run scripts/setup.sh)" >&2; exit 1; }
done
for src in "$here"/workloads/*.c; do
    name="$(basename "$src" .c)"
    wasm_flags=(--target=wasm32-wasi -O2)
    # memops measures memory.copy/memory.fill: let clang emit the bulk-memory instructions.
    if [ "$name" = memops ]; then wasm_flags+=(-mbulk-memory); fi
    clang-14 "${wasm_flags[@]}" -o "$out/$name.wasm" "$src"
    gcc -O2 -o "$out/$name.native" "$src"
done
echo "build-workloads: $(ls "$out"/*.wasm | wc -l) workloads in $out"
