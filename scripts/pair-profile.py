#!/usr/bin/env python3
"""Consecutive-handler pairs of the threaded interpreter, from callgrind profiles.

Threaded handlers end in a tail call to the next instruction's handler, which callgrind
records as a call arc between the two handler functions. Summing the arcs by (caller,
callee) gives how often each handler ran right after another: the pairs worth fusing.

    valgrind --tool=callgrind --callgrind-out-file=/tmp/cg.out \\
        benches/peers/target/release/nanoproc-peers --single nanoproc quicksort/benchmark
    scripts/pair-profile.py /tmp/cg.out 30

Prints the total and the TOP (default 40) pairs with their share. Only arcs between
handlers in `nanoproc_engine::threaded` count; calls into the host and nested wasm calls
are arcs too, which is why call handlers appear.

An arc is any transfer, a taken branch included, so for choosing pair handlers (which
only save the dispatch from an instruction to the next one in the code) use the exact
fall-through counts of a profiling build instead (`scripts/pair-profile.sh` makes them):

    scripts/pair-profile.py --select N [--containing NAME] PROFILE...

prints the `pairs!` entries (crates/engine/src/threaded.rs) of the N pairs with the
largest summed share over the profiles given (each workload weighs the same), among the
pairs a pair handler can be made of (with `--containing`, only pairs with instruction
NAME in them: `ConsumeFuel` for the fuel pairs).
"""
import collections
import re
import sys

PREFIX = "nanoproc_engine::threaded::"
DISPATCH = "::<nanoproc_engine::threaded::Dispatch>"
THREADED = "crates/engine/src/threaded.rs"


def pairable():
    """(names that can start a pair, names that can end one), from threaded.rs: the
    handlers `handlers!` defines and the families of `pair_handler!` (both), and the
    handlers `pair_handler!` names that never fall through (second only)."""
    import os
    root = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..")
    src = open(os.path.join(root, THREADED)).read()
    body = src[src.index("handlers! {"):]
    plain = set(re.findall(r"^    (\w+): Instr::\w+", body, re.M))
    macro = src[src.index("macro_rules! pair_handler"):]
    macro = macro[:macro.index("\n}\n")]
    families = set(re.findall(r"\(\$k:ty; (\w+) \$t:ident\)", macro))
    # Arms naming one handler: generic over `$k` (it can fall through to a pair's second
    # instruction), or not (it never falls through).
    arms = re.findall(r"\(\$k:ty; (\w+)\) => \{\s*(\w+)(::<\$k>)?", macro)
    plain |= {name for name, _, generic in arms if generic and name != "$n"}
    second = {name for name, _, _ in arms}
    # Unconditional jumps never fall through.
    jumps = {"Br", "BrBack", "Const32Br", "CopyBr"}
    first = (plain - jumps) | families
    return first, plain | families | second


def pairs_of(path):
    """(caller, callee) → count, the handler names without the module prefix."""
    names = {}  # callgrind compresses repeated names to "(id)"

    def clean(n):
        # Recursion cycles get a "'2" suffix.
        return re.sub(r"'\d+$", "", n.strip())

    def name(field):
        m = re.match(r"\((\d+)\)(?: (.*))?", field.strip())
        if not m:
            return clean(field)
        if m.group(2):
            names[m.group(1)] = clean(m.group(2))
        return names.get(m.group(1), "?")

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
                    pairs[(short(fn), short(cfn))] += count
    return pairs


def short(n):
    return n[len(PREFIX):].replace(DISPATCH, "").replace(PREFIX, "")


def select(count, paths, containing=None):
    first, second = pairable()
    score = collections.Counter()
    for path in paths:
        pairs = collections.Counter()
        try:
            for line in open(path):
                n, a, b = line.rstrip("\n").split("\t")
                pairs[(a, b)] += int(n)
        except (OSError, ValueError) as e:
            sys.exit(f"pair-profile: {path}: not a pair profile ({e})")
        total = max(sum(pairs.values()), 1)
        for (a, b), n in pairs.items():
            heads = (a[1:-1].split()[0], b[1:-1].split()[0])
            if containing and containing not in heads:
                continue
            if heads[0] in first and heads[1] in second:
                score[(a, b)] += n / total
    for (a, b), s in score.most_common(count):
        name = re.sub(r"[^A-Za-z0-9]", "", a) + "_" + re.sub(r"[^A-Za-z0-9]", "", b)
        print(f"    {name}: {a} {b} // {100 * s:.1f}%")


def main():
    args = sys.argv[1:]
    if not args:
        sys.exit(__doc__)
    if args[0] == "--select":
        containing = None
        if len(args) > 3 and args[2] == "--containing":
            containing = args[3]
            del args[2:4]
        if len(args) < 3 or not args[1].isdigit():
            sys.exit(__doc__)
        select(int(args[1]), args[2:], containing)
        return
    top = int(args[1]) if len(args) > 1 else 40
    pairs = pairs_of(args[0])
    total = sum(pairs.values())
    print(f"handler pairs: {total / 1e6:.1f} M")
    for (a, b), n in pairs.most_common(top):
        print(f"{100 * n / max(total, 1):6.2f}% {n / 1e6:8.2f} M  {a} -> {b}")


if __name__ == "__main__":
    main()
