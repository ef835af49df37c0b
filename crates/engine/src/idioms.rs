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
    Set(u32),
    I32Const(i32),
    I32Add,
    I32Sub,
    I32And,
    I32Xor,
    I32Eqz,
    /// `i32.load8_u` and `i32.load` from memory 0 at offset 0.
    I32Load8U,
    I32Load,
    BrIf(u32),
    /// `block` and `loop` without parameters or results.
    Block,
    Loop,
    End,
}

/// compiler-rt's `__multi3` (C and C++ programs built by clang for wasm32): the low 128
/// bits of `(a_hi:a_lo) * (b_hi:b_lo)` stored at `ret` (params: ret, a_lo, a_hi, b_lo,
/// b_hi; one i64 local), the high half first.
#[rustfmt::skip]
const MULTI3_COMPILER_RT: &[P] = {
    use P::*;
    &[
        Get(0), Get(4), Get(1), Mul, Get(2), Get(3), Mul, Add, Get(3), Const(32), ShrU, Tee(2),
        Get(1), Const(32), ShrU, Tee(4), Mul, Add, Get(3), Const(0xFFFF_FFFF), And, Tee(3),
        Get(1), Const(0xFFFF_FFFF), And, Tee(1), Mul, Tee(5), Const(32), ShrU, Get(3), Get(4),
        Mul, Add, Tee(3), Const(32), ShrU, Add, Get(3), Const(0xFFFF_FFFF), And, Get(2), Get(1),
        Mul, Add, Tee(1), Const(32), ShrU, Add, Store(8), Get(0), Get(1), Const(32), Shl,
        Get(5), Const(0xFFFF_FFFF), And, Or, Store(0),
    ]
};

/// Rust's compiler-builtins `__multi3` (Rust programs): the same product (six i64
/// locals), the low half stored first.
#[rustfmt::skip]
const MULTI3_COMPILER_BUILTINS: &[P] = {
    use P::*;
    &[
        Get(0), Get(3), Const(0xFFFF_FFFF), And, Tee(5), Get(1), Const(0xFFFF_FFFF), And,
        Tee(6), Mul, Tee(7), Get(3), Const(32), ShrU, Tee(8), Get(6), Mul, Tee(6), Get(5),
        Get(1), Const(32), ShrU, Tee(9), Mul, Add, Tee(5), Const(32), Shl, Add, Tee(10),
        Store(0), Get(0), Get(8), Get(9), Mul, Get(5), Get(6), LtU, ExtendU, Const(32), Shl,
        Get(5), Const(32), ShrU, Or, Add, Get(10), Get(7), LtU, ExtendU, Add, Get(4), Get(1),
        Mul, Get(3), Get(2), Mul, Add, Add, Store(8),
    ]
};

/// musl's `strlen` (wasi-libc): bytes up to its alignment, then words tested for a zero
/// byte, then the bytes of the word that has one. Params: s; two i32 locals.
#[rustfmt::skip]
const STRLEN_MUSL: &[P] = {
    use P::*;
    &[
        Get(0), Set(1), Block, Block,
        Get(0), I32Const(3), I32And, I32Eqz, BrIf(0),
        Get(0), Set(1), Get(0), I32Load8U, I32Eqz, BrIf(1),
        Get(0), I32Const(1), I32Add, Tee(1), I32Const(3), I32And, I32Eqz, BrIf(0),
        Get(1), I32Load8U, I32Eqz, BrIf(1),
        Get(0), I32Const(2), I32Add, Tee(1), I32Const(3), I32And, I32Eqz, BrIf(0),
        Get(1), I32Load8U, I32Eqz, BrIf(1),
        Get(0), I32Const(3), I32Add, Tee(1), I32Const(3), I32And, I32Eqz, BrIf(0),
        Get(1), I32Load8U, I32Eqz, BrIf(1),
        Get(0), I32Const(4), I32Add, Set(1),
        End,
        Get(1), I32Const(-5), I32Add, Set(1),
        Loop,
        Get(1), I32Const(5), I32Add, Set(2),
        Get(1), I32Const(4), I32Add, Set(1),
        Get(2), I32Load, Tee(2), I32Const(-1), I32Xor, Get(2), I32Const(-16843009), I32Add,
        I32And, I32Const(-2139062144), I32And, I32Eqz, BrIf(0),
        End,
        Loop,
        Get(1), I32Const(1), I32Add, Tee(1), I32Load8U, BrIf(0),
        End,
        End,
        Get(1), Get(0), I32Sub,
    ]
};

/// A recognized function.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Idiom {
    /// `strlen(s: i32) -> i32`: the distance from `s` to the first zero byte. Where there
    /// is one in memory, that is exactly what the operators return, without trapping
    /// (they read aligned words, which never cross the end of memory); where there is
    /// none, the operators run, to trap as they do.
    Strlen,
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
    match (params, results) {
        ([I32, I64, I64, I64, I64], []) => {
            for (pattern, low_first) in [
                (MULTI3_COMPILER_RT, false),
                (MULTI3_COMPILER_BUILTINS, true),
            ] {
                // The pattern's arithmetic is on i64s: its locals must be.
                if let Some(stores) = matches(pattern, 5, locals, I64, body) {
                    let stores: [u32; 2] = stores.try_into().ok()?;
                    return Some(Idiom::Multi3 { low_first, stores });
                }
            }
            None
        }
        ([I32], [I32]) => matches(STRLEN_MUSL, 1, locals, I32, body).map(|_| Idiom::Strlen),
        _ => None,
    }
}

/// The offsets of the pattern's stores, if `body` is exactly `pattern` then `end`. The
/// locals the pattern names beyond the `params` parameters (whose types the caller
/// checked) must be of type `local_type`.
fn matches(
    pattern: &[P],
    params: u32,
    locals: &[ValType],
    local_type: ValType,
    body: &FunctionBody<'_>,
) -> Option<Vec<u32>> {
    use wasmparser::BlockType;
    let mut ops = body.get_operators_reader().ok()?;
    let mut stores = Vec::new();
    let local = |i: u32| {
        let declared = locals.get(i as usize) == Some(&local_type);
        (i < params || declared).then_some(i)
    };
    let at_zero = |m: wasmparser::MemArg| {
        m.target == wasmparser::MemArgTarget::Memory(0) && m.ordering.is_none() && m.offset == 0
    };
    for p in pattern {
        let (op, offset) = ops.read_with_offset().ok()?;
        let same = match (*p, op) {
            (P::Get(i), Operator::LocalGet { local_index }) => local(i) == Some(local_index),
            (P::Tee(i), Operator::LocalTee { local_index }) => local(i) == Some(local_index),
            (P::Set(i), Operator::LocalSet { local_index }) => local(i) == Some(local_index),
            (P::I32Const(c), Operator::I32Const { value }) => c == value,
            (P::I32Add, Operator::I32Add)
            | (P::I32Sub, Operator::I32Sub)
            | (P::I32And, Operator::I32And)
            | (P::I32Xor, Operator::I32Xor)
            | (P::I32Eqz, Operator::I32Eqz)
            | (P::End, Operator::End) => true,
            (P::I32Load8U, Operator::I32Load8U { memarg })
            | (P::I32Load, Operator::I32Load { memarg }) => at_zero(memarg),
            (P::BrIf(d), Operator::BrIf { relative_depth }) => d == relative_depth,
            (P::Block, Operator::Block { blockty }) | (P::Loop, Operator::Loop { blockty }) => {
                blockty == BlockType::Empty
            }
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
