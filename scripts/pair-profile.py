#!/usr/bin/env python3
"""Consecutive-handler pairs of the threaded interpreter, from a callgrind profile.

Threaded handlers end in a tail call to the next instruction's handler, which callgrind
records as a call arc between the two handler functions. Summing the arcs by (caller,
callee) gives how often each handler ran right after another: the pairs worth fusing.

    valgrind --tool=callgrind --callgrind-out-file=/tmp/cg.out \\
        benches/peers/target/release/nanoproc-peers --single nanoproc quicksort/benchmark
    scripts/pair-profile.py /tmp/cg.out 30

Prints the total and the TOP (default 40) pairs with their share. Only arcs between
handlers in `nanoproc_engine::threaded` count; calls into the host and nested wasm calls
are arcs too, which is why call handlers appear.
"""
import collections
import re
import sys

PREFIX = "nanoproc_engine::threaded::"


def main():
    if len(sys.argv) < 2:
        sys.exit(__doc__)
    path = sys.argv[1]
    top = int(sys.argv[2]) if len(sys.argv) > 2 else 40
    names = {}  # callgrind compresses repeated names to "(id)"

    def name(field):
        m = re.match(r"\((\d+)\)(?: (.*))?", field.strip())
        if not m:
            return clean(field)
        if m.group(2):
            names[m.group(1)] = clean(m.group(2))
        return names.get(m.group(1), "?")

    def clean(n):
        # Recursion cycles get a "'2" suffix.
        return re.sub(r"'\d+$", "", n.strip())

    pairs = collections.Counter()
    fn = cfn = None
    with open(path) as f:
        for line in f:
            if line.startswith("fn="):
                fn = name(line[3:])
            elif line.startswith("cfn="):
                cfn = name(line[4:])
            elif line.startswith("calls="):
                if fn and cfn and fn.startswith(PREFIX) and cfn.startswith(PREFIX):
                    count = int(line[6:].split()[0])
                    pairs[(fn[len(PREFIX):], cfn[len(PREFIX):])] += count
    total = sum(pairs.values())
    print(f"handler pairs: {total / 1e6:.1f} M")
    for (a, b), n in pairs.most_common(top):
        print(f"{100 * n / max(total, 1):6.2f}% {n / 1e6:8.2f} M  {a} -> {b}")


if __name__ == "__main__":
    main()
