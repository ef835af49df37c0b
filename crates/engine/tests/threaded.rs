//! Threaded dispatch (`docs/engine.md`, "Threaded dispatch"): in an optimized build every
//! handler ends by jumping to the next instruction's handler. A handler whose final call
//! LLVM kept as a call would grow the host stack by a frame per instruction executed, so
//! a long enough loop would overflow it: a guest could crash the host.
//!
//! These loops run every family of instructions the threaded code owns (each arithmetic,
//! comparison and conversion operator in its slot and immediate forms, every load and
//! store width and fused address form, moves, `select`, globals, branches, `br_table`,
//! SIMD, direct and indirect calls and returns) 100 000 times on a thread with a 512 KiB stack:
//! one handler that does not jump overflows it, and the test process aborts. Builds
//! without sibling calls (`opt-level` below 2) run the same loops through the trampoline.
//! The results are compared with the same computation in Rust where it is cheap to write.

use nanoproc_engine::*;

const ITERATIONS: i32 = 100_000;
const STACK: usize = 512 * 1024;

const I32_BINARY: &[&str] = &[
    "add", "sub", "mul", "and", "or", "xor", "shl", "shr_s", "shr_u", "rotl", "rotr", "eq", "ne",
    "lt_s", "lt_u", "gt_s", "gt_u", "le_s", "le_u", "ge_s", "ge_u",
];
const DIVISIONS: &[&str] = &["div_s", "div_u", "rem_s", "rem_u"];
const INT_UNARY: &[&str] = &["clz", "ctz", "popcnt", "eqz", "extend8_s", "extend16_s"];
const FLOAT_BINARY: &[&str] = &[
    "add", "sub", "mul", "div", "min", "max", "copysign", "eq", "ne", "lt", "gt", "le", "ge",
];
const FLOAT_UNARY: &[&str] = &["abs", "neg", "sqrt", "ceil", "floor", "trunc", "nearest"];
/// Every SIMD operator with a handler of its own (one per operator, since the seventh
/// session), by class.
const SIMD_UNARY: &[&str] = &[
    "v128.not",
    "i8x16.abs",
    "i8x16.neg",
    "i8x16.popcnt",
    "i16x8.extadd_pairwise_i8x16_s",
    "i16x8.extadd_pairwise_i8x16_u",
    "i16x8.abs",
    "i16x8.neg",
    "i16x8.extend_low_i8x16_s",
    "i16x8.extend_high_i8x16_s",
    "i16x8.extend_low_i8x16_u",
    "i16x8.extend_high_i8x16_u",
    "i32x4.extadd_pairwise_i16x8_s",
    "i32x4.extadd_pairwise_i16x8_u",
    "i32x4.abs",
    "i32x4.neg",
    "i32x4.extend_low_i16x8_s",
    "i32x4.extend_high_i16x8_s",
    "i32x4.extend_low_i16x8_u",
    "i32x4.extend_high_i16x8_u",
    "i64x2.abs",
    "i64x2.neg",
    "i64x2.extend_low_i32x4_s",
    "i64x2.extend_high_i32x4_s",
    "i64x2.extend_low_i32x4_u",
    "i64x2.extend_high_i32x4_u",
    "f32x4.ceil",
    "f32x4.floor",
    "f32x4.trunc",
    "f32x4.nearest",
    "f32x4.abs",
    "f32x4.neg",
    "f32x4.sqrt",
    "f64x2.ceil",
    "f64x2.floor",
    "f64x2.trunc",
    "f64x2.nearest",
    "f64x2.abs",
    "f64x2.neg",
    "f64x2.sqrt",
    "i32x4.trunc_sat_f32x4_s",
    "i32x4.trunc_sat_f32x4_u",
    "f32x4.convert_i32x4_s",
    "f32x4.convert_i32x4_u",
    "i32x4.trunc_sat_f64x2_s_zero",
    "i32x4.trunc_sat_f64x2_u_zero",
    "f64x2.convert_low_i32x4_s",
    "f64x2.convert_low_i32x4_u",
    "f32x4.demote_f64x2_zero",
    "f64x2.promote_low_f32x4",
];
const SIMD_BINARY: &[&str] = &[
    "i8x16.swizzle",
    "i8x16.eq",
    "i8x16.ne",
    "i8x16.lt_s",
    "i8x16.lt_u",
    "i8x16.gt_s",
    "i8x16.gt_u",
    "i8x16.le_s",
    "i8x16.le_u",
    "i8x16.ge_s",
    "i8x16.ge_u",
    "i16x8.eq",
    "i16x8.ne",
    "i16x8.lt_s",
    "i16x8.lt_u",
    "i16x8.gt_s",
    "i16x8.gt_u",
    "i16x8.le_s",
    "i16x8.le_u",
    "i16x8.ge_s",
    "i16x8.ge_u",
    "i32x4.eq",
    "i32x4.ne",
    "i32x4.lt_s",
    "i32x4.lt_u",
    "i32x4.gt_s",
    "i32x4.gt_u",
    "i32x4.le_s",
    "i32x4.le_u",
    "i32x4.ge_s",
    "i32x4.ge_u",
    "i64x2.eq",
    "i64x2.ne",
    "i64x2.lt_s",
    "i64x2.gt_s",
    "i64x2.le_s",
    "i64x2.ge_s",
    "f32x4.eq",
    "f32x4.ne",
    "f32x4.lt",
    "f32x4.gt",
    "f32x4.le",
    "f32x4.ge",
    "f64x2.eq",
    "f64x2.ne",
    "f64x2.lt",
    "f64x2.gt",
    "f64x2.le",
    "f64x2.ge",
    "v128.and",
    "v128.andnot",
    "v128.or",
    "v128.xor",
    "i8x16.narrow_i16x8_s",
    "i8x16.narrow_i16x8_u",
    "i8x16.add",
    "i8x16.add_sat_s",
    "i8x16.add_sat_u",
    "i8x16.sub",
    "i8x16.sub_sat_s",
    "i8x16.sub_sat_u",
    "i8x16.min_s",
    "i8x16.min_u",
    "i8x16.max_s",
    "i8x16.max_u",
    "i8x16.avgr_u",
    "i16x8.q15mulr_sat_s",
    "i16x8.narrow_i32x4_s",
    "i16x8.narrow_i32x4_u",
    "i16x8.add",
    "i16x8.add_sat_s",
    "i16x8.add_sat_u",
    "i16x8.sub",
    "i16x8.sub_sat_s",
    "i16x8.sub_sat_u",
    "i16x8.mul",
    "i16x8.min_s",
    "i16x8.min_u",
    "i16x8.max_s",
    "i16x8.max_u",
    "i16x8.avgr_u",
    "i16x8.extmul_low_i8x16_s",
    "i16x8.extmul_high_i8x16_s",
    "i16x8.extmul_low_i8x16_u",
    "i16x8.extmul_high_i8x16_u",
    "i32x4.add",
    "i32x4.sub",
    "i32x4.mul",
    "i32x4.min_s",
    "i32x4.min_u",
    "i32x4.max_s",
    "i32x4.max_u",
    "i32x4.dot_i16x8_s",
    "i32x4.extmul_low_i16x8_s",
    "i32x4.extmul_high_i16x8_s",
    "i32x4.extmul_low_i16x8_u",
    "i32x4.extmul_high_i16x8_u",
    "i64x2.add",
    "i64x2.sub",
    "i64x2.mul",
    "i64x2.extmul_low_i32x4_s",
    "i64x2.extmul_high_i32x4_s",
    "i64x2.extmul_low_i32x4_u",
    "i64x2.extmul_high_i32x4_u",
    "f32x4.add",
    "f32x4.sub",
    "f32x4.mul",
    "f32x4.div",
    "f32x4.min",
    "f32x4.max",
    "f32x4.pmin",
    "f32x4.pmax",
    "f64x2.add",
    "f64x2.sub",
    "f64x2.mul",
    "f64x2.div",
    "f64x2.min",
    "f64x2.max",
    "f64x2.pmin",
    "f64x2.pmax",
];
const SIMD_SHIFT: &[&str] = &[
    "i8x16.shl",
    "i8x16.shr_s",
    "i8x16.shr_u",
    "i16x8.shl",
    "i16x8.shr_s",
    "i16x8.shr_u",
    "i32x4.shl",
    "i32x4.shr_s",
    "i32x4.shr_u",
    "i64x2.shl",
    "i64x2.shr_s",
    "i64x2.shr_u",
];
const SIMD_TEST: &[&str] = &[
    "v128.any_true",
    "i8x16.all_true",
    "i8x16.bitmask",
    "i16x8.all_true",
    "i16x8.bitmask",
    "i32x4.all_true",
    "i32x4.bitmask",
    "i64x2.all_true",
    "i64x2.bitmask",
];
const SIMD_LOADS: &[&str] = &[
    "v128.load",
    "v128.load8x8_s",
    "v128.load8x8_u",
    "v128.load16x4_s",
    "v128.load16x4_u",
    "v128.load32x2_s",
    "v128.load32x2_u",
    "v128.load8_splat",
    "v128.load16_splat",
    "v128.load32_splat",
    "v128.load64_splat",
    "v128.load32_zero",
    "v128.load64_zero",
];

/// The body of a loop that applies every integer operator of type `ty` to `$a` and `$b`.
fn integer_ops(ty: &str) -> String {
    let mut body = String::new();
    for op in I32_BINARY {
        // Comparisons yield i32: widen them back for i64.
        let widen = if ty == "i64" && is_comparison(op) {
            "i64.extend_i32_u"
        } else {
            "nop"
        };
        body += &format!(
            "(local.set $a ({ty}.add (local.get $a) (block (result {ty}) ({ty}.{op} (local.get $a) (local.get $b)) ({widen}))))\n"
        );
        body += &format!(
            "(local.set $b ({ty}.xor (local.get $b) (block (result {ty}) ({ty}.{op} (local.get $a) ({ty}.const 7)) ({widen}))))\n"
        );
    }
    for op in DIVISIONS {
        // A divisor in 1..=256: no trap, no overflow.
        body += &format!(
            "(local.set $a ({ty}.add (local.get $a) ({ty}.{op} (local.get $b) ({ty}.add ({ty}.and (local.get $a) ({ty}.const 255)) ({ty}.const 1)))))\n"
        );
    }
    for op in INT_UNARY {
        let widen = if ty == "i64" && *op == "eqz" {
            "i64.extend_i32_u"
        } else {
            "nop"
        };
        body += &format!(
            "(local.set $b ({ty}.add (local.get $b) (block (result {ty}) ({ty}.{op} (local.get $a)) ({widen}))))\n"
        );
    }
    if ty == "i64" {
        body += "(local.set $a (i64.add (local.get $a) (i64.extend32_s (local.get $b))))\n";
        body += "(local.set $a (i64.add (local.get $a) (i64.extend_i32_s (i32.wrap_i64 (local.get $b)))))\n";
        body += "(local.set $b (i64.and (local.get $b) (i64.const 0xffffffff)))\n";
        body += "(local.set $b (i64.and (i64.xor (local.get $a) (i64.const -1)) (local.get $b)))\n";
    }
    // Fused forms: an add and an xor of its sum (`I64AddXor`), multiply-add by constants,
    // multiply-accumulate, xor-rotate, rotate-xor.
    body += &format!("(local.set $a ({ty}.add (local.get $a) (local.get $b)))\n");
    body += &format!("(local.set $b ({ty}.xor (local.get $b) (local.get $a)))\n");
    body += &format!(
        "(local.set $a ({ty}.add ({ty}.mul (local.get $a) ({ty}.const 1664525)) ({ty}.const 1013904223)))\n"
    );
    body += &format!(
        "(local.set $b ({ty}.add (local.get $b) ({ty}.mul (local.get $a) (local.get $b))))\n"
    );
    body += &format!(
        "(local.set $a ({ty}.rotl ({ty}.xor (local.get $a) (local.get $b)) ({ty}.const 13)))\n"
    );
    body += &format!(
        "(local.set $b ({ty}.xor ({ty}.rotl (local.get $b) ({ty}.const 7)) (local.get $a)))\n"
    );
    body += &format!(
        "(local.set $a (select (local.get $a) (local.get $b) ({ty}.lt_u (local.get $a) (local.get $b))))\n"
    );
    body
}

fn is_comparison(op: &str) -> bool {
    matches!(
        op,
        "eq" | "ne" | "lt_s" | "lt_u" | "gt_s" | "gt_u" | "le_s" | "le_u" | "ge_s" | "ge_u"
    )
}

/// Every float operator and conversion, on values kept finite and small.
fn float_ops(ty: &str) -> String {
    let int = if ty == "f32" { "i32" } else { "i64" };
    let mut body = String::new();
    for op in FLOAT_BINARY {
        let result = if matches!(*op, "eq" | "ne" | "lt" | "gt" | "le" | "ge") {
            format!("({ty}.convert_i32_u ({ty}.{op} (local.get $x) (local.get $y)))")
        } else {
            format!("({ty}.{op} (local.get $x) (local.get $y))")
        };
        body += &format!("(local.set $y ({ty}.add (local.get $y) {result}))\n");
    }
    for op in FLOAT_UNARY {
        body += &format!("(local.set $x ({ty}.add (local.get $x) ({ty}.{op} (local.get $y))))\n");
    }
    // Conversions of a value that is always in range (`$x` and `$y` may become NaN, which
    // the trapping conversions would rightly refuse).
    let small = format!("({ty}.convert_i32_u (i32.and (local.get $i) (i32.const 1023)))");
    for conv in ["trunc", "trunc_sat"] {
        for sign in ["s", "u"] {
            body += &format!(
                "(local.set $x ({ty}.add (local.get $x) ({ty}.convert_i32_{sign} (i32.{conv}_{ty}_{sign} {small}))))\n"
            );
            body += &format!(
                "(local.set $y ({ty}.add (local.get $y) ({ty}.convert_i64_{sign} (i64.{conv}_{ty}_{sign} {small}))))\n"
            );
        }
    }
    body += &format!(
        "(local.set $x ({ty}.reinterpret_{int} ({int}.and ({int}.reinterpret_{ty} (local.get $x)) ({int}.const 0x3fffffff))))\n"
    );
    if ty == "f32" {
        body += "(local.set $x (f32.demote_f64 (f64.promote_f32 (local.get $x))))\n";
    }
    // Keep both in a small range so every conversion stays defined.
    body += &format!("(local.set $x ({ty}.min ({ty}.abs (local.get $x)) ({ty}.const 100)))\n");
    body += &format!("(local.set $y ({ty}.min ({ty}.abs (local.get $y)) ({ty}.const 100)))\n");
    body
}

/// Every load and store width, in the plain, indexed, displaced and absolute forms.
fn memory_ops() -> String {
    let mut body = String::new();
    let loads = [
        ("i32", "load"),
        ("i32", "load8_s"),
        ("i32", "load8_u"),
        ("i32", "load16_s"),
        ("i32", "load16_u"),
        ("i64", "load"),
        ("i64", "load8_s"),
        ("i64", "load8_u"),
        ("i64", "load16_s"),
        ("i64", "load16_u"),
        ("i64", "load32_s"),
        ("i64", "load32_u"),
    ];
    for (ty, load) in loads {
        let widen = if ty == "i32" {
            "i64.extend_i32_u"
        } else {
            "nop"
        };
        for addr in [
            "(local.get $p)",
            "(i32.add (local.get $p) (local.get $q))",
            "(i32.add (i32.shl (local.get $q) (i32.const 2)) (local.get $p))",
            "(i32.add (local.get $p) (i32.const 24))",
            "(i32.add (i32.shl (local.get $q) (i32.const 3)) (i32.const 64))",
            "(i32.const 128)",
        ] {
            body += &format!(
                "(local.set $a (i64.add (local.get $a) (block (result i64) ({ty}.{load} offset=4 {addr}) ({widen}))))\n"
            );
        }
    }
    let stores = [
        (
            "i32",
            "store",
            "(i32.wrap_i64 (local.get $a))",
            "(i32.const 77)",
        ),
        (
            "i32",
            "store8",
            "(i32.wrap_i64 (local.get $a))",
            "(i32.const 78)",
        ),
        (
            "i32",
            "store16",
            "(i32.wrap_i64 (local.get $a))",
            "(i32.const 79)",
        ),
        ("i64", "store", "(local.get $a)", "(i64.const 80)"),
        ("i64", "store8", "(local.get $a)", "(i64.const 81)"),
        ("i64", "store16", "(local.get $a)", "(i64.const 82)"),
        ("i64", "store32", "(local.get $a)", "(i64.const 83)"),
    ];
    for (ty, store, value, constant) in stores {
        for addr in [
            "(local.get $p)",
            "(i32.add (local.get $p) (i32.const 40))",
            "(i32.const 256)",
        ] {
            body += &format!("({ty}.{store} offset=8 {addr} {value})\n");
            body += &format!("({ty}.{store} offset=16 {addr} {constant})\n");
        }
    }
    // Constants stored through `x + C` (`*ImmDisp`).
    for (ty, store) in [
        ("i32", "store8"),
        ("i32", "store16"),
        ("i32", "store"),
        ("i64", "store"),
    ] {
        body += &format!(
            "({ty}.{store} offset=4 (i32.add (local.get $p) (i32.const 48)) ({ty}.const -9))\n"
        );
    }
    body += "(local.set $a (i64.add (local.get $a) (i64.load offset=52 (local.get $p))))\n";
    // Bulk memory (handlers of their own since the seventh session).
    body +=
        "(memory.fill (i32.add (local.get $p) (i32.const 512)) (local.get $q) (i32.const 16))\n";
    body +=
        "(memory.copy (i32.const 1024) (i32.add (local.get $p) (i32.const 512)) (i32.const 24))\n";
    body += "(local.set $a (i64.add (local.get $a) (i64.load (i32.const 1028))))\n";
    body += "(global.set $g (i32.add (global.get $g) (i32.wrap_i64 (local.get $a))))\n";
    body += "(local.set $a (i64.add (local.get $a) (i64.extend_i32_u (global.get $g))))\n";
    body += "(local.set $q (i32.and (i32.add (local.get $q) (i32.const 1)) (i32.const 7)))\n";
    body
}

/// Every SIMD operator (each has its own handler), lane shuffles of each kind and every
/// SIMD load, feeding one another so nothing is dead.
fn simd_every_op() -> String {
    let mut body = String::new();
    for op in SIMD_UNARY {
        body += &format!("(local.set $v (v128.xor (local.get $v) ({op} (local.get $w))))\n");
    }
    for op in SIMD_BINARY {
        body += &format!("(local.set $w ({op} (local.get $v) (local.get $w)))\n");
        body += "(local.set $v (i64x2.add (local.get $v) (local.get $w)))\n";
    }
    for op in SIMD_SHIFT {
        body += &format!("(local.set $w ({op} (local.get $v) (local.get $i)))\n");
        // By a constant: `V128ShiftImm`.
        body += &format!("(local.set $w ({op} (local.get $w) (i32.const 3)))\n");
    }
    for op in SIMD_TEST {
        body += &format!(
            "(local.set $a (i64.add (local.get $a) (i64.extend_i32_u ({op} (local.get $w)))))\n"
        );
    }
    for mask in [
        "4 5 6 7 0 1 2 3 28 29 30 31 16 17 18 19",
        "2 3 0 1 6 7 4 5 24 25 26 27 10 11 8 9",
        "0 16 1 17 2 18 3 19 4 20 5 21 6 22 7 23",
    ] {
        body += &format!("(local.set $w (i8x16.shuffle {mask} (local.get $w) (local.get $v)))\n");
    }
    body += "(v128.store offset=16 (i32.const 1024) (local.get $w))\n";
    for op in SIMD_LOADS {
        body += &format!(
            "(local.set $v (i64x2.add (local.get $v) ({op} offset=16 (i32.const 1024))))\n"
        );
    }
    body += "(local.set $a (i64.add (local.get $a) (i64x2.extract_lane 1 (local.get $v))))\n";
    body
}

/// Short inner loops whose tails fuse into `BrInc`/`BrIncBy`, one per test and kind of
/// step (each its own handler), counting their iterations into `$a`.
fn counted_ops() -> String {
    let tests = [
        ("(local.get $j)", -3, 1),
        ("(i32.ne (local.get $j) (local.get $n3))", 0, 1),
        ("(i32.lt_u (local.get $j) (local.get $n3))", 0, 1),
        ("(i32.lt_s (local.get $j) (local.get $n3))", -2, 1),
        ("(i32.ne (local.get $j) (i32.const 3))", 0, 1),
        ("(i32.lt_u (local.get $j) (i32.const 3))", 0, 1),
        ("(i32.lt_s (local.get $j) (i32.const 3))", -2, 1),
    ];
    let mut body = String::from("(local.set $n3 (i32.const 3)) (local.set $one (i32.const 1))\n");
    for (test, start, _) in tests {
        for step in ["(i32.const 1)", "(local.get $one)"] {
            body += &format!(
                "(local.set $j (i32.const {start}))
                 (loop $m
                   (local.set $a (i64.add (local.get $a) (i64.const 1)))
                   (local.set $j (i32.add (local.get $j) {step}))
                   (br_if $m {test}))\n"
            );
        }
    }
    // Range checks (`I32AddLtU`/`GeU`) and branches on them (`BrAddLtU`/`GeU`).
    for (cmp, bound) in [("lt_u", 3), ("ge_u", 3), ("le_u", 2), ("gt_u", 2)] {
        let check =
            format!("(i32.{cmp} (i32.add (local.get $j) (i32.const -1)) (i32.const {bound}))");
        body += &format!(
            "(local.set $a (i64.add (local.get $a) (i64.extend_i32_u {check})))
             (block $skip (br_if $skip {check}) (local.set $a (i64.add (local.get $a) (i64.const 2))))
             (if {check} (then (local.set $a (i64.add (local.get $a) (i64.const 3)))))\n"
        );
    }
    body
}

/// `br_if` in every fused compare form, `br_table`, and calls of every kind.
fn control_ops() -> String {
    let mut body = String::new();
    for cmp in [
        "eq", "ne", "lt_s", "lt_u", "gt_s", "gt_u", "le_s", "le_u", "ge_s", "ge_u",
    ] {
        for ty in ["i32", "i64"] {
            for rhs in ["(local.get $b)", "(TY.const 3)"] {
                let rhs = rhs.replace("TY", ty);
                let (a, b) = if ty == "i32" {
                    ("(i32.wrap_i64 (local.get $a))", rhs.replace("$b", "$c"))
                } else {
                    ("(local.get $a)", rhs)
                };
                body += &format!(
                    "(block $skip (br_if $skip ({ty}.{cmp} {a} {b})) (local.set $a (i64.add (local.get $a) (i64.const 1))))\n"
                );
            }
        }
    }
    body += "(block $z (br_if $z (i64.eqz (local.get $a))) (local.set $a (i64.sub (local.get $a) (i64.const 1))))\n";
    body += "(block $z (br_if $z (i32.eqz (local.get $c))) (local.set $c (i32.sub (local.get $c) (i32.const 1))))\n";
    body += "(block $nz (br_if $nz (local.get $c)) (local.set $c (i32.const 9)))\n";
    body += r#"(block $b3 (block $b2 (block $b1 (block $b0
                 (br_table $b0 $b1 $b2 $b3 (i32.and (local.get $c) (i32.const 3))))
               (local.set $a (i64.add (local.get $a) (i64.const 10))) (br $b3))
             (local.set $a (i64.add (local.get $a) (i64.const 20))) (br $b3))
           (local.set $a (i64.add (local.get $a) (i64.const 30))))
"#;
    body += "(local.set $c (call $inc (local.get $c)))\n";
    body += "(local.set $c (call $add3 (local.get $c) (local.get $c) (i32.const 1)))\n";
    body += "(local.set $a (call $wide (local.get $a)))\n";
    body += "(call $nothing)\n";
    body += "(local.set $c (call_indirect (type $unary) (local.get $c) (i32.and (local.get $c) (i32.const 1))))\n";
    body += "(local.set $c (i32.and (local.get $c) (i32.const 0xffff)))\n";
    body
}

/// One of every SIMD instruction form (each form is one handler; the operation is data),
/// v128 constants, moves, `select` and globals, `memory.size`, the fused steps of a
/// vectorized ARX round (`V128Add2`, `V128XorRotl32`, `V128AddXorRotl32`), a load at
/// `p + C` and an accumulated dot product.
fn simd_ops() -> String {
    r#"(local.set $v (i32x4.add (local.get $v) (v128.const i32x4 1 2 3 4)))
(local.set $w (i32x4.abs (local.get $v)))
(local.set $v (v128.bitselect (local.get $v) (local.get $w) (v128.const i64x2 -1 0)))
(local.set $w (i32x4.shl (local.get $w) (local.get $i)))
(local.set $v (i32x4.add (local.get $v) (i32x4.splat (local.get $i))))
(local.set $a (i64.add (local.get $a) (i64.extend_i32_u (i32x4.extract_lane 2 (local.get $v)))))
(local.set $v (i32x4.replace_lane 1 (local.get $v) (i32.wrap_i64 (local.get $a))))
(local.set $a (i64.add (local.get $a) (i64.extend_i32_u (v128.any_true (local.get $w)))))
(local.set $w (i8x16.shuffle 15 14 13 12 11 10 9 8 7 6 5 4 3 2 1 0 (local.get $v) (local.get $w)))
(v128.store offset=16 (i32.const 1024) (local.get $v))
(local.set $w (i32x4.add (local.get $w) (v128.load offset=16 (i32.const 1024))))
(local.set $w (v128.load32_lane 3 (i32.const 1028) (local.get $w)))
(v128.store64_lane 1 (i32.const 1040) (local.get $w))
(local.set $u (local.get $w))
(local.set $v (select (local.get $v) (local.get $u) (i32.and (local.get $i) (i32.const 1))))
(global.set $gv (i64x2.add (global.get $gv) (local.get $v)))
(local.set $v (global.get $gv))
(local.set $a (i64.add (local.get $a) (i64.extend_i32_u (memory.size))))
(local.set $u (i32x4.add (local.get $u) (local.get $v)))
(local.set $u (i32x4.add (local.get $u) (local.get $w)))
(local.set $w (v128.xor (local.get $w) (local.get $u)))
(local.set $w (i8x16.shuffle 2 3 0 1 6 7 4 5 8 9 10 11 12 13 14 15 (local.get $w) (local.get $w)))
(local.set $w (i8x16.shuffle 0 1 2 3 4 5 6 7 10 11 8 9 14 15 12 13 (local.get $w) (local.get $w)))
(local.set $v (i32x4.add (local.get $v) (local.get $w)))
(local.set $u (v128.xor (local.get $u) (local.get $v)))
(local.set $u (v128.or (i32x4.shl (local.get $u) (i32.const 12))
                       (i32x4.shr_u (local.get $u) (i32.const 20))))
(local.set $w (v128.load offset=16 (i32.add (i32.and (local.get $i) (i32.const 255))
                                            (i32.const 1008))))
(local.set $u (i32x4.add (local.get $u) (i32x4.dot_i16x8_s (local.get $v) (local.get $w))))
"#
    .to_string()
}

fn module_text() -> String {
    let looped = |name: &str, locals: &str, init: &str, body: &str, result: &str| {
        format!(
            r#"(func (export "{name}") (param $n i32) (result i64) (local $i i32) {locals}
  {init}
  (block $done
    (br_if $done (i32.eqz (local.get $n)))
    (loop $l
{body}
      (br_if $l (i32.ne (local.tee $i (i32.add (local.get $i) (i32.const 1))) (local.get $n)))))
  (i64.xor {result} (i64.extend_i32_u (local.get $i))))
"#
        )
    };
    let mut text = String::from(
        r#"(module
  (memory 1)
  (global $g (mut i32) (i32.const 3))
  (global $gv (mut v128) (v128.const i64x2 0 0))
  (type $unary (func (param i32) (result i32)))
  (table funcref (elem $inc $dec))
  (func $inc (param i32) (result i32) (i32.add (local.get 0) (i32.const 1)))
  (func $dec (param i32) (result i32) (i32.sub (local.get 0) (i32.const 1)))
  (func $add3 (param i32 i32 i32) (result i32)
    (i32.add (i32.add (local.get 0) (local.get 1)) (local.get 2)))
  (func $wide (param i64) (result i64) (i64.rotl (local.get 0) (i64.const 1)))
  (func $nothing)
"#,
    );
    for ty in ["i32", "i64"] {
        text += &looped(
            ty,
            &format!("(local $a {ty}) (local $b {ty})"),
            &format!("(local.set $a ({ty}.const 12345)) (local.set $b ({ty}.const 678))"),
            &integer_ops(ty),
            &if ty == "i32" {
                "(i64.extend_i32_u (i32.xor (local.get $a) (local.get $b)))".to_string()
            } else {
                "(i64.xor (local.get $a) (local.get $b))".to_string()
            },
        );
    }
    for ty in ["f32", "f64"] {
        text += &looped(
            ty,
            &format!("(local $x {ty}) (local $y {ty})"),
            &format!("(local.set $x ({ty}.const 1.5)) (local.set $y ({ty}.const 2.25))"),
            &float_ops(ty),
            &if ty == "f32" {
                "(i64.extend_i32_u (i32.reinterpret_f32 (f32.add (local.get $x) (local.get $y))))"
                    .to_string()
            } else {
                "(i64.reinterpret_f64 (f64.add (local.get $x) (local.get $y)))".to_string()
            },
        );
    }
    text += &looped(
        "memory",
        "(local $a i64) (local $p i32) (local $q i32)",
        "(local.set $p (i32.const 512))",
        &memory_ops(),
        "(local.get $a)",
    );
    text += &looped(
        "simd",
        "(local $a i64) (local $u v128) (local $v v128) (local $w v128)",
        "",
        &simd_ops(),
        "(i64.add (local.get $a) (i64x2.extract_lane 0 (local.get $v)))",
    );
    text += &looped(
        "simd_every",
        "(local $a i64) (local $u v128) (local $v v128) (local $w v128)",
        "(local.set $w (v128.const i32x4 3 -5 7 11))",
        &simd_every_op(),
        "(local.get $a)",
    );
    text += &looped(
        "counted",
        "(local $a i64) (local $j i32) (local $n3 i32) (local $one i32)",
        "",
        &counted_ops(),
        "(local.get $a)",
    );
    text += &looped(
        "control",
        "(local $a i64) (local $b i64) (local $c i32)",
        "(local.set $b (i64.const 5)) (local.set $c (i32.const 2))",
        &control_ops(),
        "(i64.add (local.get $a) (i64.extend_i32_u (local.get $c)))",
    );
    text += ")";
    text
}

/// Runs export `name` with `n` iterations on a thread with a small stack.
fn run_on_small_stack(name: &'static str, n: i32) -> i64 {
    std::thread::Builder::new()
        .stack_size(STACK)
        .spawn(move || {
            let engine = Engine::default();
            let wasm = wat::parse_str(module_text()).expect("the test module parses");
            let module = Module::new(&engine, &wasm).expect("the test module compiles");
            let mut store = Store::new(&engine, ());
            let instance = Linker::new(&engine)
                .instantiate(&mut store, &module)
                .expect("the test module instantiates");
            let func = instance
                .get_typed_func::<i32, i64>(&store, name)
                .expect("the export exists");
            func.call(&mut store, n).expect("the loop runs to its end")
        })
        .expect("a thread starts")
        .join()
        .expect("the loop's thread does not panic")
}

#[test]
fn every_threaded_handler_runs_a_long_loop_in_constant_host_stack() {
    for name in [
        "i32",
        "i64",
        "f32",
        "f64",
        "memory",
        "simd",
        "simd_every",
        "counted",
        "control",
    ] {
        // Long loops: one handler that does not jump would overflow the thread's stack.
        let long = run_on_small_stack(name, ITERATIONS);
        // And the loop computes something: a different count gives a different result.
        let short = run_on_small_stack(name, 3);
        assert_ne!(
            long, short,
            "{name}: the loop's result depends on its length"
        );
    }
}

/// The control loop's result, computed in Rust: the branches, `br_table` arms and calls
/// reach the state the wasm code describes.
#[test]
fn threaded_branches_and_calls_compute_what_rust_computes() {
    for n in [1, 2, 7, 1000] {
        assert_eq!(
            run_on_small_stack("control", n),
            control_in_rust(n),
            "{n} iterations"
        );
    }
}

fn control_in_rust(n: i32) -> i64 {
    let (mut a, b, mut c): (i64, i64, i32) = (0, 5, 2);
    for _ in 0..n {
        let cmps: [fn(i64, i64) -> bool; 10] = [
            |x, y| x == y,
            |x, y| x != y,
            |x, y| x < y,
            |x, y| (x as u64) < (y as u64),
            |x, y| x > y,
            |x, y| (x as u64) > (y as u64),
            |x, y| x <= y,
            |x, y| (x as u64) <= (y as u64),
            |x, y| x >= y,
            |x, y| (x as u64) >= (y as u64),
        ];
        let cmps32: [fn(i32, i32) -> bool; 10] = [
            |x, y| x == y,
            |x, y| x != y,
            |x, y| x < y,
            |x, y| (x as u32) < (y as u32),
            |x, y| x > y,
            |x, y| (x as u32) > (y as u32),
            |x, y| x <= y,
            |x, y| (x as u32) <= (y as u32),
            |x, y| x >= y,
            |x, y| (x as u32) >= (y as u32),
        ];
        for k in 0..10 {
            // i32 against $c, i32 against 3, i64 against $b, i64 against 3 (the order of
            // `control_ops`).
            for ty_i64 in [false, true] {
                for rhs_local in [true, false] {
                    let taken = if ty_i64 {
                        cmps[k](a, if rhs_local { b } else { 3 })
                    } else {
                        cmps32[k](a as i32, if rhs_local { c } else { 3 })
                    };
                    if !taken {
                        a = a.wrapping_add(1);
                    }
                }
            }
        }
        if a != 0 {
            a = a.wrapping_sub(1);
        }
        if c != 0 {
            c = c.wrapping_sub(1);
        }
        if c == 0 {
            c = 9;
        }
        match c & 3 {
            0 => a = a.wrapping_add(10),
            1 => a = a.wrapping_add(20),
            2 => a = a.wrapping_add(30),
            _ => {}
        }
        c = c.wrapping_add(1);
        c = c.wrapping_add(c).wrapping_add(1);
        a = a.rotate_left(1);
        c = if c & 1 == 0 {
            c.wrapping_add(1)
        } else {
            c.wrapping_sub(1)
        };
        c &= 0xffff;
    }
    // Every loop folds its iteration count into its result.
    a.wrapping_add(c as u32 as i64) ^ n as i64
}

/// The counted loops above do become every form of `BrInc` and `BrIncBy`, and the range
/// checks theirs (else the long loop would not run their handlers).
#[test]
fn counted_loops_and_range_checks_use_every_handler() {
    let module = Module::new(&Engine::default(), module_text()).expect("the test module compiles");
    let code = (0..)
        .map_while(|k| module.internal_code(k))
        .find(|code| code.contains("BrIncBy"))
        .expect("a function with BrIncBy");
    for test in ["Nez", "Ne", "LtU", "LtS", "NeImm", "LtUImm", "LtSImm"] {
        for form in ["BrInc(", "BrIncBy("] {
            let found = code
                .lines()
                .any(|l| l.contains(form) && l.contains(&format!("test: {test},")));
            assert!(found, "{form}{test} missing:\n{code}");
        }
    }
    for form in ["I32AddLtU", "I32AddGeU", "BrAddLtU", "BrAddGeU"] {
        assert!(code.contains(form), "{form} missing:\n{code}");
    }
}

/// The `i64` and `simd` loops above do reach the fused forms they are there to run
/// (functions 6 and 10: five helpers, then `i32`, `i64`, `f32`, `f64` and `memory`).
#[test]
fn the_simd_loop_runs_the_fused_vector_forms() {
    let module = Module::new(&Engine::default(), module_text()).expect("the test module compiles");
    let i64_code = module.internal_code(6).expect("function 6 exists");
    assert!(i64_code.contains("I64AddXor {"), "{i64_code}");
    let code = module.internal_code(10).expect("function 10 exists");
    for form in [
        "V128Add2 {",
        "V128XorRotl32 {",
        "V128AddXorRotl32 {",
        "V128LoadDisp(",
        "V128DotAdd {",
    ] {
        assert!(code.contains(form), "{form}:\n{code}");
    }
}
