//! WebAssembly 2.0 fixed-width SIMD (`v128`) instructions.
//!
//! A `v128` is a `u128` in little-endian lane order: lane 0 occupies the
//! least-significant bits, which is exactly the byte order of wasm memory
//! (`u128::from_le_bytes(mem[ea..ea + 16])`). Scalar operands and results use
//! the interpreter's untyped `u64` cells: i32 as `(x as u32) as u64`, i64 as
//! `u64`, f32/f64 as their IEEE bit patterns.
//!
//! [`classify`] maps a `wasmparser` operator to a compact [`SimdOp`]; the
//! executor then calls the evaluation function matching the class
//! ([`unary`], [`binary`], [`ternary`], [`shift`], [`splat`],
//! [`extract_lane`], [`replace_lane`], [`test`], [`shuffle`], [`load`],
//! [`load_lane`], [`store_lane`]). `v128.store` is a plain 16-byte
//! little-endian store done by the executor. Relaxed-SIMD operators are not
//! supported and classify as `None`.

use core::array::from_fn;

use wasmparser::{MemArg, Operator};

use crate::num;

/// A `#[repr(u8)]` operand class with `ALL`, its variants in discriminant order (how an
/// instruction's packed form stores it).
macro_rules! listed_enum {
    ($(#[$meta:meta])* $name:ident { $($variant:ident),* $(,)? }) => {
        $(#[$meta])*
        #[derive(Copy, Clone, Debug, PartialEq, Eq)]
        #[repr(u8)]
        pub(crate) enum $name {
            $($variant,)*
        }

        impl $name {
            /// Every variant, in discriminant order: the threaded code picks one handler
            /// per operator by this index (one-operator classes need none).
            #[allow(dead_code)]
            pub(crate) const ALL: &'static [Self] = &[$(Self::$variant,)*];
        }
    };
}

/// Defines a `#[repr(u8)]` operator class whose variants are named exactly
/// like the (field-less) `wasmparser::Operator` variants they stand for, plus
/// the `from_operator` mapping used by [`classify`].
macro_rules! simd_class {
    ($(#[$meta:meta])* $name:ident { $($variant:ident),* $(,)? }) => {
        listed_enum! {
            $(#[$meta])*
            $name { $($variant),* }
        }

        impl $name {
            #[inline]
            fn from_operator(op: &Operator<'_>) -> Option<Self> {
                match op {
                    $(Operator::$variant => Some(Self::$variant),)*
                    _ => None,
                }
            }
        }
    };
}

simd_class! {
    /// `v128 -> v128` operators.
    SimdUnary {
        V128Not,
        I8x16Abs,
        I8x16Neg,
        I8x16Popcnt,
        I16x8ExtAddPairwiseI8x16S,
        I16x8ExtAddPairwiseI8x16U,
        I16x8Abs,
        I16x8Neg,
        I16x8ExtendLowI8x16S,
        I16x8ExtendHighI8x16S,
        I16x8ExtendLowI8x16U,
        I16x8ExtendHighI8x16U,
        I32x4ExtAddPairwiseI16x8S,
        I32x4ExtAddPairwiseI16x8U,
        I32x4Abs,
        I32x4Neg,
        I32x4ExtendLowI16x8S,
        I32x4ExtendHighI16x8S,
        I32x4ExtendLowI16x8U,
        I32x4ExtendHighI16x8U,
        I64x2Abs,
        I64x2Neg,
        I64x2ExtendLowI32x4S,
        I64x2ExtendHighI32x4S,
        I64x2ExtendLowI32x4U,
        I64x2ExtendHighI32x4U,
        F32x4Ceil,
        F32x4Floor,
        F32x4Trunc,
        F32x4Nearest,
        F32x4Abs,
        F32x4Neg,
        F32x4Sqrt,
        F64x2Ceil,
        F64x2Floor,
        F64x2Trunc,
        F64x2Nearest,
        F64x2Abs,
        F64x2Neg,
        F64x2Sqrt,
        I32x4TruncSatF32x4S,
        I32x4TruncSatF32x4U,
        F32x4ConvertI32x4S,
        F32x4ConvertI32x4U,
        I32x4TruncSatF64x2SZero,
        I32x4TruncSatF64x2UZero,
        F64x2ConvertLowI32x4S,
        F64x2ConvertLowI32x4U,
        F32x4DemoteF64x2Zero,
        F64x2PromoteLowF32x4,
    }
}

simd_class! {
    /// `(v128, v128) -> v128` operators.
    SimdBinary {
        I8x16Swizzle,
        I8x16Eq,
        I8x16Ne,
        I8x16LtS,
        I8x16LtU,
        I8x16GtS,
        I8x16GtU,
        I8x16LeS,
        I8x16LeU,
        I8x16GeS,
        I8x16GeU,
        I16x8Eq,
        I16x8Ne,
        I16x8LtS,
        I16x8LtU,
        I16x8GtS,
        I16x8GtU,
        I16x8LeS,
        I16x8LeU,
        I16x8GeS,
        I16x8GeU,
        I32x4Eq,
        I32x4Ne,
        I32x4LtS,
        I32x4LtU,
        I32x4GtS,
        I32x4GtU,
        I32x4LeS,
        I32x4LeU,
        I32x4GeS,
        I32x4GeU,
        I64x2Eq,
        I64x2Ne,
        I64x2LtS,
        I64x2GtS,
        I64x2LeS,
        I64x2GeS,
        F32x4Eq,
        F32x4Ne,
        F32x4Lt,
        F32x4Gt,
        F32x4Le,
        F32x4Ge,
        F64x2Eq,
        F64x2Ne,
        F64x2Lt,
        F64x2Gt,
        F64x2Le,
        F64x2Ge,
        V128And,
        V128AndNot,
        V128Or,
        V128Xor,
        I8x16NarrowI16x8S,
        I8x16NarrowI16x8U,
        I8x16Add,
        I8x16AddSatS,
        I8x16AddSatU,
        I8x16Sub,
        I8x16SubSatS,
        I8x16SubSatU,
        I8x16MinS,
        I8x16MinU,
        I8x16MaxS,
        I8x16MaxU,
        I8x16AvgrU,
        I16x8Q15MulrSatS,
        I16x8NarrowI32x4S,
        I16x8NarrowI32x4U,
        I16x8Add,
        I16x8AddSatS,
        I16x8AddSatU,
        I16x8Sub,
        I16x8SubSatS,
        I16x8SubSatU,
        I16x8Mul,
        I16x8MinS,
        I16x8MinU,
        I16x8MaxS,
        I16x8MaxU,
        I16x8AvgrU,
        I16x8ExtMulLowI8x16S,
        I16x8ExtMulHighI8x16S,
        I16x8ExtMulLowI8x16U,
        I16x8ExtMulHighI8x16U,
        I32x4Add,
        I32x4Sub,
        I32x4Mul,
        I32x4MinS,
        I32x4MinU,
        I32x4MaxS,
        I32x4MaxU,
        I32x4DotI16x8S,
        I32x4ExtMulLowI16x8S,
        I32x4ExtMulHighI16x8S,
        I32x4ExtMulLowI16x8U,
        I32x4ExtMulHighI16x8U,
        I64x2Add,
        I64x2Sub,
        I64x2Mul,
        I64x2ExtMulLowI32x4S,
        I64x2ExtMulHighI32x4S,
        I64x2ExtMulLowI32x4U,
        I64x2ExtMulHighI32x4U,
        F32x4Add,
        F32x4Sub,
        F32x4Mul,
        F32x4Div,
        F32x4Min,
        F32x4Max,
        F32x4PMin,
        F32x4PMax,
        F64x2Add,
        F64x2Sub,
        F64x2Mul,
        F64x2Div,
        F64x2Min,
        F64x2Max,
        F64x2PMin,
        F64x2PMax,
    }
}

simd_class! {
    /// `(v128, v128, v128) -> v128` operators.
    SimdTernary {
        V128Bitselect,
    }
}

simd_class! {
    /// `(v128, i32) -> v128` shifts; the amount is taken modulo the lane width.
    SimdShift {
        I8x16Shl,
        I8x16ShrS,
        I8x16ShrU,
        I16x8Shl,
        I16x8ShrS,
        I16x8ShrU,
        I32x4Shl,
        I32x4ShrS,
        I32x4ShrU,
        I64x2Shl,
        I64x2ShrS,
        I64x2ShrU,
    }
}

simd_class! {
    /// `v128 -> i32` operators.
    SimdTest {
        V128AnyTrue,
        I8x16AllTrue,
        I8x16Bitmask,
        I16x8AllTrue,
        I16x8Bitmask,
        I32x4AllTrue,
        I32x4Bitmask,
        I64x2AllTrue,
        I64x2Bitmask,
    }
}

listed_enum! {
    /// A vector's lane shape: what a splat (`i8x16.splat` … `f64x2.splat`) or a lane
    /// replacement (`(v128, scalar, lane) -> v128`) works on.
    SimdShape {
        I8x16,
        I16x8,
        I32x4,
        I64x2,
        F32x4,
        F64x2,
    }
}

listed_enum! {
    /// `(v128, lane) -> scalar` lane extraction.
    SimdExtract {
        I8x16S,
        I8x16U,
        I16x8S,
        I16x8U,
        I32x4,
        I64x2,
        F32x4,
        F64x2,
    }
}

/// `scalar -> v128` splats, by lane shape.
pub(crate) type SimdSplat = SimdShape;
/// `(v128, scalar, lane) -> v128` lane replacements, by lane shape.
pub(crate) type SimdReplace = SimdShape;

/// `v128` loads (`v128.load`, extending loads, splat loads, zero loads).
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
#[repr(u8)]
pub(crate) enum SimdLoad {
    /// `v128.load`
    Load128,
    Load8x8S,
    Load8x8U,
    Load16x4S,
    Load16x4U,
    Load32x2S,
    Load32x2U,
    Load8Splat,
    Load16Splat,
    Load32Splat,
    Load64Splat,
    Load32Zero,
    Load64Zero,
}

impl SimdLoad {
    /// Every load, in discriminant order (one threaded handler each).
    pub(crate) const ALL: &'static [Self] = &[
        Self::Load128,
        Self::Load8x8S,
        Self::Load8x8U,
        Self::Load16x4S,
        Self::Load16x4U,
        Self::Load32x2S,
        Self::Load32x2U,
        Self::Load8Splat,
        Self::Load16Splat,
        Self::Load32Splat,
        Self::Load64Splat,
        Self::Load32Zero,
        Self::Load64Zero,
    ];
}

listed_enum! {
    /// Lane width of `v128.loadN_lane` / `v128.storeN_lane`.
    SimdLaneMem {
        Lane8,
        Lane16,
        Lane32,
        Lane64,
    }
}

/// A classified SIMD instruction with its immediates.
#[derive(Clone, Debug)]
pub(crate) enum SimdOp {
    Const(u128),
    Unary(SimdUnary),
    Binary(SimdBinary),
    Ternary(SimdTernary),
    Shift(SimdShift),
    Splat(SimdSplat),
    ExtractLane(SimdExtract, u8),
    ReplaceLane(SimdReplace, u8),
    Test(SimdTest),
    Shuffle([u8; 16]),
    Load(SimdLoad, MemArg),
    Store(MemArg),
    LoadLane(SimdLaneMem, MemArg, u8),
    StoreLane(SimdLaneMem, MemArg, u8),
}

/// Maps a wasmparser operator to its SIMD class; `None` for non-SIMD
/// operators (and for relaxed-simd ones).
pub(crate) fn classify(op: &Operator<'_>) -> Option<SimdOp> {
    use Operator as O;
    use SimdOp as S;
    let r = match op {
        O::V128Const { value } => S::Const(u128::from_le_bytes(*value.bytes())),
        O::I8x16Shuffle { lanes } => S::Shuffle(*lanes),

        O::V128Load { memarg } => S::Load(SimdLoad::Load128, *memarg),
        O::V128Load8x8S { memarg } => S::Load(SimdLoad::Load8x8S, *memarg),
        O::V128Load8x8U { memarg } => S::Load(SimdLoad::Load8x8U, *memarg),
        O::V128Load16x4S { memarg } => S::Load(SimdLoad::Load16x4S, *memarg),
        O::V128Load16x4U { memarg } => S::Load(SimdLoad::Load16x4U, *memarg),
        O::V128Load32x2S { memarg } => S::Load(SimdLoad::Load32x2S, *memarg),
        O::V128Load32x2U { memarg } => S::Load(SimdLoad::Load32x2U, *memarg),
        O::V128Load8Splat { memarg } => S::Load(SimdLoad::Load8Splat, *memarg),
        O::V128Load16Splat { memarg } => S::Load(SimdLoad::Load16Splat, *memarg),
        O::V128Load32Splat { memarg } => S::Load(SimdLoad::Load32Splat, *memarg),
        O::V128Load64Splat { memarg } => S::Load(SimdLoad::Load64Splat, *memarg),
        O::V128Load32Zero { memarg } => S::Load(SimdLoad::Load32Zero, *memarg),
        O::V128Load64Zero { memarg } => S::Load(SimdLoad::Load64Zero, *memarg),
        O::V128Store { memarg } => S::Store(*memarg),

        O::V128Load8Lane { memarg, lane } => S::LoadLane(SimdLaneMem::Lane8, *memarg, *lane),
        O::V128Load16Lane { memarg, lane } => S::LoadLane(SimdLaneMem::Lane16, *memarg, *lane),
        O::V128Load32Lane { memarg, lane } => S::LoadLane(SimdLaneMem::Lane32, *memarg, *lane),
        O::V128Load64Lane { memarg, lane } => S::LoadLane(SimdLaneMem::Lane64, *memarg, *lane),
        O::V128Store8Lane { memarg, lane } => S::StoreLane(SimdLaneMem::Lane8, *memarg, *lane),
        O::V128Store16Lane { memarg, lane } => S::StoreLane(SimdLaneMem::Lane16, *memarg, *lane),
        O::V128Store32Lane { memarg, lane } => S::StoreLane(SimdLaneMem::Lane32, *memarg, *lane),
        O::V128Store64Lane { memarg, lane } => S::StoreLane(SimdLaneMem::Lane64, *memarg, *lane),

        O::I8x16Splat => S::Splat(SimdSplat::I8x16),
        O::I16x8Splat => S::Splat(SimdSplat::I16x8),
        O::I32x4Splat => S::Splat(SimdSplat::I32x4),
        O::I64x2Splat => S::Splat(SimdSplat::I64x2),
        O::F32x4Splat => S::Splat(SimdSplat::F32x4),
        O::F64x2Splat => S::Splat(SimdSplat::F64x2),

        O::I8x16ExtractLaneS { lane } => S::ExtractLane(SimdExtract::I8x16S, *lane),
        O::I8x16ExtractLaneU { lane } => S::ExtractLane(SimdExtract::I8x16U, *lane),
        O::I16x8ExtractLaneS { lane } => S::ExtractLane(SimdExtract::I16x8S, *lane),
        O::I16x8ExtractLaneU { lane } => S::ExtractLane(SimdExtract::I16x8U, *lane),
        O::I32x4ExtractLane { lane } => S::ExtractLane(SimdExtract::I32x4, *lane),
        O::I64x2ExtractLane { lane } => S::ExtractLane(SimdExtract::I64x2, *lane),
        O::F32x4ExtractLane { lane } => S::ExtractLane(SimdExtract::F32x4, *lane),
        O::F64x2ExtractLane { lane } => S::ExtractLane(SimdExtract::F64x2, *lane),

        O::I8x16ReplaceLane { lane } => S::ReplaceLane(SimdReplace::I8x16, *lane),
        O::I16x8ReplaceLane { lane } => S::ReplaceLane(SimdReplace::I16x8, *lane),
        O::I32x4ReplaceLane { lane } => S::ReplaceLane(SimdReplace::I32x4, *lane),
        O::I64x2ReplaceLane { lane } => S::ReplaceLane(SimdReplace::I64x2, *lane),
        O::F32x4ReplaceLane { lane } => S::ReplaceLane(SimdReplace::F32x4, *lane),
        O::F64x2ReplaceLane { lane } => S::ReplaceLane(SimdReplace::F64x2, *lane),

        _ => {
            return if let Some(x) = SimdBinary::from_operator(op) {
                Some(S::Binary(x))
            } else if let Some(x) = SimdUnary::from_operator(op) {
                Some(S::Unary(x))
            } else if let Some(x) = SimdShift::from_operator(op) {
                Some(S::Shift(x))
            } else if let Some(x) = SimdTest::from_operator(op) {
                Some(S::Test(x))
            } else {
                SimdTernary::from_operator(op).map(S::Ternary)
            };
        }
    };
    Some(r)
}

// ---------------------------------------------------------------------------
// Lane views
// ---------------------------------------------------------------------------

#[inline(always)]
fn lanes8(a: u128) -> [u8; 16] {
    a.to_le_bytes()
}

#[inline(always)]
fn from8(l: [u8; 16]) -> u128 {
    u128::from_le_bytes(l)
}

// Lanes go through the little-endian bytes: LLVM turns these into plain moves, where
// shifting a `u128` by `16 * i` in a closure cost a dozen instructions per lane.
#[inline(always)]
fn lanes16(a: u128) -> [u16; 8] {
    let b = a.to_le_bytes();
    from_fn(|i| u16::from_le_bytes([b[2 * i], b[2 * i + 1]]))
}

#[inline(always)]
fn from16(l: [u16; 8]) -> u128 {
    let mut b = [0u8; 16];
    for (chunk, x) in b.chunks_exact_mut(2).zip(l) {
        chunk.copy_from_slice(&x.to_le_bytes());
    }
    u128::from_le_bytes(b)
}

#[inline(always)]
fn lanes32(a: u128) -> [u32; 4] {
    let b = a.to_le_bytes();
    from_fn(|i| u32::from_le_bytes([b[4 * i], b[4 * i + 1], b[4 * i + 2], b[4 * i + 3]]))
}

#[inline(always)]
fn from32(l: [u32; 4]) -> u128 {
    let mut b = [0u8; 16];
    for (chunk, x) in b.chunks_exact_mut(4).zip(l) {
        chunk.copy_from_slice(&x.to_le_bytes());
    }
    u128::from_le_bytes(b)
}

#[inline(always)]
fn lanes64(a: u128) -> [u64; 2] {
    [a as u64, (a >> 64) as u64]
}

#[inline(always)]
fn from64(l: [u64; 2]) -> u128 {
    l[0] as u128 | (l[1] as u128) << 64
}

/// Defines lane-wise map / zip / compare helpers for one lane width. Always inlined: in
/// the large `match` of `binary`/`unary` LLVM otherwise keeps them as calls, with a
/// closure call per lane, where inlined they become a few vector instructions.
macro_rules! lane_ops {
    ($t:ty, $lanes:ident, $from:ident, $map:ident, $zip:ident, $cmp:ident) => {
        // (Some are unused for the 8- and 16-bit lanes, which mostly compute in `swar`.)
        #[inline(always)]
        #[allow(dead_code)]
        fn $map(a: u128, f: impl Fn($t) -> $t) -> u128 {
            // Not `array::map`: LLVM leaves its `try_map` out of line for a larger `f`
            // (float rounding), and a handler with a call on an array on its stack ends
            // in a call, not a jump (`tests/threaded.rs` catches that).
            let x = $lanes(a);
            $from(from_fn(|i| f(x[i])))
        }

        #[inline(always)]
        #[allow(dead_code)]
        fn $zip(a: u128, b: u128, f: impl Fn($t, $t) -> $t) -> u128 {
            let (x, y) = ($lanes(a), $lanes(b));
            $from(from_fn(|i| f(x[i], y[i])))
        }

        #[inline(always)]
        #[allow(dead_code)]
        fn $cmp(a: u128, b: u128, f: impl Fn($t, $t) -> bool) -> u128 {
            $zip(a, b, |x, y| if f(x, y) { <$t>::MAX } else { 0 })
        }
    };
}

lane_ops!(u8, lanes8, from8, map8, zip8, cmp8);
lane_ops!(u16, lanes16, from16, map16, zip16, cmp16);
lane_ops!(u32, lanes32, from32, map32, zip32, cmp32);
lane_ops!(u64, lanes64, from64, map64, zip64, cmp64);

#[inline(always)]
fn f32_of(x: u32) -> f32 {
    f32::from_bits(x)
}

#[inline(always)]
fn f64_of(x: u64) -> f64 {
    f64::from_bits(x)
}

#[inline(always)]
fn mapf32(a: u128, f: impl Fn(f32) -> f32) -> u128 {
    map32(a, |x| f(f32_of(x)).to_bits())
}

#[inline(always)]
fn mapf64(a: u128, f: impl Fn(f64) -> f64) -> u128 {
    map64(a, |x| f(f64_of(x)).to_bits())
}

#[inline(always)]
fn zipf32(a: u128, b: u128, f: impl Fn(f32, f32) -> f32) -> u128 {
    zip32(a, b, |x, y| f(f32_of(x), f32_of(y)).to_bits())
}

#[inline(always)]
fn zipf64(a: u128, b: u128, f: impl Fn(f64, f64) -> f64) -> u128 {
    zip64(a, b, |x, y| f(f64_of(x), f64_of(y)).to_bits())
}

#[inline(always)]
fn cmpf32(a: u128, b: u128, f: impl Fn(f32, f32) -> bool) -> u128 {
    cmp32(a, b, |x, y| f(f32_of(x), f32_of(y)))
}

#[inline(always)]
fn cmpf64(a: u128, b: u128, f: impl Fn(f64, f64) -> bool) -> u128 {
    cmp64(a, b, |x, y| f(f64_of(x), f64_of(y)))
}

// Saturating narrowing of one signed lane.
#[inline]
fn sat_i8(x: u16) -> u8 {
    (x as i16).clamp(i8::MIN as i16, i8::MAX as i16) as i8 as u8
}

#[inline]
fn sat_u8(x: u16) -> u8 {
    (x as i16).clamp(0, u8::MAX as i16) as u8
}

#[inline]
fn sat_i16(x: u32) -> u16 {
    (x as i32).clamp(i16::MIN as i32, i16::MAX as i32) as i16 as u16
}

#[inline]
fn sat_u16(x: u32) -> u16 {
    (x as i32).clamp(0, u16::MAX as i32) as u16
}

// ---------------------------------------------------------------------------
// Evaluation
// ---------------------------------------------------------------------------

// ---------------------------------------------------------------------------
// SWAR: 8- and 16-bit lanes computed in whole 128-bit words
// ---------------------------------------------------------------------------

/// Lane-wise arithmetic on all the `W`-bit lanes of a `u128` at once ("SIMD within a
/// register"), for the narrow lanes: split into lanes, an `i8x16` operator cost 100 to 200
/// instructions, scalar, as LLVM cannot vectorize lanes taken out of a 128-bit integer in
/// general-purpose registers (and with the two cells loaded as one 16-byte vector, the
/// loads stall on store forwarding after the scalar handlers: measured, docs/engine.md).
/// Each function says why no carry or borrow crosses a lane; `tests::swar_*` checks every
/// one against the per-lane definition.
mod swar {
    /// The top bit of every `W`-bit lane.
    pub(super) const fn high<const W: u32>() -> u128 {
        let mut m = 0u128;
        let mut bit = W - 1;
        while bit < 128 {
            m |= 1 << bit;
            bit += W;
        }
        m
    }

    /// Lane sums: the lanes' low bits add without carrying out of the lane (at most
    /// 2 * (2^(W-1) - 1)), and the top bits add modulo 2 by the xor.
    #[inline(always)]
    pub(super) fn add<const W: u32>(a: u128, b: u128) -> u128 {
        let h = high::<W>();
        ((a & !h).wrapping_add(b & !h)) ^ ((a ^ b) & h)
    }

    /// Lane differences: with every top bit set in the minuend and cleared in the
    /// subtrahend, no lane borrows from the next; the xor puts the right top bits back.
    #[inline(always)]
    pub(super) fn sub<const W: u32>(a: u128, b: u128) -> u128 {
        let h = high::<W>();
        ((a | h).wrapping_sub(b & !h)) ^ ((a ^ !b) & h)
    }

    /// Each lane whose top bit is set in `m` (and only those bits may be) becomes all ones:
    /// per lane 2^(W-1) - 1 never borrows, and the or restores the top bit.
    #[inline(always)]
    pub(super) fn spread<const W: u32>(m: u128) -> u128 {
        m | m.wrapping_sub(m >> (W - 1))
    }

    /// All ones in the lanes where `a < b` (unsigned): the borrow out of each lane's
    /// subtraction, from the top bits of the operands and of the difference.
    #[inline(always)]
    pub(super) fn lt_u<const W: u32>(a: u128, b: u128) -> u128 {
        let d = sub::<W>(a, b);
        spread::<W>(((!a & b) | (!(a ^ b) & d)) & high::<W>())
    }

    /// All ones in the lanes where `a < b` (signed): unsigned order after flipping the
    /// sign bits.
    #[inline(always)]
    pub(super) fn lt_s<const W: u32>(a: u128, b: u128) -> u128 {
        let h = high::<W>();
        lt_u::<W>(a ^ h, b ^ h)
    }

    /// All ones in the lanes where `a == b`: a lane of `a ^ b` is non-zero iff adding
    /// 2^(W-1) - 1 to its low bits carries into its top bit (never further), or its top
    /// bit is set.
    #[inline(always)]
    pub(super) fn eq<const W: u32>(a: u128, b: u128) -> u128 {
        let (h, t) = (high::<W>(), a ^ b);
        !spread::<W>((((t & !h).wrapping_add(!h)) | t) & h)
    }

    /// Picks `a`'s lane where `m` is all ones, `b`'s elsewhere.
    #[inline(always)]
    pub(super) fn select(m: u128, a: u128, b: u128) -> u128 {
        b ^ ((a ^ b) & m)
    }

    /// The saturation bound of each lane of `a` for a signed overflow: 2^(W-1) - 1 where
    /// `a` is non-negative, -2^(W-1) where negative (the top bit shifted to the lane's low
    /// bit adds one to 2^(W-1) - 1, without a carry out).
    #[inline(always)]
    fn signed_bound<const W: u32>(a: u128) -> u128 {
        let h = high::<W>();
        !h + ((a & h) >> (W - 1))
    }

    #[inline(always)]
    pub(super) fn add_sat_s<const W: u32>(a: u128, b: u128) -> u128 {
        let sum = add::<W>(a, b);
        // Overflow: the operands agree in sign and the sum does not.
        let overflow = !(a ^ b) & (a ^ sum) & high::<W>();
        select(spread::<W>(overflow), signed_bound::<W>(a), sum)
    }

    #[inline(always)]
    pub(super) fn sub_sat_s<const W: u32>(a: u128, b: u128) -> u128 {
        let difference = sub::<W>(a, b);
        // Overflow: the operands differ in sign and the difference has the subtrahend's.
        let overflow = (a ^ b) & (a ^ difference) & high::<W>();
        select(spread::<W>(overflow), signed_bound::<W>(a), difference)
    }

    #[inline(always)]
    pub(super) fn add_sat_u<const W: u32>(a: u128, b: u128) -> u128 {
        let sum = add::<W>(a, b);
        let carry = ((a & b) | ((a | b) & !sum)) & high::<W>();
        sum | spread::<W>(carry)
    }

    #[inline(always)]
    pub(super) fn sub_sat_u<const W: u32>(a: u128, b: u128) -> u128 {
        sub::<W>(a, b) & !lt_u::<W>(a, b)
    }

    /// Rounding average: (a | b) - ((a ^ b) >> 1) per lane, where the shift's bit from the
    /// lane above is cleared and the subtraction cannot borrow (a | b >= (a ^ b) / 2).
    #[inline(always)]
    pub(super) fn avgr_u<const W: u32>(a: u128, b: u128) -> u128 {
        (a | b).wrapping_sub(((a ^ b) >> 1) & !high::<W>())
    }

    /// `pattern` (a lane's bits) in every `W`-bit lane.
    #[inline(always)]
    fn every_lane<const W: u32>(pattern: u64) -> u128 {
        let ones = (high::<W>() >> (W - 1)) as u64;
        let half = ones.wrapping_mul(pattern);
        u128::from(half) | u128::from(half) << 64
    }

    /// Lanes shifted left by `n < W`: the whole word shifted, less the bits that crossed
    /// into the next lane.
    #[inline(always)]
    pub(super) fn shl<const W: u32>(a: u128, n: u32) -> u128 {
        let lane = u64::MAX >> (64 - W);
        (a << n) & every_lane::<W>((lane << n) & lane)
    }

    #[inline(always)]
    pub(super) fn shr_u<const W: u32>(a: u128, n: u32) -> u128 {
        let lane = u64::MAX >> (64 - W);
        (a >> n) & every_lane::<W>(lane >> n)
    }

    /// Arithmetic: the logical shift, sign-extended from the bit the sign moved to by
    /// `(x ^ s) - s` in each lane.
    #[inline(always)]
    pub(super) fn shr_s<const W: u32>(a: u128, n: u32) -> u128 {
        let sign = every_lane::<W>(1 << (W - 1 - n));
        sub::<W>(shr_u::<W>(a, n) ^ sign, sign)
    }

    /// The number of set bits of each byte: bit pairs, then nibbles, then bytes summed
    /// in place (no sum outgrows its field).
    #[inline(always)]
    pub(super) fn popcnt8(a: u128) -> u128 {
        let m1 = 0x5555_5555_5555_5555_5555_5555_5555_5555u128;
        let m2 = 0x3333_3333_3333_3333_3333_3333_3333_3333u128;
        let m4 = 0x0f0f_0f0f_0f0f_0f0f_0f0f_0f0f_0f0f_0f0fu128;
        let x = a - ((a >> 1) & m1);
        let x = (x & m2) + ((x >> 2) & m2);
        (x + (x >> 4)) & m4
    }

    /// |a|, wrapping at the minimum: (a ^ m) - m with m all ones in the negative lanes.
    #[inline(always)]
    pub(super) fn abs<const W: u32>(a: u128) -> u128 {
        let m = spread::<W>(a & high::<W>());
        sub::<W>(a ^ m, m)
    }
}

/// Evaluates a `v128 -> v128` operator.
// Inlined into one handler per operator, where the `match` folds to one arm.
#[inline(always)]
pub(crate) fn unary(op: SimdUnary, a: u128) -> u128 {
    use SimdUnary as U;
    match op {
        U::V128Not => !a,

        U::I8x16Abs => swar::abs::<8>(a),
        U::I8x16Neg => swar::sub::<8>(0, a),
        U::I8x16Popcnt => swar::popcnt8(a),

        U::I16x8ExtAddPairwiseI8x16S => {
            let l = lanes8(a);
            from16(from_fn(|i| {
                (l[2 * i] as i8 as i16 + l[2 * i + 1] as i8 as i16) as u16
            }))
        }
        U::I16x8ExtAddPairwiseI8x16U => {
            let l = lanes8(a);
            from16(from_fn(|i| l[2 * i] as u16 + l[2 * i + 1] as u16))
        }
        U::I16x8Abs => swar::abs::<16>(a),
        U::I16x8Neg => swar::sub::<16>(0, a),
        U::I16x8ExtendLowI8x16S => {
            let l = lanes8(a);
            from16(from_fn(|i| l[i] as i8 as i16 as u16))
        }
        U::I16x8ExtendHighI8x16S => {
            let l = lanes8(a);
            from16(from_fn(|i| l[i + 8] as i8 as i16 as u16))
        }
        U::I16x8ExtendLowI8x16U => {
            let l = lanes8(a);
            from16(from_fn(|i| l[i] as u16))
        }
        U::I16x8ExtendHighI8x16U => {
            let l = lanes8(a);
            from16(from_fn(|i| l[i + 8] as u16))
        }

        U::I32x4ExtAddPairwiseI16x8S => {
            let l = lanes16(a);
            from32(from_fn(|i| {
                (l[2 * i] as i16 as i32 + l[2 * i + 1] as i16 as i32) as u32
            }))
        }
        U::I32x4ExtAddPairwiseI16x8U => {
            let l = lanes16(a);
            from32(from_fn(|i| l[2 * i] as u32 + l[2 * i + 1] as u32))
        }
        U::I32x4Abs => map32(a, |x| (x as i32).unsigned_abs()),
        U::I32x4Neg => map32(a, u32::wrapping_neg),
        U::I32x4ExtendLowI16x8S => {
            let l = lanes16(a);
            from32(from_fn(|i| l[i] as i16 as i32 as u32))
        }
        U::I32x4ExtendHighI16x8S => {
            let l = lanes16(a);
            from32(from_fn(|i| l[i + 4] as i16 as i32 as u32))
        }
        U::I32x4ExtendLowI16x8U => {
            let l = lanes16(a);
            from32(from_fn(|i| l[i] as u32))
        }
        U::I32x4ExtendHighI16x8U => {
            let l = lanes16(a);
            from32(from_fn(|i| l[i + 4] as u32))
        }

        U::I64x2Abs => map64(a, |x| (x as i64).unsigned_abs()),
        U::I64x2Neg => map64(a, u64::wrapping_neg),
        U::I64x2ExtendLowI32x4S => {
            let l = lanes32(a);
            from64([l[0] as i32 as i64 as u64, l[1] as i32 as i64 as u64])
        }
        U::I64x2ExtendHighI32x4S => {
            let l = lanes32(a);
            from64([l[2] as i32 as i64 as u64, l[3] as i32 as i64 as u64])
        }
        U::I64x2ExtendLowI32x4U => {
            let l = lanes32(a);
            from64([l[0] as u64, l[1] as u64])
        }
        U::I64x2ExtendHighI32x4U => {
            let l = lanes32(a);
            from64([l[2] as u64, l[3] as u64])
        }

        U::F32x4Ceil => mapf32(a, num::f32_ceil),
        U::F32x4Floor => mapf32(a, num::f32_floor),
        U::F32x4Trunc => mapf32(a, num::f32_trunc),
        U::F32x4Nearest => mapf32(a, num::f32_nearest),
        U::F32x4Abs => map32(a, |x| x & 0x7fff_ffff),
        U::F32x4Neg => map32(a, |x| x ^ 0x8000_0000),
        U::F32x4Sqrt => mapf32(a, f32::sqrt),

        U::F64x2Ceil => mapf64(a, num::f64_ceil),
        U::F64x2Floor => mapf64(a, num::f64_floor),
        U::F64x2Trunc => mapf64(a, num::f64_trunc),
        U::F64x2Nearest => mapf64(a, num::f64_nearest),
        U::F64x2Abs => map64(a, |x| x & 0x7fff_ffff_ffff_ffff),
        U::F64x2Neg => map64(a, |x| x ^ 0x8000_0000_0000_0000),
        U::F64x2Sqrt => mapf64(a, f64::sqrt),

        U::I32x4TruncSatF32x4S => map32(a, |x| num::i32_trunc_sat_f32_s(f32_of(x)) as u32),
        U::I32x4TruncSatF32x4U => map32(a, |x| num::i32_trunc_sat_f32_u(f32_of(x))),
        U::F32x4ConvertI32x4S => map32(a, |x| (x as i32 as f32).to_bits()),
        U::F32x4ConvertI32x4U => map32(a, |x| (x as f32).to_bits()),
        U::I32x4TruncSatF64x2SZero => {
            let l = lanes64(a);
            from32([
                num::i32_trunc_sat_f64_s(f64_of(l[0])) as u32,
                num::i32_trunc_sat_f64_s(f64_of(l[1])) as u32,
                0,
                0,
            ])
        }
        U::I32x4TruncSatF64x2UZero => {
            let l = lanes64(a);
            from32([
                num::i32_trunc_sat_f64_u(f64_of(l[0])),
                num::i32_trunc_sat_f64_u(f64_of(l[1])),
                0,
                0,
            ])
        }
        U::F64x2ConvertLowI32x4S => {
            let l = lanes32(a);
            from64([
                (l[0] as i32 as f64).to_bits(),
                (l[1] as i32 as f64).to_bits(),
            ])
        }
        U::F64x2ConvertLowI32x4U => {
            let l = lanes32(a);
            from64([(l[0] as f64).to_bits(), (l[1] as f64).to_bits()])
        }
        U::F32x4DemoteF64x2Zero => {
            let l = lanes64(a);
            from32([
                num::f32_demote_f64(f64_of(l[0])).to_bits(),
                num::f32_demote_f64(f64_of(l[1])).to_bits(),
                0,
                0,
            ])
        }
        U::F64x2PromoteLowF32x4 => {
            let l = lanes32(a);
            from64([
                num::f64_promote_f32(f32_of(l[0])).to_bits(),
                num::f64_promote_f32(f32_of(l[1])).to_bits(),
            ])
        }
    }
}

/// Evaluates a `(v128, v128) -> v128` operator.
// Inlined into one handler per operator, where the `match` folds to one arm.
#[inline(always)]
pub(crate) fn binary(op: SimdBinary, a: u128, b: u128) -> u128 {
    use SimdBinary as B;
    match op {
        B::I8x16Swizzle => {
            // Branch-free: indices of 16 and more (often 0x80 on purpose, for a zero) are
            // data, and a branch on them mispredicts.
            let (x, idx) = (lanes8(a), lanes8(b));
            from8(from_fn(|i| {
                let j = idx[i];
                x[(j & 15) as usize] & ((j < 16) as u8).wrapping_neg()
            }))
        }

        B::I8x16Eq => swar::eq::<8>(a, b),
        B::I8x16Ne => !swar::eq::<8>(a, b),
        B::I8x16LtS => swar::lt_s::<8>(a, b),
        B::I8x16LtU => swar::lt_u::<8>(a, b),
        B::I8x16GtS => swar::lt_s::<8>(b, a),
        B::I8x16GtU => swar::lt_u::<8>(b, a),
        B::I8x16LeS => !swar::lt_s::<8>(b, a),
        B::I8x16LeU => !swar::lt_u::<8>(b, a),
        B::I8x16GeS => !swar::lt_s::<8>(a, b),
        B::I8x16GeU => !swar::lt_u::<8>(a, b),

        B::I16x8Eq => swar::eq::<16>(a, b),
        B::I16x8Ne => !swar::eq::<16>(a, b),
        B::I16x8LtS => swar::lt_s::<16>(a, b),
        B::I16x8LtU => swar::lt_u::<16>(a, b),
        B::I16x8GtS => swar::lt_s::<16>(b, a),
        B::I16x8GtU => swar::lt_u::<16>(b, a),
        B::I16x8LeS => !swar::lt_s::<16>(b, a),
        B::I16x8LeU => !swar::lt_u::<16>(b, a),
        B::I16x8GeS => !swar::lt_s::<16>(a, b),
        B::I16x8GeU => !swar::lt_u::<16>(a, b),

        B::I32x4Eq => cmp32(a, b, |x, y| x == y),
        B::I32x4Ne => cmp32(a, b, |x, y| x != y),
        B::I32x4LtS => cmp32(a, b, |x, y| (x as i32) < (y as i32)),
        B::I32x4LtU => cmp32(a, b, |x, y| x < y),
        B::I32x4GtS => cmp32(a, b, |x, y| (x as i32) > (y as i32)),
        B::I32x4GtU => cmp32(a, b, |x, y| x > y),
        B::I32x4LeS => cmp32(a, b, |x, y| (x as i32) <= (y as i32)),
        B::I32x4LeU => cmp32(a, b, |x, y| x <= y),
        B::I32x4GeS => cmp32(a, b, |x, y| (x as i32) >= (y as i32)),
        B::I32x4GeU => cmp32(a, b, |x, y| x >= y),

        B::I64x2Eq => cmp64(a, b, |x, y| x == y),
        B::I64x2Ne => cmp64(a, b, |x, y| x != y),
        B::I64x2LtS => cmp64(a, b, |x, y| (x as i64) < (y as i64)),
        B::I64x2GtS => cmp64(a, b, |x, y| (x as i64) > (y as i64)),
        B::I64x2LeS => cmp64(a, b, |x, y| (x as i64) <= (y as i64)),
        B::I64x2GeS => cmp64(a, b, |x, y| (x as i64) >= (y as i64)),

        B::F32x4Eq => cmpf32(a, b, |x, y| x == y),
        B::F32x4Ne => cmpf32(a, b, |x, y| x != y),
        B::F32x4Lt => cmpf32(a, b, |x, y| x < y),
        B::F32x4Gt => cmpf32(a, b, |x, y| x > y),
        B::F32x4Le => cmpf32(a, b, |x, y| x <= y),
        B::F32x4Ge => cmpf32(a, b, |x, y| x >= y),

        B::F64x2Eq => cmpf64(a, b, |x, y| x == y),
        B::F64x2Ne => cmpf64(a, b, |x, y| x != y),
        B::F64x2Lt => cmpf64(a, b, |x, y| x < y),
        B::F64x2Gt => cmpf64(a, b, |x, y| x > y),
        B::F64x2Le => cmpf64(a, b, |x, y| x <= y),
        B::F64x2Ge => cmpf64(a, b, |x, y| x >= y),

        B::V128And => a & b,
        B::V128AndNot => a & !b,
        B::V128Or => a | b,
        B::V128Xor => a ^ b,

        B::I8x16NarrowI16x8S => {
            let (x, y) = (lanes16(a), lanes16(b));
            from8(from_fn(|i| sat_i8(if i < 8 { x[i] } else { y[i - 8] })))
        }
        B::I8x16NarrowI16x8U => {
            let (x, y) = (lanes16(a), lanes16(b));
            from8(from_fn(|i| sat_u8(if i < 8 { x[i] } else { y[i - 8] })))
        }
        B::I8x16Add => swar::add::<8>(a, b),
        B::I8x16AddSatS => swar::add_sat_s::<8>(a, b),
        B::I8x16AddSatU => swar::add_sat_u::<8>(a, b),
        B::I8x16Sub => swar::sub::<8>(a, b),
        B::I8x16SubSatS => swar::sub_sat_s::<8>(a, b),
        B::I8x16SubSatU => swar::sub_sat_u::<8>(a, b),
        B::I8x16MinS => swar::select(swar::lt_s::<8>(a, b), a, b),
        B::I8x16MinU => swar::select(swar::lt_u::<8>(a, b), a, b),
        B::I8x16MaxS => swar::select(swar::lt_s::<8>(a, b), b, a),
        B::I8x16MaxU => swar::select(swar::lt_u::<8>(a, b), b, a),
        B::I8x16AvgrU => swar::avgr_u::<8>(a, b),

        B::I16x8Q15MulrSatS => zip16(a, b, |x, y| {
            let p = (x as i16 as i32) * (y as i16 as i32);
            sat_i16(((p + 0x4000) >> 15) as u32)
        }),
        B::I16x8NarrowI32x4S => {
            let (x, y) = (lanes32(a), lanes32(b));
            from16(from_fn(|i| sat_i16(if i < 4 { x[i] } else { y[i - 4] })))
        }
        B::I16x8NarrowI32x4U => {
            let (x, y) = (lanes32(a), lanes32(b));
            from16(from_fn(|i| sat_u16(if i < 4 { x[i] } else { y[i - 4] })))
        }
        B::I16x8Add => swar::add::<16>(a, b),
        B::I16x8AddSatS => swar::add_sat_s::<16>(a, b),
        B::I16x8AddSatU => swar::add_sat_u::<16>(a, b),
        B::I16x8Sub => swar::sub::<16>(a, b),
        B::I16x8SubSatS => swar::sub_sat_s::<16>(a, b),
        B::I16x8SubSatU => swar::sub_sat_u::<16>(a, b),
        B::I16x8Mul => zip16(a, b, u16::wrapping_mul),
        B::I16x8MinS => swar::select(swar::lt_s::<16>(a, b), a, b),
        B::I16x8MinU => swar::select(swar::lt_u::<16>(a, b), a, b),
        B::I16x8MaxS => swar::select(swar::lt_s::<16>(a, b), b, a),
        B::I16x8MaxU => swar::select(swar::lt_u::<16>(a, b), b, a),
        B::I16x8AvgrU => swar::avgr_u::<16>(a, b),
        B::I16x8ExtMulLowI8x16S => extmul_8_s(a, b, 0),
        B::I16x8ExtMulHighI8x16S => extmul_8_s(a, b, 8),
        B::I16x8ExtMulLowI8x16U => extmul_8_u(a, b, 0),
        B::I16x8ExtMulHighI8x16U => extmul_8_u(a, b, 8),

        B::I32x4Add => zip32(a, b, u32::wrapping_add),
        B::I32x4Sub => zip32(a, b, u32::wrapping_sub),
        B::I32x4Mul => zip32(a, b, u32::wrapping_mul),
        B::I32x4MinS => zip32(a, b, |x, y| (x as i32).min(y as i32) as u32),
        B::I32x4MinU => zip32(a, b, u32::min),
        B::I32x4MaxS => zip32(a, b, |x, y| (x as i32).max(y as i32) as u32),
        B::I32x4MaxU => zip32(a, b, u32::max),
        B::I32x4DotI16x8S => {
            let (x, y) = (lanes16(a), lanes16(b));
            from32(from_fn(|i| {
                let lo = (x[2 * i] as i16 as i32) * (y[2 * i] as i16 as i32);
                let hi = (x[2 * i + 1] as i16 as i32) * (y[2 * i + 1] as i16 as i32);
                lo.wrapping_add(hi) as u32
            }))
        }
        B::I32x4ExtMulLowI16x8S => extmul_16_s(a, b, 0),
        B::I32x4ExtMulHighI16x8S => extmul_16_s(a, b, 4),
        B::I32x4ExtMulLowI16x8U => extmul_16_u(a, b, 0),
        B::I32x4ExtMulHighI16x8U => extmul_16_u(a, b, 4),

        B::I64x2Add => zip64(a, b, u64::wrapping_add),
        B::I64x2Sub => zip64(a, b, u64::wrapping_sub),
        B::I64x2Mul => zip64(a, b, u64::wrapping_mul),
        B::I64x2ExtMulLowI32x4S => extmul_32_s(a, b, 0),
        B::I64x2ExtMulHighI32x4S => extmul_32_s(a, b, 2),
        B::I64x2ExtMulLowI32x4U => extmul_32_u(a, b, 0),
        B::I64x2ExtMulHighI32x4U => extmul_32_u(a, b, 2),

        B::F32x4Add => zipf32(a, b, |x, y| x + y),
        B::F32x4Sub => zipf32(a, b, |x, y| x - y),
        B::F32x4Mul => zipf32(a, b, |x, y| x * y),
        B::F32x4Div => zipf32(a, b, |x, y| x / y),
        B::F32x4Min => zipf32(a, b, num::f32_min),
        B::F32x4Max => zipf32(a, b, num::f32_max),
        // pmin = b < a ? b : a; pmax = a < b ? b : a (bit-exact operand).
        B::F32x4PMin => zip32(a, b, |x, y| if f32_of(y) < f32_of(x) { y } else { x }),
        B::F32x4PMax => zip32(a, b, |x, y| if f32_of(x) < f32_of(y) { y } else { x }),

        B::F64x2Add => zipf64(a, b, |x, y| x + y),
        B::F64x2Sub => zipf64(a, b, |x, y| x - y),
        B::F64x2Mul => zipf64(a, b, |x, y| x * y),
        B::F64x2Div => zipf64(a, b, |x, y| x / y),
        B::F64x2Min => zipf64(a, b, num::f64_min),
        B::F64x2Max => zipf64(a, b, num::f64_max),
        B::F64x2PMin => zip64(a, b, |x, y| if f64_of(y) < f64_of(x) { y } else { x }),
        B::F64x2PMax => zip64(a, b, |x, y| if f64_of(x) < f64_of(y) { y } else { x }),
    }
}

/// Signed 8->16 extended multiply of lanes `base..base + 8`.
#[inline]
fn extmul_8_s(a: u128, b: u128, base: usize) -> u128 {
    let (x, y) = (lanes8(a), lanes8(b));
    from16(from_fn(|i| {
        (x[base + i] as i8 as i16).wrapping_mul(y[base + i] as i8 as i16) as u16
    }))
}

/// Unsigned 8->16 extended multiply of lanes `base..base + 8`.
#[inline]
fn extmul_8_u(a: u128, b: u128, base: usize) -> u128 {
    let (x, y) = (lanes8(a), lanes8(b));
    from16(from_fn(|i| {
        (x[base + i] as u16).wrapping_mul(y[base + i] as u16)
    }))
}

/// Signed 16->32 extended multiply of lanes `base..base + 4`.
#[inline]
fn extmul_16_s(a: u128, b: u128, base: usize) -> u128 {
    let (x, y) = (lanes16(a), lanes16(b));
    from32(from_fn(|i| {
        (x[base + i] as i16 as i32).wrapping_mul(y[base + i] as i16 as i32) as u32
    }))
}

/// Unsigned 16->32 extended multiply of lanes `base..base + 4`.
#[inline]
fn extmul_16_u(a: u128, b: u128, base: usize) -> u128 {
    let (x, y) = (lanes16(a), lanes16(b));
    from32(from_fn(|i| {
        (x[base + i] as u32).wrapping_mul(y[base + i] as u32)
    }))
}

/// Signed 32->64 extended multiply of lanes `base..base + 2`.
#[inline]
fn extmul_32_s(a: u128, b: u128, base: usize) -> u128 {
    let (x, y) = (lanes32(a), lanes32(b));
    from64(from_fn(|i| {
        (x[base + i] as i32 as i64).wrapping_mul(y[base + i] as i32 as i64) as u64
    }))
}

/// Unsigned 32->64 extended multiply of lanes `base..base + 2`.
#[inline]
fn extmul_32_u(a: u128, b: u128, base: usize) -> u128 {
    let (x, y) = (lanes32(a), lanes32(b));
    from64(from_fn(|i| {
        (x[base + i] as u64).wrapping_mul(y[base + i] as u64)
    }))
}

/// Evaluates a `(v128, v128, v128) -> v128` operator:
/// `v128.bitselect(v1, v2, mask) = (v1 & mask) | (v2 & !mask)`.
#[inline]
pub(crate) fn ternary(op: SimdTernary, a: u128, b: u128, c: u128) -> u128 {
    match op {
        SimdTernary::V128Bitselect => (a & c) | (b & !c),
    }
}

/// Evaluates a shift; `amount` is the i32 cell, taken modulo the lane width.
// Inlined into one handler per operator, where the `match` folds to one arm.
#[inline(always)]
pub(crate) fn shift(op: SimdShift, a: u128, amount: u64) -> u128 {
    use SimdShift as S;
    let n = amount as u32;
    match op {
        S::I8x16Shl => swar::shl::<8>(a, n % 8),
        S::I8x16ShrS => swar::shr_s::<8>(a, n % 8),
        S::I8x16ShrU => swar::shr_u::<8>(a, n % 8),
        S::I16x8Shl => swar::shl::<16>(a, n % 16),
        S::I16x8ShrS => swar::shr_s::<16>(a, n % 16),
        S::I16x8ShrU => swar::shr_u::<16>(a, n % 16),
        S::I32x4Shl => map32(a, |x| x << (n % 32)),
        S::I32x4ShrS => map32(a, |x| ((x as i32) >> (n % 32)) as u32),
        S::I32x4ShrU => map32(a, |x| x >> (n % 32)),
        S::I64x2Shl => map64(a, |x| x << (n % 64)),
        S::I64x2ShrS => map64(a, |x| ((x as i64) >> (n % 64)) as u64),
        S::I64x2ShrU => map64(a, |x| x >> (n % 64)),
    }
}

/// Each 32-bit (or, if `wide`, 64-bit) lane of `a` rotated left by `amount`.
#[inline]
pub(crate) fn rotl(wide: bool, a: u128, amount: u32) -> u128 {
    if wide {
        map64(a, |x| x.rotate_left(amount))
    } else {
        map32(a, |x| x.rotate_left(amount))
    }
}

/// Evaluates a splat of the scalar cell `x`.
#[inline]
pub(crate) fn splat(op: SimdSplat, x: u64) -> u128 {
    match op {
        SimdSplat::I8x16 => from8([x as u8; 16]),
        SimdSplat::I16x8 => from16([x as u16; 8]),
        SimdSplat::I32x4 | SimdSplat::F32x4 => from32([x as u32; 4]),
        SimdSplat::I64x2 | SimdSplat::F64x2 => from64([x; 2]),
    }
}

/// Extracts lane `lane` as a scalar cell (i32 results have the upper 32 bits
/// zero; `_s` variants sign-extend to i32 first).
#[inline]
pub(crate) fn extract_lane(op: SimdExtract, a: u128, lane: u8) -> u64 {
    let l = lane as usize;
    match op {
        SimdExtract::I8x16S => lanes8(a)[l & 15] as i8 as i32 as u32 as u64,
        SimdExtract::I8x16U => lanes8(a)[l & 15] as u64,
        SimdExtract::I16x8S => lanes16(a)[l & 7] as i16 as i32 as u32 as u64,
        SimdExtract::I16x8U => lanes16(a)[l & 7] as u64,
        SimdExtract::I32x4 | SimdExtract::F32x4 => lanes32(a)[l & 3] as u64,
        SimdExtract::I64x2 | SimdExtract::F64x2 => lanes64(a)[l & 1],
    }
}

/// Replaces lane `lane` of `a` with the scalar cell `x` (truncated to the lane
/// width).
#[inline]
pub(crate) fn replace_lane(op: SimdReplace, a: u128, x: u64, lane: u8) -> u128 {
    let l = lane as usize;
    match op {
        SimdReplace::I8x16 => {
            let mut v = lanes8(a);
            v[l & 15] = x as u8;
            from8(v)
        }
        SimdReplace::I16x8 => {
            let mut v = lanes16(a);
            v[l & 7] = x as u16;
            from16(v)
        }
        SimdReplace::I32x4 | SimdReplace::F32x4 => {
            let mut v = lanes32(a);
            v[l & 3] = x as u32;
            from32(v)
        }
        SimdReplace::I64x2 | SimdReplace::F64x2 => {
            let mut v = lanes64(a);
            v[l & 1] = x;
            from64(v)
        }
    }
}

/// Evaluates a `v128 -> i32` operator (0/1 or a bitmask).
// Inlined into one handler per operator, where the `match` folds to one arm.
#[inline(always)]
pub(crate) fn test(op: SimdTest, a: u128) -> u64 {
    use SimdTest as T;
    match op {
        T::V128AnyTrue => (a != 0) as u64,
        T::I8x16AllTrue => lanes8(a).iter().all(|&x| x != 0) as u64,
        T::I16x8AllTrue => lanes16(a).iter().all(|&x| x != 0) as u64,
        T::I32x4AllTrue => lanes32(a).iter().all(|&x| x != 0) as u64,
        T::I64x2AllTrue => lanes64(a).iter().all(|&x| x != 0) as u64,
        T::I8x16Bitmask => lanes8(a)
            .iter()
            .enumerate()
            .fold(0, |m, (i, &x)| m | ((x >> 7) as u64) << i),
        T::I16x8Bitmask => lanes16(a)
            .iter()
            .enumerate()
            .fold(0, |m, (i, &x)| m | ((x >> 15) as u64) << i),
        T::I32x4Bitmask => lanes32(a)
            .iter()
            .enumerate()
            .fold(0, |m, (i, &x)| m | ((x >> 31) as u64) << i),
        T::I64x2Bitmask => lanes64(a)
            .iter()
            .enumerate()
            .fold(0, |m, (i, &x)| m | (x >> 63) << i),
    }
}

/// A shuffle of whole 32-bit lanes: lane `i` of the result is lane `(lanes >> 3 * i) & 7`
/// of `a ++ b`.
#[inline(always)]
pub(crate) fn shuffle32(lanes: u32, a: u128, b: u128) -> u128 {
    shuffle_lanes::<32, 3>(lanes, a, b)
}

/// A shuffle of whole 16-bit lanes: lane `i` of the result is lane `(lanes >> 4 * i) & 15`
/// of `a ++ b`.
#[inline(always)]
pub(crate) fn shuffle16(lanes: u32, a: u128, b: u128) -> u128 {
    shuffle_lanes::<16, 4>(lanes, a, b)
}

/// Lane `i` (of `BITS` bits) of the result is lane `(lanes >> INDEX_BITS * i)` (masked) of
/// the `256 / BITS` lanes of `a ++ b`, picked from the four 64-bit halves (a loop LLVM
/// unrolls: the widths are constants).
#[inline(always)]
fn shuffle_lanes<const BITS: u32, const INDEX_BITS: u32>(lanes: u32, a: u128, b: u128) -> u128 {
    // The 32 bytes of `a ++ b` in memory: a lane is then one load at a byte offset (a
    // `movzwl`/`mov` from the stack), where picking it out of a 64-bit half took a
    // variable shift and more index arithmetic.
    let mut both = [0u8; 32];
    both[..16].copy_from_slice(&a.to_le_bytes());
    both[16..].copy_from_slice(&b.to_le_bytes());
    let bytes = (BITS / 8) as usize;
    let mut out = 0u128;
    for i in 0..128 / BITS {
        let k = ((lanes >> (INDEX_BITS * i)) & ((1 << INDEX_BITS) - 1)) as usize;
        let at = (k * bytes) & (32 - bytes);
        let mut lane = [0u8; 4];
        lane[..bytes].copy_from_slice(&both[at..at + bytes]);
        out |= u128::from(u32::from_le_bytes(lane)) << (i * BITS);
    }
    out
}

/// `i8x16.shuffle`: lane `i` of the result is byte `lanes[i]` of the 32-byte
/// concatenation `a ++ b` (indices are validated to be < 32).
#[inline]
pub(crate) fn shuffle(lanes: &[u8; 16], a: u128, b: u128) -> u128 {
    // One 32-byte table indexed without a branch per lane.
    let mut both = [0u8; 32];
    both[..16].copy_from_slice(&a.to_le_bytes());
    both[16..].copy_from_slice(&b.to_le_bytes());
    from8(from_fn(|i| both[(lanes[i] & 31) as usize]))
}

// ---------------------------------------------------------------------------
// Memory
// ---------------------------------------------------------------------------

/// Reads `N` bytes at `ea`; `None` if any byte is out of bounds.
#[inline(always)]
fn read<const N: usize>(mem: &[u8], ea: u64) -> Option<[u8; N]> {
    let start = usize::try_from(ea).ok()?;
    let end = start.checked_add(N)?;
    mem.get(start..end)?.try_into().ok()
}

/// Writes `bytes` at `ea`; `None` (and nothing written) if out of bounds.
#[inline]
fn write(mem: &mut [u8], ea: u64, bytes: &[u8]) -> Option<()> {
    let start = usize::try_from(ea).ok()?;
    let end = start.checked_add(bytes.len())?;
    mem.get_mut(start..end)?.copy_from_slice(bytes);
    Some(())
}

/// Load for `op` at effective address `ea` (already `base + offset`, computed
/// in u64 without overflow). `None` = out of bounds (the executor traps).
// Inlined into one handler per load, where the `match` folds to one arm.
#[inline(always)]
pub(crate) fn load(op: SimdLoad, mem: &[u8], ea: u64) -> Option<u128> {
    use SimdLoad as L;
    Some(match op {
        L::Load128 => u128::from_le_bytes(read::<16>(mem, ea)?),
        L::Load8x8S => {
            let b = read::<8>(mem, ea)?;
            from16(from_fn(|i| b[i] as i8 as i16 as u16))
        }
        L::Load8x8U => {
            let b = read::<8>(mem, ea)?;
            from16(from_fn(|i| b[i] as u16))
        }
        L::Load16x4S => {
            let b = read::<8>(mem, ea)?;
            from32(from_fn(|i| {
                i16::from_le_bytes([b[2 * i], b[2 * i + 1]]) as i32 as u32
            }))
        }
        L::Load16x4U => {
            let b = read::<8>(mem, ea)?;
            from32(from_fn(|i| {
                u16::from_le_bytes([b[2 * i], b[2 * i + 1]]) as u32
            }))
        }
        L::Load32x2S => {
            let w = u64::from_le_bytes(read::<8>(mem, ea)?);
            from64([
                w as u32 as i32 as i64 as u64,
                (w >> 32) as u32 as i32 as i64 as u64,
            ])
        }
        L::Load32x2U => {
            let w = u64::from_le_bytes(read::<8>(mem, ea)?);
            from64([w as u32 as u64, w >> 32])
        }
        L::Load8Splat => splat(SimdSplat::I8x16, read::<1>(mem, ea)?[0] as u64),
        L::Load16Splat => splat(SimdSplat::I16x8, u16::from_le_bytes(read(mem, ea)?) as u64),
        L::Load32Splat => splat(SimdSplat::I32x4, u32::from_le_bytes(read(mem, ea)?) as u64),
        L::Load64Splat => splat(SimdSplat::I64x2, u64::from_le_bytes(read(mem, ea)?)),
        L::Load32Zero => u32::from_le_bytes(read(mem, ea)?) as u128,
        L::Load64Zero => u64::from_le_bytes(read(mem, ea)?) as u128,
    })
}

/// `v128.loadN_lane`: replaces lane `lane` of `v` with the value at `ea`.
pub(crate) fn load_lane(op: SimdLaneMem, mem: &[u8], ea: u64, v: u128, lane: u8) -> Option<u128> {
    Some(match op {
        SimdLaneMem::Lane8 => {
            replace_lane(SimdReplace::I8x16, v, read::<1>(mem, ea)?[0] as u64, lane)
        }
        SimdLaneMem::Lane16 => replace_lane(
            SimdReplace::I16x8,
            v,
            u16::from_le_bytes(read(mem, ea)?) as u64,
            lane,
        ),
        SimdLaneMem::Lane32 => replace_lane(
            SimdReplace::I32x4,
            v,
            u32::from_le_bytes(read(mem, ea)?) as u64,
            lane,
        ),
        SimdLaneMem::Lane64 => replace_lane(
            SimdReplace::I64x2,
            v,
            u64::from_le_bytes(read(mem, ea)?),
            lane,
        ),
    })
}

/// `v128.storeN_lane`: stores lane `lane` of `v` at `ea`.
pub(crate) fn store_lane(
    op: SimdLaneMem,
    mem: &mut [u8],
    ea: u64,
    v: u128,
    lane: u8,
) -> Option<()> {
    match op {
        SimdLaneMem::Lane8 => write(mem, ea, &[extract_lane(SimdExtract::I8x16U, v, lane) as u8]),
        SimdLaneMem::Lane16 => write(
            mem,
            ea,
            &(extract_lane(SimdExtract::I16x8U, v, lane) as u16).to_le_bytes(),
        ),
        SimdLaneMem::Lane32 => write(
            mem,
            ea,
            &(extract_lane(SimdExtract::I32x4, v, lane) as u32).to_le_bytes(),
        ),
        SimdLaneMem::Lane64 => write(
            mem,
            ea,
            &extract_lane(SimdExtract::I64x2, v, lane).to_le_bytes(),
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The definitions of the operators `swar` computes, lane by lane on mathematical
    /// integers, by the operator's name (`I8x16AddSatS`: 8-bit lanes, `AddSatS`); `None`
    /// for the others. `b` is ignored by the unary ones (`Neg`, `Abs`).
    fn lane_model(op: &str, a: u128, b: u128) -> Option<u128> {
        let (width, kind) = match (op.strip_prefix("I8x16"), op.strip_prefix("I16x8")) {
            (Some(kind), _) => (8, kind),
            (_, Some(kind)) => (16, kind),
            _ => return None,
        };
        let mask = (1i128 << width) - 1;
        let (min_s, max_s) = (-(1i128 << (width - 1)), (1i128 << (width - 1)) - 1);
        let mut out = 0u128;
        for lane in 0..128 / width {
            let at = width * lane;
            let (x, y) = (((a >> at) as i128) & mask, ((b >> at) as i128) & mask);
            let signed = |v: i128| if v > max_s { v - (1 << width) } else { v };
            let (xs, ys) = (signed(x), signed(y));
            let all = |t: bool| if t { mask } else { 0 };
            let r = match kind {
                "Eq" => all(x == y),
                "Ne" => all(x != y),
                "LtS" => all(xs < ys),
                "LtU" => all(x < y),
                "GtS" => all(xs > ys),
                "GtU" => all(x > y),
                "LeS" => all(xs <= ys),
                "LeU" => all(x <= y),
                "GeS" => all(xs >= ys),
                "GeU" => all(x >= y),
                "Add" => x + y,
                "Sub" => x - y,
                "AddSatS" => (xs + ys).clamp(min_s, max_s),
                "AddSatU" => (x + y).min(mask),
                "SubSatS" => (xs - ys).clamp(min_s, max_s),
                "SubSatU" => (x - y).max(0),
                "MinS" => xs.min(ys),
                "MinU" => x.min(y),
                "MaxS" => xs.max(ys),
                "MaxU" => x.max(y),
                "AvgrU" => (x + y + 1) >> 1,
                "Popcnt" => i128::from(x.count_ones() as u8),
                "Neg" => -x,
                "Abs" => xs.abs(),
                _ => return None,
            };
            out |= ((r & mask) as u128) << at;
        }
        Some(out)
    }

    /// Vectors whose lanes hit every edge of 8- and 16-bit arithmetic (0, ±1, the
    /// extremes, the sign boundary, equal lanes) next to lanes of random bits.
    fn swar_inputs() -> Vec<u128> {
        let edges8: [u8; 8] = [0, 1, 0x7f, 0x80, 0x81, 0xfe, 0xff, 0x40];
        let edges16: [u16; 8] = [0, 1, 0x7fff, 0x8000, 0x8001, 0xfffe, 0xffff, 0x00ff];
        let mut state = 0x9e37_79b9_7f4a_7c15_u64;
        let mut random = move || {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state
        };
        let mut out = Vec::new();
        for rotation in 0..8 {
            out.push(from8(from_fn(|i| edges8[(i + rotation) % 8])));
            out.push(from16(from_fn(|i| edges16[(i + rotation) % 8])));
            out.push(from16(from_fn(|i| edges16[(i * 3 + rotation) % 8])));
        }
        for _ in 0..200 {
            let (r, s) = (random(), random());
            out.push(u128::from(r) | u128::from(s) << 64);
            // Random lanes mixed with edge lanes, so random vectors meet the edges too.
            let e = edges16[(r % 8) as usize];
            out.push(from16(from_fn(|i| {
                if (s >> i) & 1 == 1 {
                    e
                } else {
                    (r >> (4 * i)) as u16
                }
            })));
        }
        out
    }

    #[test]
    fn swar_lane_arithmetic_agrees_with_the_lane_model() {
        let inputs = swar_inputs();
        let mut modelled = Vec::new();
        for &op in SimdBinary::ALL {
            let name = format!("{op:?}");
            if lane_model(&name, 0, 0).is_none() {
                continue;
            }
            modelled.push(name.clone());
            for &a in &inputs {
                for &b in &inputs {
                    let want = lane_model(&name, a, b);
                    assert_eq!(Some(binary(op, a, b)), want, "{name} {a:#034x} {b:#034x}");
                }
            }
        }
        for &op in SimdUnary::ALL {
            let name = format!("{op:?}");
            if lane_model(&name, 0, 0).is_none() {
                continue;
            }
            modelled.push(name.clone());
            for &a in &inputs {
                assert_eq!(
                    Some(unary(op, a)),
                    lane_model(&name, a, 0),
                    "{name} {a:#034x}"
                );
            }
        }
        // Every operator `swar` computes was compared: 21 binary and 2 unary per width,
        // and `i8x16.popcnt`.
        assert_eq!(modelled.len(), 2 * (21 + 2) + 1, "{modelled:?}");
    }

    fn v8(l: [i8; 16]) -> u128 {
        from8(l.map(|x| x as u8))
    }
    fn v16(l: [i16; 8]) -> u128 {
        from16(l.map(|x| x as u16))
    }
    fn v32(l: [i32; 4]) -> u128 {
        from32(l.map(|x| x as u32))
    }
    fn v64(l: [i64; 2]) -> u128 {
        from64(l.map(|x| x as u64))
    }
    fn f32x4(l: [f32; 4]) -> u128 {
        from32(l.map(f32::to_bits))
    }
    fn f64x2(l: [f64; 2]) -> u128 {
        from64(l.map(f64::to_bits))
    }
    fn as_f32x4(a: u128) -> [f32; 4] {
        lanes32(a).map(f32::from_bits)
    }
    fn as_f64x2(a: u128) -> [f64; 2] {
        lanes64(a).map(f64::from_bits)
    }

    #[test]
    fn lane_order_is_little_endian() {
        let bytes: [u8; 16] = from_fn(|i| i as u8);
        let v = u128::from_le_bytes(bytes);
        assert_eq!(lanes8(v)[0], 0);
        assert_eq!(lanes16(v)[0], 0x0100);
        assert_eq!(lanes32(v)[1], 0x0706_0504);
        assert_eq!(lanes64(v)[1], 0x0f0e_0d0c_0b0a_0908);
        assert_eq!(from16(lanes16(v)), v);
        assert_eq!(from32(lanes32(v)), v);
        assert_eq!(from64(lanes64(v)), v);
    }

    #[test]
    fn add_each_width() {
        let a = v8([127, -128, -1, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12]);
        let b = v8([1, -1, 1, 0, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1]);
        assert_eq!(
            binary(SimdBinary::I8x16Add, a, b),
            v8([-128, 127, 0, 0, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13])
        );
        assert_eq!(
            binary(SimdBinary::I8x16AddSatS, a, b),
            v8([127, -128, 0, 0, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13])
        );
        assert_eq!(
            binary(SimdBinary::I8x16SubSatU, v8([0; 16]), v8([1; 16])),
            0
        );
        let a = v16([i16::MAX, i16::MIN, -1, 0, 1, 2, 3, 4]);
        let b = v16([1, -1, 1, 0, 1, 1, 1, 1]);
        assert_eq!(
            binary(SimdBinary::I16x8Add, a, b),
            v16([i16::MIN, i16::MAX, 0, 0, 2, 3, 4, 5])
        );
        assert_eq!(
            binary(SimdBinary::I16x8AddSatU, v16([-1; 8]), v16([1; 8])),
            v16([-1; 8])
        );
        assert_eq!(
            binary(
                SimdBinary::I32x4Add,
                v32([i32::MAX, -1, 5, 0]),
                v32([1, 1, -6, 0])
            ),
            v32([i32::MIN, 0, -1, 0])
        );
        assert_eq!(
            binary(SimdBinary::I64x2Add, v64([i64::MAX, -1]), v64([1, 2])),
            v64([i64::MIN, 1])
        );
        assert_eq!(
            binary(SimdBinary::I64x2Mul, v64([i64::MAX, -3]), v64([2, 5])),
            v64([-2, -15])
        );
    }

    #[test]
    fn shifts() {
        let a = v8([-128; 16]);
        assert_eq!(shift(SimdShift::I8x16ShrS, a, 1), v8([-64; 16]));
        assert_eq!(shift(SimdShift::I8x16ShrU, a, 1), v8([64; 16]));
        assert_eq!(shift(SimdShift::I8x16ShrU, a, 9), v8([64; 16]));
        assert_eq!(shift(SimdShift::I8x16Shl, v8([1; 16]), 8), v8([1; 16]));
        assert_eq!(shift(SimdShift::I8x16Shl, v8([1; 16]), 7), v8([-128; 16]));
        assert_eq!(shift(SimdShift::I16x8Shl, v16([1; 8]), 17), v16([2; 8]));
        assert_eq!(shift(SimdShift::I16x8ShrS, v16([-4; 8]), 1), v16([-2; 8]));
        assert_eq!(
            shift(SimdShift::I32x4ShrS, v32([i32::MIN; 4]), 31),
            v32([-1; 4])
        );
        assert_eq!(
            shift(SimdShift::I32x4ShrU, v32([i32::MIN; 4]), 0xffff_ffff),
            v32([1; 4])
        );
        assert_eq!(shift(SimdShift::I32x4Shl, v32([1; 4]), 32), v32([1; 4]));
        assert_eq!(shift(SimdShift::I64x2Shl, v64([1, 3]), 65), v64([2, 6]));
        assert_eq!(
            shift(SimdShift::I64x2ShrS, v64([i64::MIN, 8]), 63),
            v64([-1, 0])
        );
        assert_eq!(
            shift(SimdShift::I64x2ShrU, v64([i64::MIN, 8]), 127),
            v64([1, 0])
        );
    }

    #[test]
    fn narrow_saturates() {
        let a = v16([0, 127, 128, -128, -129, 255, 256, -1]);
        let b = v16([i16::MAX, i16::MIN, 1, 2, 3, 4, 5, 6]);
        assert_eq!(
            binary(SimdBinary::I8x16NarrowI16x8S, a, b),
            v8([0, 127, 127, -128, -128, 127, 127, -1, 127, -128, 1, 2, 3, 4, 5, 6])
        );
        assert_eq!(
            binary(SimdBinary::I8x16NarrowI16x8U, a, b),
            from8([0, 127, 128, 0, 0, 255, 255, 0, 255, 0, 1, 2, 3, 4, 5, 6])
        );
        let a = v32([32768, -32769, 65535, -1]);
        let b = v32([1, 2, 65536, i32::MIN]);
        assert_eq!(
            binary(SimdBinary::I16x8NarrowI32x4S, a, b),
            v16([32767, -32768, 32767, -1, 1, 2, 32767, -32768])
        );
        assert_eq!(
            binary(SimdBinary::I16x8NarrowI32x4U, a, b),
            from16([32768, 0, 65535, 0, 1, 2, 65535, 0])
        );
    }

    #[test]
    fn swizzle_and_shuffle() {
        let a = from8(from_fn(|i| 100 + i as u8));
        let idx = from8([0, 15, 16, 255, 3, 128, 17, 1, 2, 2, 2, 2, 31, 32, 5, 6]);
        assert_eq!(
            binary(SimdBinary::I8x16Swizzle, a, idx),
            from8([100, 115, 0, 0, 103, 0, 0, 101, 102, 102, 102, 102, 0, 0, 105, 106])
        );
        let b = from8(from_fn(|i| 200 + i as u8));
        let lanes = [0, 16, 1, 17, 15, 31, 2, 2, 3, 4, 5, 6, 7, 8, 9, 30];
        assert_eq!(
            shuffle(&lanes, a, b),
            from8([100, 200, 101, 201, 115, 215, 102, 102, 103, 104, 105, 106, 107, 108, 109, 214])
        );
    }

    #[test]
    fn bitmask_and_all_true() {
        let a = v8([-1, 0, -128, 127, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, -5]);
        assert_eq!(test(SimdTest::I8x16Bitmask, a), 0x8005);
        assert_eq!(test(SimdTest::I8x16AllTrue, a), 0);
        assert_eq!(test(SimdTest::I8x16AllTrue, v8([1; 16])), 1);
        assert_eq!(test(SimdTest::V128AnyTrue, a), 1);
        assert_eq!(test(SimdTest::V128AnyTrue, 0), 0);
        assert_eq!(
            test(
                SimdTest::I16x8Bitmask,
                v16([-1, 1, -1, 1, 0, 0, 0, i16::MIN])
            ),
            0b1000_0101
        );
        assert_eq!(
            test(SimdTest::I16x8AllTrue, v16([1, 1, 1, 1, 1, 1, 1, 0])),
            0
        );
        assert_eq!(test(SimdTest::I32x4Bitmask, v32([0, -1, 0, -1])), 0b1010);
        assert_eq!(test(SimdTest::I32x4AllTrue, v32([1, -1, 256, 1 << 16])), 1);
        assert_eq!(test(SimdTest::I64x2Bitmask, v64([-1, 1])), 1);
        assert_eq!(test(SimdTest::I64x2AllTrue, v64([1 << 40, 1])), 1);
        assert_eq!(test(SimdTest::I64x2AllTrue, v64([1 << 40, 0])), 0);
    }

    #[test]
    fn float_min_max() {
        let nan = f32::NAN;
        let a = f32x4([0.0, -0.0, nan, 1.0]);
        let b = f32x4([-0.0, 0.0, 1.0, nan]);
        let min = lanes32(binary(SimdBinary::F32x4Min, a, b));
        assert_eq!(min[0], 0x8000_0000);
        assert_eq!(min[1], 0x8000_0000);
        assert!(f32::from_bits(min[2]).is_nan());
        assert!(f32::from_bits(min[3]).is_nan());
        let max = lanes32(binary(SimdBinary::F32x4Max, a, b));
        assert_eq!(max[0], 0);
        assert_eq!(max[1], 0);
        assert!(f32::from_bits(max[2]).is_nan());
        assert!(f32::from_bits(max[3]).is_nan());

        // pmin/pmax return an operand bit-exactly: b < a ? b : a, a < b ? b : a.
        let pmin = lanes32(binary(SimdBinary::F32x4PMin, a, b));
        assert_eq!(pmin, [0, 0x8000_0000, nan.to_bits(), 1.0f32.to_bits()]);
        let pmax = lanes32(binary(SimdBinary::F32x4PMax, a, b));
        assert_eq!(pmax, [0, 0x8000_0000, nan.to_bits(), 1.0f32.to_bits()]);

        let a = f64x2([-0.0, f64::NAN]);
        let b = f64x2([0.0, -1.0]);
        let min = lanes64(binary(SimdBinary::F64x2Min, a, b));
        assert_eq!(min[0], 0x8000_0000_0000_0000);
        assert!(f64::from_bits(min[1]).is_nan());
        let max = lanes64(binary(SimdBinary::F64x2Max, a, b));
        assert_eq!(max[0], 0);
        assert!(f64::from_bits(max[1]).is_nan());
        let pmin = lanes64(binary(SimdBinary::F64x2PMin, a, b));
        assert_eq!(pmin, [(-0.0f64).to_bits(), f64::NAN.to_bits()]);
        let pmax = lanes64(binary(SimdBinary::F64x2PMax, b, a));
        assert_eq!(pmax, [0.0f64.to_bits(), (-1.0f64).to_bits()]);
    }

    #[test]
    fn float_cmp_and_arith() {
        let a = f32x4([1.0, f32::NAN, -0.0, 2.0]);
        let b = f32x4([1.0, f32::NAN, 0.0, 1.0]);
        assert_eq!(binary(SimdBinary::F32x4Eq, a, b), v32([-1, 0, -1, 0]));
        assert_eq!(binary(SimdBinary::F32x4Ne, a, b), v32([0, -1, 0, -1]));
        assert_eq!(binary(SimdBinary::F32x4Gt, a, b), v32([0, 0, 0, -1]));
        assert_eq!(binary(SimdBinary::F32x4Le, a, b), v32([-1, 0, -1, 0]));
        assert_eq!(
            as_f32x4(binary(
                SimdBinary::F32x4Div,
                f32x4([1.0; 4]),
                f32x4([2.0, 0.0, -0.0, 4.0])
            )),
            [0.5, f32::INFINITY, f32::NEG_INFINITY, 0.25]
        );
        assert_eq!(
            binary(
                SimdBinary::F64x2Lt,
                f64x2([1.0, f64::NAN]),
                f64x2([2.0, 1.0])
            ),
            v64([-1, 0])
        );
        assert_eq!(
            unary(SimdUnary::F32x4Neg, f32x4([1.0, -0.0, 0.0, f32::NAN])),
            f32x4([-1.0, 0.0, -0.0, f32::from_bits(0xffc0_0000)])
        );
        assert_eq!(
            unary(
                SimdUnary::F64x2Abs,
                f64x2([-1.0, f64::from_bits(0xfff0_0000_0000_0001)])
            ),
            f64x2([1.0, f64::from_bits(0x7ff0_0000_0000_0001)])
        );
        assert_eq!(
            as_f32x4(unary(SimdUnary::F32x4Nearest, f32x4([0.5, 1.5, 2.5, -0.5]))),
            [0.0, 2.0, 2.0, -0.0]
        );
        assert_eq!(
            lanes32(unary(SimdUnary::F32x4Nearest, f32x4([-0.5; 4])))[0],
            0x8000_0000
        );
        assert_eq!(
            as_f64x2(unary(SimdUnary::F64x2Ceil, f64x2([-0.5, 1.1]))),
            [-0.0, 2.0]
        );
        assert_eq!(
            lanes64(unary(SimdUnary::F64x2Ceil, f64x2([-0.5, 1.1])))[0],
            0x8000_0000_0000_0000
        );
        assert_eq!(
            as_f32x4(unary(SimdUnary::F32x4Sqrt, f32x4([4.0, 9.0, 0.25, 0.0]))),
            [2.0, 3.0, 0.5, 0.0]
        );
    }

    #[test]
    fn trunc_sat_and_conversions() {
        let a = f32x4([f32::NAN, 3e9, -3e9, -1.9]);
        assert_eq!(
            unary(SimdUnary::I32x4TruncSatF32x4S, a),
            v32([0, i32::MAX, i32::MIN, -1])
        );
        assert_eq!(
            unary(SimdUnary::I32x4TruncSatF32x4U, a),
            from32([0, 3_000_000_000, 0, 0])
        );
        let a = f64x2([-2147483648.9, f64::INFINITY]);
        assert_eq!(
            unary(SimdUnary::I32x4TruncSatF64x2SZero, a),
            v32([i32::MIN, i32::MAX, 0, 0])
        );
        assert_eq!(
            unary(
                SimdUnary::I32x4TruncSatF64x2UZero,
                f64x2([4294967295.9, f64::NAN])
            ),
            from32([u32::MAX, 0, 0, 0])
        );
        assert_eq!(
            as_f32x4(unary(
                SimdUnary::F32x4ConvertI32x4U,
                from32([u32::MAX, 1, 16777217, 0])
            )),
            [4294967296.0, 1.0, 16777216.0, 0.0]
        );
        assert_eq!(
            as_f32x4(unary(
                SimdUnary::F32x4ConvertI32x4S,
                v32([-1, i32::MIN, 16777219, 0])
            )),
            [-1.0, -2147483648.0, 16777220.0, 0.0]
        );
        assert_eq!(
            as_f64x2(unary(
                SimdUnary::F64x2ConvertLowI32x4S,
                v32([-1, i32::MIN, 5, 6])
            )),
            [-1.0, -2147483648.0]
        );
        assert_eq!(
            as_f64x2(unary(SimdUnary::F64x2ConvertLowI32x4U, v32([-1, 7, 5, 6]))),
            [4294967295.0, 7.0]
        );
        let d = unary(SimdUnary::F32x4DemoteF64x2Zero, f64x2([1e300, f64::NAN]));
        assert_eq!(lanes32(d), [f32::INFINITY.to_bits(), 0x7fc0_0000, 0, 0]);
        let p = unary(
            SimdUnary::F64x2PromoteLowF32x4,
            f32x4([1.5, f32::NAN, 7.0, 8.0]),
        );
        assert_eq!(lanes64(p), [1.5f64.to_bits(), 0x7ff8_0000_0000_0000]);
    }

    #[test]
    fn integer_misc() {
        // q15mulr_sat_s
        let a = v16([i16::MIN, i16::MIN, 16384, -16384, 1, 0x4000, -1, 100]);
        let b = v16([i16::MIN, i16::MAX, 16384, 16384, 1, 1, 1, -100]);
        assert_eq!(
            binary(SimdBinary::I16x8Q15MulrSatS, a, b),
            v16([i16::MAX, -32767, 8192, -8192, 0, 1, 0, 0])
        );
        // avgr_u rounds up
        assert_eq!(
            binary(SimdBinary::I8x16AvgrU, from8([255; 16]), from8([254; 16])),
            from8([255; 16])
        );
        assert_eq!(
            binary(SimdBinary::I16x8AvgrU, from16([65535; 8]), from16([0; 8])),
            from16([32768; 8])
        );
        // abs / neg / popcnt
        assert_eq!(unary(SimdUnary::I8x16Abs, v8([-128; 16])), v8([-128; 16]));
        assert_eq!(
            unary(SimdUnary::I32x4Abs, v32([-5, 5, i32::MIN, 0])),
            v32([5, 5, i32::MIN, 0])
        );
        assert_eq!(
            unary(SimdUnary::I64x2Neg, v64([1, i64::MIN])),
            v64([-1, i64::MIN])
        );
        assert_eq!(
            unary(
                SimdUnary::I8x16Popcnt,
                from8([0xff, 0, 1, 0x55, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x80])
            ),
            from8([8, 0, 1, 4, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1])
        );
        // dot
        assert_eq!(
            binary(
                SimdBinary::I32x4DotI16x8S,
                v16([i16::MIN, i16::MIN, 1, 2, 3, 4, -1, 1]),
                v16([i16::MIN, i16::MIN, 5, 6, 7, 8, 1, 1])
            ),
            v32([i32::MIN, 17, 53, 0])
        );
        // extmul
        assert_eq!(
            binary(
                SimdBinary::I16x8ExtMulHighI8x16S,
                v8([0, 0, 0, 0, 0, 0, 0, 0, -128, 127, -1, 2, 0, 0, 0, 0]),
                v8([0, 0, 0, 0, 0, 0, 0, 0, -128, 127, 5, -3, 0, 0, 0, 0])
            ),
            v16([16384, 16129, -5, -6, 0, 0, 0, 0])
        );
        assert_eq!(
            binary(
                SimdBinary::I16x8ExtMulLowI8x16U,
                from8([255; 16]),
                from8([255; 16])
            ),
            from16([65025; 8])
        );
        assert_eq!(
            binary(
                SimdBinary::I32x4ExtMulLowI16x8S,
                v16([i16::MIN, -1, 0, 0, 9, 9, 9, 9]),
                v16([i16::MIN, 3, 0, 0, 9, 9, 9, 9])
            ),
            v32([1 << 30, -3, 0, 0])
        );
        assert_eq!(
            binary(
                SimdBinary::I64x2ExtMulHighI32x4U,
                v32([0, 0, -1, 2]),
                v32([0, 0, -1, 3])
            ),
            from64([0xffff_fffe_0000_0001, 6])
        );
        assert_eq!(
            binary(
                SimdBinary::I64x2ExtMulLowI32x4S,
                v32([i32::MIN, -2, 0, 0]),
                v32([i32::MIN, 3, 0, 0])
            ),
            v64([1 << 62, -6])
        );
        // extadd_pairwise
        assert_eq!(
            unary(
                SimdUnary::I16x8ExtAddPairwiseI8x16S,
                v8([-128, -128, 127, 127, -1, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0])
            ),
            v16([-256, 254, 0, 0, 0, 0, 0, 0])
        );
        assert_eq!(
            unary(SimdUnary::I16x8ExtAddPairwiseI8x16U, from8([255; 16])),
            from16([510; 8])
        );
        assert_eq!(
            unary(
                SimdUnary::I32x4ExtAddPairwiseI16x8S,
                v16([i16::MIN, i16::MIN, -1, -1, 0, 0, 0, 0])
            ),
            v32([-65536, -2, 0, 0])
        );
        assert_eq!(
            unary(SimdUnary::I32x4ExtAddPairwiseI16x8U, from16([65535; 8])),
            from32([131070; 4])
        );
        // extend
        assert_eq!(
            unary(
                SimdUnary::I16x8ExtendHighI8x16S,
                v8([0, 0, 0, 0, 0, 0, 0, 0, -1, 1, -128, 0, 0, 0, 0, 0])
            ),
            v16([-1, 1, -128, 0, 0, 0, 0, 0])
        );
        assert_eq!(
            unary(
                SimdUnary::I32x4ExtendLowI16x8U,
                v16([-1, 1, 0, 2, 0, 0, 0, 0])
            ),
            from32([65535, 1, 0, 2])
        );
        assert_eq!(
            unary(SimdUnary::I64x2ExtendHighI32x4S, v32([0, 0, -1, 5])),
            v64([-1, 5])
        );
        // comparisons
        assert_eq!(
            binary(SimdBinary::I8x16LtS, v8([-1; 16]), v8([0; 16])),
            v8([-1; 16])
        );
        assert_eq!(binary(SimdBinary::I8x16LtU, v8([-1; 16]), v8([0; 16])), 0);
        assert_eq!(
            binary(SimdBinary::I64x2GeS, v64([-1, 5]), v64([0, 5])),
            v64([0, -1])
        );
        // bitwise
        assert_eq!(
            ternary(SimdTernary::V128Bitselect, 0xff00, 0x0ff0, 0xf0f0),
            0xf0f0 & 0xff00 | 0x0ff0 & !0xf0f0u128
        );
        assert_eq!(binary(SimdBinary::V128AndNot, 0b1100, 0b1010), 0b0100);
    }

    #[test]
    fn splat_extract_replace() {
        assert_eq!(splat(SimdSplat::I8x16, 0x1ff), from8([0xff; 16]));
        assert_eq!(splat(SimdSplat::I16x8, 0xffff_8001), v16([-32767; 8]));
        assert_eq!(
            splat(SimdSplat::F32x4, 1.5f32.to_bits() as u64),
            f32x4([1.5; 4])
        );
        assert_eq!(splat(SimdSplat::I64x2, u64::MAX), u128::MAX);
        let v = v8([0, -1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, -128]);
        assert_eq!(extract_lane(SimdExtract::I8x16S, v, 1), 0xffff_ffff);
        assert_eq!(extract_lane(SimdExtract::I8x16U, v, 1), 0xff);
        assert_eq!(extract_lane(SimdExtract::I8x16S, v, 15), 0xffff_ff80);
        let v = v16([0, 0, -2, 0, 0, 0, 0, 0]);
        assert_eq!(extract_lane(SimdExtract::I16x8S, v, 2), 0xffff_fffe);
        assert_eq!(extract_lane(SimdExtract::I16x8U, v, 2), 0xfffe);
        let v = v64([1, -1]);
        assert_eq!(extract_lane(SimdExtract::I64x2, v, 1), u64::MAX);
        assert_eq!(extract_lane(SimdExtract::I32x4, v, 2), 0xffff_ffff);
        assert_eq!(replace_lane(SimdReplace::I8x16, 0, 0x1234, 3), 0x34 << 24);
        assert_eq!(
            replace_lane(SimdReplace::I16x8, 0, 0x1234_5678, 7),
            0x5678 << 112
        );
        assert_eq!(
            replace_lane(SimdReplace::F64x2, u128::MAX, 0, 0),
            (u64::MAX as u128) << 64
        );
        assert_eq!(
            replace_lane(SimdReplace::I32x4, 0, 0xdead_beef, 1),
            0xdead_beef << 32
        );
    }

    #[test]
    fn memory() {
        let mut mem: [u8; 32] = from_fn(|i| (i as u8).wrapping_mul(17));
        assert_eq!(
            load(SimdLoad::Load128, &mem, 16),
            Some(u128::from_le_bytes(mem[16..32].try_into().unwrap()))
        );
        assert_eq!(load(SimdLoad::Load128, &mem, 17), None);
        assert_eq!(load(SimdLoad::Load128, &mem, u64::MAX), None);
        assert_eq!(
            load(SimdLoad::Load8Splat, &mem, 31),
            Some(from8([mem[31]; 16]))
        );
        assert_eq!(load(SimdLoad::Load8Splat, &mem, 32), None);
        let m = [0x80, 0x01, 0xff, 0x7f, 0, 0, 0, 0x80, 0xaa];
        assert_eq!(
            load(SimdLoad::Load8x8S, &m, 0),
            Some(v16([-128, 1, -1, 127, 0, 0, 0, -128]))
        );
        assert_eq!(
            load(SimdLoad::Load8x8U, &m, 0),
            Some(from16([128, 1, 255, 127, 0, 0, 0, 128]))
        );
        assert_eq!(load(SimdLoad::Load8x8U, &m, 2), None);
        assert_eq!(
            load(SimdLoad::Load16x4S, &m, 0),
            Some(v32([0x0180, 0x7fff, 0, -32768]))
        );
        assert_eq!(
            load(SimdLoad::Load16x4U, &m, 0),
            Some(from32([0x0180, 0x7fff, 0, 0x8000]))
        );
        assert_eq!(
            load(SimdLoad::Load32x2S, &m, 0),
            Some(v64([0x7fff_0180, i32::MIN as i64]))
        );
        assert_eq!(
            load(SimdLoad::Load32x2U, &m, 0),
            Some(from64([0x7fff_0180, 0x8000_0000]))
        );
        assert_eq!(
            load(SimdLoad::Load16Splat, &m, 0),
            Some(from16([0x0180; 8]))
        );
        assert_eq!(
            load(SimdLoad::Load32Splat, &m, 0),
            Some(from32([0x7fff_0180; 4]))
        );
        assert_eq!(
            load(SimdLoad::Load64Splat, &m, 1),
            Some(from64([0xaa80_0000_007f_ff01; 2]))
        );
        assert_eq!(load(SimdLoad::Load32Zero, &m, 0), Some(0x7fff_0180));
        assert_eq!(
            load(SimdLoad::Load64Zero, &m, 0),
            Some(0x8000_0000_7fff_0180)
        );
        assert_eq!(load(SimdLoad::Load64Zero, &m, 2), None);

        let v = from64([0x0807_0605_0403_0201, 0x100f_0e0d_0c0b_0a09]);
        assert_eq!(
            load_lane(SimdLaneMem::Lane8, &m, 8, v, 15),
            Some(v & !(0xff << 120) | 0xaa << 120)
        );
        assert_eq!(
            load_lane(SimdLaneMem::Lane16, &m, 0, 0, 1),
            Some(0x0180 << 16)
        );
        assert_eq!(
            load_lane(SimdLaneMem::Lane32, &m, 4, 0, 3),
            Some(0x8000_0000 << 96)
        );
        assert_eq!(
            load_lane(SimdLaneMem::Lane64, &m, 1, v, 0),
            Some(from64([0xaa80_0000_007f_ff01, 0x100f_0e0d_0c0b_0a09]))
        );
        assert_eq!(load_lane(SimdLaneMem::Lane64, &m, 2, v, 0), None);

        assert_eq!(store_lane(SimdLaneMem::Lane8, &mut mem, 0, v, 3), Some(()));
        assert_eq!(mem[0], 4);
        assert_eq!(
            store_lane(SimdLaneMem::Lane16, &mut mem, 30, v, 7),
            Some(())
        );
        assert_eq!(&mem[30..32], &[0x0f, 0x10]);
        assert_eq!(store_lane(SimdLaneMem::Lane32, &mut mem, 29, v, 0), None);
        assert_eq!(mem[29], 29u8.wrapping_mul(17));
        assert_eq!(
            store_lane(SimdLaneMem::Lane64, &mut mem, 24, v, 1),
            Some(())
        );
        assert_eq!(&mem[24..32], &0x100f_0e0d_0c0b_0a09u64.to_le_bytes());
        assert_eq!(store_lane(SimdLaneMem::Lane32, &mut mem, 4, v, 1), Some(()));
        assert_eq!(&mem[4..8], &[5, 6, 7, 8]);
    }

    #[test]
    fn classify_samples() {
        use wasmparser::{MemArgTarget, V128};
        let memarg = MemArg {
            align: 4,
            max_align: 4,
            offset: 12,
            target: MemArgTarget::Memory(0),
            ordering: None,
        };
        assert!(classify(&Operator::I32Add).is_none());
        assert!(classify(&Operator::Nop).is_none());
        assert!(classify(&Operator::I8x16RelaxedSwizzle).is_none());
        assert!(classify(&Operator::F32x4RelaxedMadd).is_none());
        assert!(matches!(
            classify(&Operator::V128Const {
                value: V128::from(-1i128)
            }),
            Some(SimdOp::Const(u128::MAX))
        ));
        assert!(matches!(
            classify(&Operator::I8x16Add),
            Some(SimdOp::Binary(SimdBinary::I8x16Add))
        ));
        assert!(matches!(
            classify(&Operator::V128Not),
            Some(SimdOp::Unary(SimdUnary::V128Not))
        ));
        assert!(matches!(
            classify(&Operator::V128Bitselect),
            Some(SimdOp::Ternary(SimdTernary::V128Bitselect))
        ));
        assert!(matches!(
            classify(&Operator::I64x2ShrS),
            Some(SimdOp::Shift(SimdShift::I64x2ShrS))
        ));
        assert!(matches!(
            classify(&Operator::I16x8Bitmask),
            Some(SimdOp::Test(SimdTest::I16x8Bitmask))
        ));
        assert!(matches!(
            classify(&Operator::F64x2Splat),
            Some(SimdOp::Splat(SimdSplat::F64x2))
        ));
        assert!(matches!(
            classify(&Operator::I8x16ExtractLaneS { lane: 7 }),
            Some(SimdOp::ExtractLane(SimdExtract::I8x16S, 7))
        ));
        assert!(matches!(
            classify(&Operator::F32x4ReplaceLane { lane: 3 }),
            Some(SimdOp::ReplaceLane(SimdReplace::F32x4, 3))
        ));
        assert!(matches!(
            classify(&Operator::V128Load32Zero { memarg }),
            Some(SimdOp::Load(SimdLoad::Load32Zero, m)) if m.offset == 12
        ));
        assert!(matches!(
            classify(&Operator::V128Store { memarg }),
            Some(SimdOp::Store(_))
        ));
        assert!(matches!(
            classify(&Operator::V128Store16Lane { memarg, lane: 5 }),
            Some(SimdOp::StoreLane(SimdLaneMem::Lane16, _, 5))
        ));
        assert!(matches!(
            classify(&Operator::V128Load64Lane { memarg, lane: 1 }),
            Some(SimdOp::LoadLane(SimdLaneMem::Lane64, _, 1))
        ));
        let lanes = from_fn(|i| i as u8 * 2);
        assert!(matches!(
            classify(&Operator::I8x16Shuffle { lanes }),
            Some(SimdOp::Shuffle(l)) if l == lanes
        ));
    }

    /// Every `@simd` operator of wasmparser is classified; every
    /// `@relaxed_simd` one is not.
    #[test]
    fn classify_is_exhaustive() {
        trait Dummy {
            fn dummy() -> Self;
        }
        impl Dummy for u8 {
            fn dummy() -> Self {
                1
            }
        }
        impl Dummy for [u8; 16] {
            fn dummy() -> Self {
                [0; 16]
            }
        }
        impl Dummy for wasmparser::V128 {
            fn dummy() -> Self {
                wasmparser::V128::from(0i128)
            }
        }
        impl Dummy for MemArg {
            fn dummy() -> Self {
                MemArg {
                    align: 0,
                    max_align: 0,
                    offset: 0,
                    target: wasmparser::MemArgTarget::Memory(0),
                    ordering: None,
                }
            }
        }
        macro_rules! check_one {
            (simd $op:ident) => {{
                assert!(classify(&$op).is_some(), "unclassified: {:?}", $op);
                1
            }};
            (relaxed_simd $op:ident) => {{
                assert!(classify(&$op).is_none(), "relaxed classified: {:?}", $op);
                0
            }};
        }
        macro_rules! check_all {
            ($( @$proposal:ident $op:ident $({ $($arg:ident: $argty:ty),* })? => $visit:ident ($($ann:tt)*) )*) => {{
                let mut n = 0usize;
                $(
                    let op = Operator::$op $({ $($arg: <$argty as Dummy>::dummy()),* })?;
                    n += check_one!($proposal op);
                )*
                n
            }};
        }
        let n = wasmparser::for_each_visit_simd_operator!(check_all);
        assert_eq!(n, 236);
    }
}
