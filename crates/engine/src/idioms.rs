//! Whole functions recognized by their exact operators, whose work the translator then
//! does in fewer instructions.
//!
//! Owns the patterns and the matching only; the translator decides what to emit. A body
//! is recognized only if every operator equals the pattern's (locals by index, constants
//! by value, memory offsets by value), so the replacement computes exactly what those
//! operators compute: anything else, down to one changed constant, is translated as
//! usual. Must never guess.

use crate::types::ValType;
use wasmparser::{FunctionBody, Operator};

/// One operator of a pattern.
#[derive(Clone, Copy, Debug)]
enum P {
    Get(u32),
    Tee(u32),
    Const(i64),
    Mul,
    Add,
    ShrU,
    Shl,
    And,
    Or,
    LtU,
    ExtendU,
    /// `i64.store` to memory 0 at this offset.
    Store(u64),
}

/// compiler-rt's `__multi3` (C and C++ programs built by clang for wasm32): the low 128
/// bits of `(a_hi:a_lo) * (b_hi:b_lo)` stored at `ret` (params: ret, a_lo, a_hi, b_lo,
/// b_hi; one i64 local), the high half first.
const MULTI3_COMPILER_RT: &[P] = {
    use P::*;
    &[
        Get(0),
        Get(4),
        Get(1),
        Mul,
        Get(2),
        Get(3),
        Mul,
        Add,
        Get(3),
        Const(32),
        ShrU,
        Tee(2),
        Get(1),
        Const(32),
        ShrU,
        Tee(4),
        Mul,
        Add,
        Get(3),
        Const(0xFFFF_FFFF),
        And,
        Tee(3),
        Get(1),
        Const(0xFFFF_FFFF),
        And,
        Tee(1),
        Mul,
        Tee(5),
        Const(32),
        ShrU,
        Get(3),
        Get(4),
        Mul,
        Add,
        Tee(3),
        Const(32),
        ShrU,
        Add,
        Get(3),
        Const(0xFFFF_FFFF),
        And,
        Get(2),
        Get(1),
        Mul,
        Add,
        Tee(1),
        Const(32),
        ShrU,
        Add,
        Store(8),
        Get(0),
        Get(1),
        Const(32),
        Shl,
        Get(5),
        Const(0xFFFF_FFFF),
        And,
        Or,
        Store(0),
    ]
};

/// Rust's compiler-builtins `__multi3` (Rust programs): the same product (six i64
/// locals), the low half stored first.
const MULTI3_COMPILER_BUILTINS: &[P] = {
    use P::*;
    &[
        Get(0),
        Get(3),
        Const(0xFFFF_FFFF),
        And,
        Tee(5),
        Get(1),
        Const(0xFFFF_FFFF),
        And,
        Tee(6),
        Mul,
        Tee(7),
        Get(3),
        Const(32),
        ShrU,
        Tee(8),
        Get(6),
        Mul,
        Tee(6),
        Get(5),
        Get(1),
        Const(32),
        ShrU,
        Tee(9),
        Mul,
        Add,
        Tee(5),
        Const(32),
        Shl,
        Add,
        Tee(10),
        Store(0),
        Get(0),
        Get(8),
        Get(9),
        Mul,
        Get(5),
        Get(6),
        LtU,
        ExtendU,
        Const(32),
        Shl,
        Get(5),
        Const(32),
        ShrU,
        Or,
        Add,
        Get(10),
        Get(7),
        LtU,
        ExtendU,
        Add,
        Get(4),
        Get(1),
        Mul,
        Get(3),
        Get(2),
        Mul,
        Add,
        Add,
        Store(8),
    ]
};

/// A recognized function.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Idiom {
    /// `__multi3(ret: i32, a_lo, a_hi, b_lo, b_hi: i64)`: stores the low 128 bits of the
    /// product, low half at `ret`, high half at `ret + 8`, in the order the operators do
    /// (which decides what a trap leaves written). `stores` holds the byte offset in the
    /// module of each `i64.store`, in that order, for trap reports.
    Multi3 { low_first: bool, stores: [u32; 2] },
}

/// The idiom `body` is, if any. `locals` are the types of the function's locals,
/// parameters first.
pub(crate) fn recognize(
    params: &[ValType],
    results: &[ValType],
    locals: &[ValType],
    body: &FunctionBody<'_>,
) -> Option<Idiom> {
    use ValType::{I32, I64};
    if params != [I32, I64, I64, I64, I64] || !results.is_empty() {
        return None;
    }
    for (pattern, low_first) in [
        (MULTI3_COMPILER_RT, false),
        (MULTI3_COMPILER_BUILTINS, true),
    ] {
        if let Some(stores) = matches(pattern, locals, body) {
            let stores: [u32; 2] = stores.try_into().ok()?;
            return Some(Idiom::Multi3 { low_first, stores });
        }
    }
    None
}

/// The offsets of the pattern's stores, if `body` is exactly `pattern` then `end`.
fn matches(pattern: &[P], locals: &[ValType], body: &FunctionBody<'_>) -> Option<Vec<u32>> {
    let mut ops = body.get_operators_reader().ok()?;
    let mut stores = Vec::new();
    // A local the pattern names must be an i64 beyond the parameters (whose types were
    // checked): the pattern's arithmetic is on i64s.
    let local = |i: u32| {
        let ok = i < 5 || locals.get(i as usize) == Some(&ValType::I64);
        ok.then_some(i)
    };
    for p in pattern {
        let (op, offset) = ops.read_with_offset().ok()?;
        let same = match (*p, op) {
            (P::Get(i), Operator::LocalGet { local_index }) => local(i) == Some(local_index),
            (P::Tee(i), Operator::LocalTee { local_index }) => local(i) == Some(local_index),
            (P::Const(c), Operator::I64Const { value }) => c == value,
            (P::Mul, Operator::I64Mul)
            | (P::Add, Operator::I64Add)
            | (P::ShrU, Operator::I64ShrU)
            | (P::Shl, Operator::I64Shl)
            | (P::And, Operator::I64And)
            | (P::Or, Operator::I64Or)
            | (P::LtU, Operator::I64LtU)
            | (P::ExtendU, Operator::I64ExtendI32U) => true,
            (P::Store(at), Operator::I64Store { memarg }) => {
                let same = memarg.target == wasmparser::MemArgTarget::Memory(0)
                    && memarg.ordering.is_none()
                    && memarg.offset == at;
                stores.push(u32::try_from(offset).ok()?);
                same
            }
            _ => false,
        };
        if !same {
            return None;
        }
    }
    match ops.read().ok()? {
        Operator::End if ops.eof() => Some(stores),
        _ => None,
    }
}
