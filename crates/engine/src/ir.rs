//! The engine's internal instruction set: the contract between `translate` and `exec`.
//!
//! Design (see `docs/engine.md`): a *slot machine*. Every function frame is a window of
//! untyped 64-bit cells on one value stack: the parameters and locals first, then the
//! operand-stack cells. Because wasm stack heights are static, the translator assigns every
//! operand a fixed cell index ("slot") relative to the frame base, so instructions name their
//! inputs and outputs directly (`I32Add { dst, lhs, rhs }`) and no stack pointer moves at run
//! time. `local.get` emits nothing (the local's slot is used directly), constants become
//! immediates where an `*Imm` form exists, and an operation followed by `local.set` writes
//! straight into the local. Branch targets are absolute instruction indices resolved at
//! translation time; blocks leave no trace at run time.
//!
//! Value encoding in a cell: i32 as zero-extended u32, i64 as u64, f32/f64 as their IEEE bits,
//! funcref/externref as `0` (null) or `handle + 1`. A v128 takes two consecutive cells
//! (low 64 bits first). Every instruction is at most 16 bytes (checked below).

use crate::simd::{
    SimdBinary, SimdExtract, SimdLaneMem, SimdLoad, SimdReplace, SimdShape, SimdShift, SimdSplat,
    SimdTest, SimdUnary,
};

/// A cell index relative to the current frame base.
pub type Slot = u32;

/// Operands of a binary operation on slots.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub struct Bin {
    pub dst: Slot,
    pub lhs: Slot,
    pub rhs: Slot,
}

/// A binary operation whose right operand is an immediate (sign-extended for 64-bit ops).
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub struct BinImm {
    pub dst: Slot,
    pub lhs: Slot,
    pub imm: i32,
}

/// `regs[dst] = regs[lhs] / divisor` or `% divisor` (unsigned 32-bit) for a constant
/// divisor other than zero, through its reciprocal `magic` (see `num::reciprocal_u32`; the
/// shift is recomputed from the divisor, off the value's path, to fit 12 bytes): a
/// multiplication instead of a division, and nothing that traps.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub struct DivImm {
    pub dst: u16,
    pub lhs: u16,
    pub magic: u32,
    pub divisor: u32,
}

/// Operands of a unary operation.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub struct Un {
    pub dst: Slot,
    pub src: Slot,
}

/// A load from the instance's default memory at `regs[addr] + offset`.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub struct Load {
    pub dst: Slot,
    pub addr: Slot,
    pub offset: u32,
}

/// A load at `(regs[base] + (regs[index] << shift)) + offset` (32-bit wrapping shift and
/// add, as the `i32.shl`/`i32.add` it replaces): the fused `i32.add; *.load` of array
/// indexing, with the element-size shift when there is one. Slots fit 16 bits because
/// every frame fits the interpreter's window.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub struct LoadIdx {
    pub dst: u16,
    pub base: u16,
    pub index: u16,
    pub shift: u8,
    pub offset: u32,
}

/// A load at `((regs[addr] << shift) + disp) + offset`, the shift and first add wrapping at
/// 32 bits: the fused `i32.add x C; *.load offset=O` of field and stack-slot accesses (`C`
/// cannot move into the offset, which does not wrap), and with a shift, the
/// `(i << s) + C` of indexing a static array. Packed to 2-byte alignment so that with the
/// instruction tag it still fits 16 bytes (x86 and arm64 read the unaligned fields freely).
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
#[repr(C, packed(2))]
pub struct LoadDisp {
    pub dst: u16,
    pub addr: u16,
    pub shift: u8,
    pub disp: i32,
    pub offset: u32,
}

/// A load from the constant address `addr` (the address operand and the offset folded at
/// translation): C globals, read as `i32.const A; *.load offset=O`.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub struct LoadAbs {
    pub dst: Slot,
    pub addr: u32,
}

/// A store of `regs[src]` at the constant address `addr` (see [`LoadAbs`]).
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub struct StoreAbs {
    pub src: Slot,
    pub addr: u32,
}

/// A store of `regs[src]` at `(regs[addr] + disp) + offset`, the first add wrapping at 32
/// bits: the fused `i32.add x C` of a store's address.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub struct StoreDisp {
    pub addr: u16,
    pub src: u16,
    pub disp: i32,
    pub offset: u32,
}

/// A load that also steps its address register by `step` (wrapping at 32 bits): before
/// the load for the `*Pre` forms (`*++p`: `p += C; x = *p`), after it for the `*Post`
/// forms (`x = *p; p += C`). The pointer walks of C loops in one dispatch.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub struct LoadStep {
    pub dst: u16,
    pub addr: u16,
    pub step: i32,
    pub offset: u32,
}

/// A store of `regs[src]` at `regs[addr] + offset`, then `regs[addr] += step` (wrapping
/// at 32 bits): `*p = x; p += C`.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub struct StoreStep {
    pub addr: u16,
    pub src: u16,
    pub step: i32,
    pub offset: u32,
}

/// A store of the immediate `value` (sign-extended, truncated as for [`StoreImm`]) at
/// `(regs[addr] + disp) + offset`, the first add wrapping at 32 bits: a constant stored
/// through a fused `i32.add x C` (`flags[i] = 0`).
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub struct StoreImmDisp {
    pub addr: u16,
    pub value: i16,
    pub disp: i32,
    pub offset: u32,
}

/// `regs[dst] = (regs[lhs] + add) <u bound` (or `>=u`, 32-bit, the add wrapping): the
/// fused `i32.add x C; i32.lt_u N` of a range check (`c - 'a' < 26`).
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub struct AddCmp {
    pub dst: u16,
    pub lhs: u16,
    pub add: i32,
    pub bound: i32,
}

/// A branch on a range check: to `target` if `(regs[lhs] + add) <u bound` (or `>=u`).
/// Packed to 2-byte alignment so that with the instruction tag it fits 16 bytes.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
#[repr(C, packed(2))]
pub struct AddBr {
    pub lhs: u16,
    pub add: i32,
    pub bound: i32,
    pub target: Target,
}

/// `regs[dst] = regs[lhs] * mul + add` (32-bit, wrapping): the fused `i32.mul` and
/// `i32.add` by constants of linear congruential generators and hash steps.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub struct MulAdd {
    pub dst: u16,
    pub lhs: u16,
    pub mul: i32,
    pub add: i32,
}

/// `regs[dst] = regs[acc] + regs[lhs] * regs[rhs]` (wrapping): a multiplication fused
/// with the addition that consumes it, the step of dot products and matrix multiplication.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub struct MulAcc {
    pub dst: u16,
    pub acc: u16,
    pub lhs: u16,
    pub rhs: u16,
}

/// A loop counter's step and test: `regs[slot] += add` (32-bit, wrapping), then branch to
/// `target` if the new value compares true (`test`) with `other`: a slot or an immediate.
/// Packed to 2-byte alignment so that with the instruction tag it fits 16 bytes.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
#[repr(C, packed(2))]
pub struct IncBr {
    pub slot: u16,
    pub add: i16,
    pub test: IncTest,
    pub other: i32,
    pub target: Target,
}

/// The comparison of a [`IncBr`]: `Ne`, `LtU` and `LtS` read slot `other`, the `*Imm` forms
/// take `other` itself, `Nez` ignores it.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
#[repr(u8)]
pub enum IncTest {
    Nez,
    Ne,
    LtU,
    LtS,
    NeImm,
    LtUImm,
    LtSImm,
}

impl IncTest {
    /// Every test, in discriminant order (one threaded handler each).
    pub const ALL: [IncTest; 7] = [
        IncTest::Nez,
        IncTest::Ne,
        IncTest::LtU,
        IncTest::LtS,
        IncTest::NeImm,
        IncTest::LtUImm,
        IncTest::LtSImm,
    ];
}

/// A load of an `i32` (or, for `BrLoad8U`, of a byte, zero-extended) at
/// `regs[addr] + offset` into `regs[dst]`, then a branch to `target` if the loaded value
/// passes `test` against `other`: a slot (`other as u16`) or an immediate (sign-extended).
/// A field or an array element compared as soon as it is read (`if (p->kind > 5)`,
/// `while (a[i] < pivot)`), in one dispatch. Packed to 2-byte alignment so that with the
/// instruction tag it fits 16 bytes.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
#[repr(C, packed(2))]
pub struct LoadBr {
    pub dst: u16,
    pub addr: u16,
    pub offset: u16,
    pub test: LoadTest,
    pub other: i16,
    pub target: Target,
}

/// A [`LoadBr`] from the constant address `addr` (see [`LoadAbs`]): `if (global == 0)`.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
#[repr(C, packed(2))]
pub struct LoadAbsBr {
    pub dst: u16,
    pub addr: u32,
    pub test: LoadTest,
    pub other: i16,
    pub target: Target,
}

/// A [`LoadBr`] through a pointer that also steps by `step` (wrapping at 32 bits), before
/// the load (`*Pre*`) or after it (`*Post*`), with no offset: `while (*p++ < x)`.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
#[repr(C, packed(2))]
pub struct LoadStepBr {
    pub dst: u16,
    pub addr: u16,
    pub step: i16,
    pub test: LoadTest,
    pub other: i16,
    pub target: Target,
}

/// The comparison of a [`LoadBr`], [`LoadAbsBr`] or [`LoadStepBr`], the loaded value on
/// the left: `Nez` and `Eqz` ignore
/// `other`, the `*Imm` forms take it as the right operand, the rest read slot `other`.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
#[repr(u8)]
pub enum LoadTest {
    Nez,
    Eqz,
    Eq,
    Ne,
    LtS,
    LtU,
    GtS,
    GtU,
    LeS,
    LeU,
    GeS,
    GeU,
    EqImm,
    NeImm,
    LtSImm,
    LtUImm,
    GtSImm,
    GtUImm,
    LeSImm,
    LeUImm,
    GeSImm,
    GeUImm,
}

impl LoadTest {
    /// Every test, in discriminant order (one threaded handler each).
    pub const ALL: [LoadTest; 22] = [
        LoadTest::Nez,
        LoadTest::Eqz,
        LoadTest::Eq,
        LoadTest::Ne,
        LoadTest::LtS,
        LoadTest::LtU,
        LoadTest::GtS,
        LoadTest::GtU,
        LoadTest::LeS,
        LoadTest::LeU,
        LoadTest::GeS,
        LoadTest::GeU,
        LoadTest::EqImm,
        LoadTest::NeImm,
        LoadTest::LtSImm,
        LoadTest::LtUImm,
        LoadTest::GtSImm,
        LoadTest::GtUImm,
        LoadTest::LeSImm,
        LoadTest::LeUImm,
        LoadTest::GeSImm,
        LoadTest::GeUImm,
    ];
}

/// Operands of a three-input operation: `regs[dst] = regs[a] op regs[b] op regs[c]`.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub struct Bin3 {
    pub dst: u16,
    pub a: u16,
    pub b: u16,
    pub c: u16,
}

/// Operands of a three-operand `select` on one cell.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub struct Select3 {
    pub dst: u16,
    pub a: u16,
    pub b: u16,
    pub cond: u16,
}

/// A binary operation with a constant shift or rotation amount folded in (see the
/// instructions using it).
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub struct BinShift {
    pub dst: u16,
    pub lhs: u16,
    pub rhs: u16,
    pub shift: u8,
}

/// A store of `regs[src]` to the instance's default memory at `regs[addr] + offset`.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub struct Store {
    pub addr: Slot,
    pub src: Slot,
    pub offset: u32,
}

/// A store of the immediate `value` (sign-extended for 64-bit stores, truncated for narrow
/// ones) to the default memory at `regs[addr] + offset`: a constant stored needs no slot.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub struct StoreImm {
    pub addr: Slot,
    pub value: i32,
    pub offset: u32,
}

/// How many bytes of operands an instruction has at most, packed (see [`Instr::pack`]).
pub const OPERAND_BYTES: usize = 14;

/// An instruction's operands packed as the threaded code stores them.
pub type Operands = [u8; OPERAND_BYTES];

/// An operand's packed form: `SIZE` little-endian bytes. The threaded code reads operands
/// at constant offsets from an instruction's bytes, so a handler needs no check of which
/// instruction it runs (safe Rust cannot read an enum's fields without one).
pub trait Field: Copy {
    const SIZE: usize;
    /// Writes the field to the start of `out` (at least `SIZE` long).
    fn put(self, out: &mut [u8]);
    /// Reads the field from the start of `bytes` (at least `SIZE` long).
    fn get(bytes: &[u8]) -> Self;
}

macro_rules! int_field {
    ($($t:ty),*) => {$(
        impl Field for $t {
            const SIZE: usize = std::mem::size_of::<$t>();
            #[inline(always)]
            fn put(self, out: &mut [u8]) {
                out[..Self::SIZE].copy_from_slice(&self.to_le_bytes());
            }
            #[inline(always)]
            fn get(bytes: &[u8]) -> Self {
                let mut b = [0u8; std::mem::size_of::<$t>()];
                b.copy_from_slice(&bytes[..Self::SIZE]);
                <$t>::from_le_bytes(b)
            }
        }
    )*};
}
int_field!(u8, u16, i16, u32, i32, u64);

/// One-byte operator classes, stored as their discriminant.
macro_rules! enum_field {
    ($($t:ty),*) => {$(
        impl Field for $t {
            const SIZE: usize = 1;
            #[inline(always)]
            fn put(self, out: &mut [u8]) {
                out[0] = self as u8;
            }
            #[inline(always)]
            fn get(bytes: &[u8]) -> Self {
                // Only `put` writes these bytes, so the discriminant is always in range.
                Self::ALL.get(bytes[0] as usize).copied().unwrap_or(Self::ALL[0])
            }
        }
    )*};
}
enum_field!(
    IncTest,
    LoadTest,
    SimdBinary,
    SimdExtract,
    SimdLaneMem,
    SimdLoad,
    SimdShape,
    SimdShift,
    SimdTest,
    SimdUnary
);

/// Operand structs, stored field after field.
macro_rules! struct_field {
    ($($t:ident { $($f:ident: $ft:ty),* })*) => {$(
        impl Field for $t {
            const SIZE: usize = 0 $(+ <$ft as Field>::SIZE)*;
            #[inline(always)]
            fn put(self, out: &mut [u8]) {
                let mut at = 0;
                $(
                    let v: $ft = self.$f;
                    v.put(&mut out[at..]);
                    at += <$ft as Field>::SIZE;
                )*
                let _ = at;
            }
            #[inline(always)]
            #[allow(unused_assignments)]
            fn get(bytes: &[u8]) -> Self {
                let mut at = 0;
                $t {$(
                    $f: {
                        let v = <$ft as Field>::get(&bytes[at..]);
                        at += <$ft as Field>::SIZE;
                        v
                    },
                )*}
            }
        }
    )*};
}
struct_field! {
    Bin { dst: Slot, lhs: Slot, rhs: Slot }
    BinImm { dst: Slot, lhs: Slot, imm: i32 }
    Un { dst: Slot, src: Slot }
    Load { dst: Slot, addr: Slot, offset: u32 }
    LoadIdx { dst: u16, base: u16, index: u16, shift: u8, offset: u32 }
    DivImm { dst: u16, lhs: u16, magic: u32, divisor: u32 }
    LoadDisp { dst: u16, addr: u16, shift: u8, disp: i32, offset: u32 }
    LoadAbs { dst: Slot, addr: u32 }
    StoreAbs { src: Slot, addr: u32 }
    StoreDisp { addr: u16, src: u16, disp: i32, offset: u32 }
    LoadStep { dst: u16, addr: u16, step: i32, offset: u32 }
    StoreStep { addr: u16, src: u16, step: i32, offset: u32 }
    StoreImmDisp { addr: u16, value: i16, disp: i32, offset: u32 }
    AddCmp { dst: u16, lhs: u16, add: i32, bound: i32 }
    AddBr { lhs: u16, add: i32, bound: i32, target: Target }
    MulAdd { dst: u16, lhs: u16, mul: i32, add: i32 }
    MulAcc { dst: u16, acc: u16, lhs: u16, rhs: u16 }
    IncBr { slot: u16, add: i16, test: IncTest, other: i32, target: Target }
    LoadBr { dst: u16, addr: u16, offset: u16, test: LoadTest, other: i16, target: Target }
    LoadAbsBr { dst: u16, addr: u32, test: LoadTest, other: i16, target: Target }
    LoadStepBr { dst: u16, addr: u16, step: i16, test: LoadTest, other: i16, target: Target }
    Select3 { dst: u16, a: u16, b: u16, cond: u16 }
    Bin3 { dst: u16, a: u16, b: u16, c: u16 }
    BinShift { dst: u16, lhs: u16, rhs: u16, shift: u8 }
    Shuffle { dst: u16, lhs: u16, rhs: u16, lanes: u32 }
    Store { addr: Slot, src: Slot, offset: u32 }
    StoreImm { addr: Slot, value: i32, offset: u32 }
}

/// A shuffle of `regs[lhs] ++ regs[rhs]` into `regs[dst]` (a v128 each); what `lanes`
/// holds depends on the instruction (see `V128ShuffleTo`).
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub struct Shuffle {
    pub dst: u16,
    pub lhs: u16,
    pub rhs: u16,
    pub lanes: u32,
}

/// Absolute index into a function's instruction array, with [`BACKWARD`] set on
/// branches to an earlier (or the same) instruction: loop back-edges, where the
/// interpreter polls for interruption. One bit test at run time instead of comparing
/// with the current position.
pub type Target = u32;

/// The flag of a [`Target`] that jumps backward.
pub const BACKWARD: Target = 1 << 31;

/// The wide instructions with a redirectable `dst` (struct variants, so not in
/// `define_instrs!`'s lists), as a pattern binding it.
macro_rules! v128_with_dst {
    ($dst:ident) => {
        Instr::V128Unary { $dst, .. }
            | Instr::V128Binary { $dst, .. }
            | Instr::V128BinaryConst { $dst, .. }
            | Instr::V128Shift { $dst, .. }
            | Instr::V128ShiftImm { $dst, .. }
            | Instr::V128Rotl32Imm { $dst, .. }
            | Instr::V128Rotl64Imm { $dst, .. }
            | Instr::V128Splat { $dst, .. }
            | Instr::V128ExtractLane { $dst, .. }
            | Instr::V128Test { $dst, .. }
            | Instr::V128Load { $dst, .. }
            | Instr::GlobalGet128 { $dst, .. }
    };
}

macro_rules! define_instrs {
    (
        with_dst { $( $(#[$dm:meta])* $dname:ident($dty:ident), )* }
        with_dst16 { $( $(#[$hm:meta])* $hname:ident($hty:ident), )* }
        wrapped { $( $(#[$wm:meta])* $wname:ident($wty:ident), )* }
        other { $( $(#[$om:meta])* $oname:ident $({ $($fname:ident: $fty:ty),* $(,)? })?, )* }
    ) => {
        /// One interpreter instruction. Field names: `dst` is written, everything else read.
        #[derive(Copy, Clone, Debug, PartialEq)]
        pub enum Instr {
            $( $(#[$dm])* $dname($dty), )*
            $( $(#[$hm])* $hname($hty), )*
            $( $(#[$wm])* $wname($wty), )*
            $( $(#[$om])* $oname $({ $($fname: $fty),* })?, )*
        }

        /// Which instruction a packed one is (see [`Instr::pack`]).
        #[derive(Copy, Clone, Debug, PartialEq, Eq)]
        #[repr(u16)]
        pub enum Tag {
            $( $dname, )*
            $( $hname, )*
            $( $wname, )*
            $( $oname, )*
        }

        /// One function per instruction that rebuilds it from its packed operands. Called
        /// by name where the instruction is known (a threaded handler), the rebuilt value's
        /// variant is a constant, so matching on it costs nothing.
        #[allow(non_snake_case, unused_mut, unused_assignments, unused_variables)]
        pub mod unpack {
            use super::*;
            $( #[inline(always)] pub fn $dname(raw: &Operands) -> Instr {
                Instr::$dname(<$dty as Field>::get(raw))
            } )*
            $( #[inline(always)] pub fn $hname(raw: &Operands) -> Instr {
                Instr::$hname(<$hty as Field>::get(raw))
            } )*
            $( #[inline(always)] pub fn $wname(raw: &Operands) -> Instr {
                Instr::$wname(<$wty as Field>::get(raw))
            } )*
            $( #[inline(always)] pub fn $oname(raw: &Operands) -> Instr {
                let mut at = 0;
                Instr::$oname $({ $( $fname: {
                    let v = <$fty as Field>::get(&raw[at..]);
                    at += <$fty as Field>::SIZE;
                    v
                } ),* })?
            } )*

            /// The functions above in [`Tag`] order.
            pub(crate) const BY_TAG: &[fn(&Operands) -> Instr] = &[
                $( $dname, )* $( $hname, )* $( $wname, )* $( $oname, )*
            ];
        }

        $( const _: () = assert!(<$dty as Field>::SIZE <= OPERAND_BYTES); )*
        $( const _: () = assert!(<$hty as Field>::SIZE <= OPERAND_BYTES); )*
        $( const _: () = assert!(<$wty as Field>::SIZE <= OPERAND_BYTES); )*
        $( #[allow(unused_comparisons)]
        const _: () = assert!(0 $($(+ <$fty as Field>::SIZE)*)? <= OPERAND_BYTES); )*

        impl Instr {
            /// The instruction's tag and its operands' bytes, for the threaded code, whose
            /// handlers read them back without matching on the variant (see [`unpack`]).
            pub fn pack(&self) -> (Tag, Operands) {
                let mut raw = [0u8; OPERAND_BYTES];
                let tag = self.pack_into(&mut raw);
                (tag, raw)
            }

            /// [`Instr::pack`] into `raw` (zeroed), where the operands are to stay: bytes
            /// written one field at a time and then read whole would stall on store
            /// forwarding.
            #[allow(unused_mut, unused_assignments, unused_variables)]
            pub fn pack_into(&self, raw: &mut Operands) -> Tag {
                let raw = &mut raw[..];
                match *self {
                    $( Instr::$dname(x) => { x.put(raw); Tag::$dname } )*
                    $( Instr::$hname(x) => { x.put(raw); Tag::$hname } )*
                    $( Instr::$wname(x) => { x.put(raw); Tag::$wname } )*
                    $( Instr::$oname $({ $($fname),* })? => {
                        let mut at = 0;
                        $($(
                            $fname.put(&mut raw[at..]);
                            at += <$fty as Field>::SIZE;
                        )*)?
                        Tag::$oname
                    } )*
                }
            }

            /// The instruction packed as `tag` and `raw` (see [`Instr::pack`]).
            pub fn unpack(tag: Tag, raw: &Operands) -> Instr {
                match unpack::BY_TAG.get(tag as usize) {
                    Some(f) => f(raw),
                    None => Instr::Unreachable,
                }
            }

            /// The destination slot of an instruction that writes exactly one result slot and
            /// reads its inputs before writing, so the translator may redirect its output
            /// (fusing `op; local.set`).
            pub fn dst(&self) -> Option<Slot> {
                match self {
                    $( Instr::$dname(x) => Some(x.dst), )*
                    $( Instr::$hname(x) => Some(x.dst as Slot), )*
                    v128_with_dst!(dst) => Some(*dst),
                    _ => None,
                }
            }

            /// Moves the register-only instructions with a result slot to other slots: each
            /// slot `s` becomes `f(s)`. False (and `self` possibly half-moved) if the
            /// instruction has other operands (memory, branches, constants) or a new slot
            /// does not fit its field.
            fn map_payload_slots(&mut self, f: &dyn Fn(Slot) -> Option<Slot>) -> bool {
                match self {
                    $( Instr::$dname(x) => x.map_slots(f), )*
                    $( Instr::$hname(x) => x.map_slots(f), )*
                    _ => false,
                }
            }

            /// Redirects the output of an instruction that has a [`dst`](Self::dst); false
            /// if it has none or `slot` does not fit its field.
            pub fn set_dst(&mut self, slot: Slot) -> bool {
                match self {
                    $( Instr::$dname(x) => x.dst = slot, )*
                    $( Instr::$hname(x) => match u16::try_from(slot) {
                        Ok(s) => x.dst = s,
                        Err(_) => return false,
                    }, )*
                    v128_with_dst!(dst) => *dst = slot,
                    _ => return false,
                }
                true
            }
        }
    };
}

define_instrs! {
    with_dst {
        // ---- i32 arithmetic and comparison ----
        I32Eqz(Un), I32Clz(Un), I32Ctz(Un), I32Popcnt(Un),
        I32Eq(Bin), I32Ne(Bin), I32LtS(Bin), I32LtU(Bin), I32GtS(Bin), I32GtU(Bin),
        I32LeS(Bin), I32LeU(Bin), I32GeS(Bin), I32GeU(Bin),
        I32Add(Bin), I32Sub(Bin), I32Mul(Bin), I32DivS(Bin), I32DivU(Bin), I32RemS(Bin),
        I32RemU(Bin), I32And(Bin), I32Or(Bin), I32Xor(Bin), I32Shl(Bin), I32ShrS(Bin),
        I32ShrU(Bin), I32Rotl(Bin), I32Rotr(Bin),
        I32EqImm(BinImm), I32NeImm(BinImm), I32LtSImm(BinImm), I32LtUImm(BinImm),
        I32GtSImm(BinImm), I32GtUImm(BinImm), I32LeSImm(BinImm), I32LeUImm(BinImm),
        I32GeSImm(BinImm), I32GeUImm(BinImm),
        I32AddImm(BinImm), I32MulImm(BinImm), I32AndImm(BinImm), I32OrImm(BinImm),
        I32XorImm(BinImm), I32ShlImm(BinImm), I32ShrSImm(BinImm), I32ShrUImm(BinImm),
        I32RotlImm(BinImm),
        /// `regs[dst] = !(regs[lhs] << imm)`: `i32.shl` by a constant, then `i32.xor` with
        /// -1 (the `~(x << s)` of integer hashes, which `I32AddNotShl` adds).
        I32NotShlImm(BinImm),
        /// `regs[dst] = imm - regs[lhs]` and `imm << regs[lhs]`: a constant on the left of
        /// a subtraction or a shift (`n - i`, `1 << bit`), which would otherwise take a
        /// `Const32` first.
        I32SubRevImm(BinImm), I32ShlRevImm(BinImm),
        // ---- i64 ----
        I64Eqz(Un), I64Clz(Un), I64Ctz(Un), I64Popcnt(Un),
        I64Eq(Bin), I64Ne(Bin), I64LtS(Bin), I64LtU(Bin), I64GtS(Bin), I64GtU(Bin),
        I64LeS(Bin), I64LeU(Bin), I64GeS(Bin), I64GeU(Bin),
        I64Add(Bin), I64Sub(Bin), I64Mul(Bin), I64DivS(Bin), I64DivU(Bin), I64RemS(Bin),
        I64RemU(Bin), I64And(Bin), I64Or(Bin), I64Xor(Bin), I64Shl(Bin), I64ShrS(Bin),
        I64ShrU(Bin), I64Rotl(Bin), I64Rotr(Bin),
        I64EqImm(BinImm), I64NeImm(BinImm), I64LtSImm(BinImm), I64LtUImm(BinImm),
        I64GtSImm(BinImm), I64GtUImm(BinImm), I64LeSImm(BinImm), I64LeUImm(BinImm),
        I64GeSImm(BinImm), I64GeUImm(BinImm),
        I64AddImm(BinImm), I64MulImm(BinImm), I64AndImm(BinImm), I64OrImm(BinImm),
        I64XorImm(BinImm), I64ShlImm(BinImm), I64ShrSImm(BinImm), I64ShrUImm(BinImm),
        I64RotlImm(BinImm),
        /// `regs[dst] = !regs[lhs] & regs[rhs]`: fused `i64.xor x -1` and `i64.and`
        /// (Keccak's chi step).
        I64AndNot(Bin),
        // ---- f32 ----
        F32Eq(Bin), F32Ne(Bin), F32Lt(Bin), F32Gt(Bin), F32Le(Bin), F32Ge(Bin),
        F32Abs(Un), F32Neg(Un), F32Ceil(Un), F32Floor(Un), F32Trunc(Un), F32Nearest(Un),
        F32Sqrt(Un), F32Add(Bin), F32Sub(Bin), F32Mul(Bin), F32Div(Bin), F32Min(Bin),
        F32Max(Bin), F32Copysign(Bin),
        // ---- f64 ----
        F64Eq(Bin), F64Ne(Bin), F64Lt(Bin), F64Gt(Bin), F64Le(Bin), F64Ge(Bin),
        F64Abs(Un), F64Neg(Un), F64Ceil(Un), F64Floor(Un), F64Trunc(Un), F64Nearest(Un),
        F64Sqrt(Un), F64Add(Bin), F64Sub(Bin), F64Mul(Bin), F64Div(Bin), F64Min(Bin),
        F64Max(Bin), F64Copysign(Bin),
        // ---- conversions (reinterpretations and i64.extend_i32_u need no instruction) ----
        I32WrapI64(Un), I32TruncF32S(Un), I32TruncF32U(Un), I32TruncF64S(Un), I32TruncF64U(Un),
        I64ExtendI32S(Un), I64TruncF32S(Un), I64TruncF32U(Un), I64TruncF64S(Un),
        I64TruncF64U(Un), F32ConvertI32S(Un), F32ConvertI32U(Un), F32ConvertI64S(Un),
        F32ConvertI64U(Un), F32DemoteF64(Un), F64ConvertI32S(Un), F64ConvertI32U(Un),
        F64ConvertI64S(Un), F64ConvertI64U(Un), F64PromoteF32(Un),
        I32Extend8S(Un), I32Extend16S(Un), I64Extend8S(Un), I64Extend16S(Un), I64Extend32S(Un),
        I32TruncSatF32S(Un), I32TruncSatF32U(Un), I32TruncSatF64S(Un), I32TruncSatF64U(Un),
        I64TruncSatF32S(Un), I64TruncSatF32U(Un), I64TruncSatF64S(Un), I64TruncSatF64U(Un),
        // ---- loads from the default memory (f32/f64 loads are I32Load/I64Load) ----
        I32Load(Load), I64Load(Load), I32Load8S(Load), I32Load8U(Load), I32Load16S(Load),
        I32Load16U(Load), I64Load8S(Load), I64Load16S(Load), I64Load32S(Load),
        // (i64.load8_u/16_u/32_u share I32Load8U/I32Load16U/I32Load because cells zero-extend.)
        I32LoadAbs(LoadAbs), I64LoadAbs(LoadAbs), I32Load8UAbs(LoadAbs),
        /// `regs[dst] = regs[src]` (one cell).
        Copy(Un),
    }
    with_dst16 {
        I32DivUImm(DivImm), I32RemUImm(DivImm),
        I32LoadIdx(LoadIdx), I64LoadIdx(LoadIdx), I32Load8SIdx(LoadIdx), I32Load8UIdx(LoadIdx),
        I32Load16SIdx(LoadIdx), I32Load16UIdx(LoadIdx),
        I32LoadDisp(LoadDisp), I64LoadDisp(LoadDisp), I32Load8SDisp(LoadDisp),
        I32Load8UDisp(LoadDisp), I32Load16SDisp(LoadDisp), I32Load16UDisp(LoadDisp),
        I32LoadPreStep(LoadStep), I32Load8UPreStep(LoadStep),
        I32LoadPostStep(LoadStep), I32Load8UPostStep(LoadStep),
        /// `v128.load` of `regs[addr] + disp` (the `i32.add` that computed the address).
        V128LoadDisp(LoadDisp),
        /// `regs[dst] = regs[lhs] + (regs[rhs] << shift)` (32-bit): fused `i32.shl` by a
        /// constant and `i32.add`, the address arithmetic of array indexing.
        I32AddShl(BinShift),
        /// `regs[dst] = regs[lhs] + !(regs[rhs] << shift)` (32-bit, wrapping): Thomas
        /// Wang's integer hash step `key += ~(key << s)`, common in hash tables.
        I32AddNotShl(BinShift),
        /// `regs[dst] = (regs[lhs] ^ regs[rhs]).rotate_left(shift)`: fused `xor` and `rotl`
        /// by a constant, the mixing step of ciphers and hashes.
        I32XorRotl(BinShift), I64XorRotl(BinShift),
        /// `regs[dst] = (regs[lhs] + regs[rhs]).rotate_left(shift)` (wrapping): fused `add`
        /// and `rotl` by a constant, Salsa20's `rotl(a + b, 7)`.
        I32AddRotl(BinShift), I64AddRotl(BinShift),
        /// `regs[dst] = regs[lhs].rotate_left(shift) ^ regs[rhs]`: fused `rotl` by a
        /// constant and `xor`, the other half of ARX mixing (SipHash's `rotl(v1, 13) ^ v0`).
        I32RotlXor(BinShift), I64RotlXor(BinShift),
        /// `regs[dst] = (regs[lhs] >> shift) ^ regs[rhs]` (logical shift) and the same with
        /// `<<`: fused shift by a constant and `xor`, the steps of xorshift generators and of
        /// hash finalizers (`h ^= h >> 16`).
        I32ShrUXor(BinShift), I64ShrUXor(BinShift), I32ShlXor(BinShift), I64ShlXor(BinShift),
        I32MulAdd(MulAdd),
        /// `regs[dst] = regs[a] + regs[b] + regs[c]` (wrapping): two `i32.add` in a chain,
        /// the sums of hash rounds (`a + b + m`).
        I32Add3(Bin3),
        I32AddLtU(AddCmp), I32AddGeU(AddCmp),
        I32MulAcc(MulAcc), I64MulAcc(MulAcc),
        /// `regs[dst] = if regs[cond] as u32 != 0 { regs[a] } else { regs[b] }`.
        Select3(Select3),
        /// Shuffles of `regs[lhs] ++ regs[rhs]` into `regs[dst]`. `V128ShuffleTo`: byte `i`
        /// of the result is byte `mask[i]` (the constant pool's entry `lanes`).
        /// `V128Shuffle32To`: 32-bit lane `i` is lane `(lanes >> 3 * i) & 7`.
        /// `V128Shuffle16To`: 16-bit lane `i` is lane `(lanes >> 4 * i) & 15`. Each
        /// reads its operands where they are and writes a slot of its own, which a
        /// `local.set` takes over.
        V128ShuffleTo(Shuffle), V128Shuffle32To(Shuffle), V128Shuffle16To(Shuffle),
        /// `regs[dst] = (regs[a] & regs[c]) | (regs[b] & !regs[c])` (`v128.bitselect`).
        V128BitselectTo(Bin3),
    }
    wrapped {
        /// Fused `i32.add x C` (in place, `C` in 16 bits) and the loop's compare-and-branch
        /// on the new `x` (see `IncBr`).
        BrInc(IncBr),
        /// The same with a step in a slot: `regs[slot] += regs[add as u16]` (`i += step`).
        BrIncBy(IncBr),
        /// Fused range checks and branches (see `AddBr`).
        BrAddLtU(AddBr),
        BrAddGeU(AddBr),
        /// Fused `i32.load` (`BrLoad`) or `i32.load8_u` (`BrLoad8U`) and a test of the
        /// loaded value (see `LoadBr`).
        BrLoad(LoadBr),
        BrLoad8U(LoadBr),
        /// The same for `i32.load` from a constant address (see `LoadAbsBr`).
        BrLoadAbs(LoadAbsBr),
        /// The same through a stepping pointer (see `LoadStepBr`).
        BrLoadPostStep(LoadStepBr),
        BrLoad8UPostStep(LoadStepBr),
        BrLoadPreStep(LoadStepBr),
        BrLoad8UPreStep(LoadStepBr),
        // ---- stores to the default memory ----
        I32Store8(Store), I32Store16(Store), I32Store(Store), I64Store(Store),
        I32Store8Imm(StoreImm), I32Store16Imm(StoreImm), I32StoreImm(StoreImm),
        I64StoreImm(StoreImm),
        I32StoreAbs(StoreAbs), I64StoreAbs(StoreAbs),
        I32Store8Disp(StoreDisp), I32Store16Disp(StoreDisp), I32StoreDisp(StoreDisp),
        I64StoreDisp(StoreDisp),
        I32Store8ImmDisp(StoreImmDisp), I32Store16ImmDisp(StoreImmDisp),
        I32StoreImmDisp(StoreImmDisp), I64StoreImmDisp(StoreImmDisp),
        I32StorePostStep(StoreStep), I32Store8PostStep(StoreStep),
        /// `mem[regs[addr] + offset] = regs[src] + step` (32-bit, wrapping): a store of
        /// `x + C` just computed (`step` is the constant here, nothing is stepped).
        I32StoreAddImm(StoreStep),
    }
    other {
        /// `regs[dst] = value`.
        Const32 { dst: Slot, value: u32 },
        /// A word moved between a field and a C global (`global = p->f`, `p->f = global`):
        /// `I32Load` then `I32StoreAbs` of the value at `abs`, or `I32LoadAbs` from `abs`
        /// then `I32Store`, still writing the value to `dst`. Only where the constant
        /// address lies in the memory's minimum size, so only the other half can trap.
        I32LoadStoreAbs { dst: u16, addr: u16, offset: u32, abs: u32 },
        /// `regs[dst] = regs[acc] + regs[lhs] * load32(regs[addr] + offset)` (wrapping):
        /// a product of a value and a word loaded just for it, accumulated (the inner loop
        /// of a matrix product, `sum += a[i] * b[k]`). Traps as that load does.
        I32LoadMulAcc { dst: u16, acc: u16, lhs: u16, addr: u16, offset: u32 },
        I32LoadAbsStore { dst: u16, abs: u32, addr: u16, offset: u32 },
        /// `Const32` or `Copy`, then a forward jump (the `Br` after it stays, for branches
        /// to it): the value an `if` arm or a `switch` case yields, and the jump to the join.
        Const32Br { dst: Slot, value: u32, target: Target },
        CopyBr { dst: Slot, src: Slot, target: Target },
        /// `regs[dst] = value` (full 64-bit cell).
        Const64 { dst: Slot, value: u64 },
        /// `regs[dst..dst+2] = consts[index]` (a v128 from the function's constant pool).
        Const128 { dst: Slot, index: u32 },
        /// Copies two consecutive cells (a v128).
        Copy128 { dst: Slot, src: Slot },
        /// `regs[dst] = regs[src]; regs[dst2] = regs[src2]`, in that order: two moves in a
        /// row (argument set-up before a call, loop-carried locals) in one dispatch.
        Copy2 { dst: u16, src: u16, dst2: u16, src2: u16 },
        /// `regs[dst] = regs[lhs] + imm; regs[dst2] = regs[lhs2] + imm2` (32-bit, wrapping),
        /// in that order: two `i32.add x C` in a row (a loop stepping an index and a
        /// pointer) in one dispatch.
        I32AddImm2 { dst: u16, lhs: u16, imm: i16, dst2: u16, lhs2: u16, imm2: i16 },
        /// `regs[dst] = regs[lhs] + imm; regs[dst2] = regs[src2]` (32-bit add, wrapping),
        /// in that order: an add and the copy after it (often of its own result into a
        /// local) in one dispatch.
        I32AddImmCopy { dst: u16, lhs: u16, imm: i32, dst2: u16, src2: u16 },
        /// `regs[lo], regs[hi]` = the low and high halves of the low 128 bits of
        /// `(regs[a_hi]:regs[a]) * (regs[b_hi]:regs[b])`: the work of a recognized
        /// `__multi3` (see `idioms`), 128-bit multiplication as C and Rust compile it.
        I64MulWide { lo: u16, hi: u16, a: u16, a_hi: u16, b: u16, b_hi: u16 },
        /// `regs[dst]` = the distance from address `regs[s]` to the first zero byte of the
        /// default memory, and on to the next instruction (a `ReturnSlot` of `dst`); if
        /// there is no zero byte from `regs[s]` on, the instruction after that: a
        /// recognized `strlen` (see `idioms`), whose own code then runs, to trap.
        StrlenOrSkip { s: u16, dst: u16 },
        /// `regs[dst] = regs[lhs] + regs[rhs]; regs[dst2] = regs[lhs2] + regs[rhs2]`
        /// (32-bit, wrapping), in that order: two adds in a row (`a += b; a += m`).
        I32Add2 { dst: u16, lhs: u16, rhs: u16, dst2: u16, lhs2: u16, rhs2: u16 },
        /// `regs[dst] = regs[lhs] + regs[rhs]; regs[dst2] = (regs[lhs2] ^ regs[rhs2])
        /// .rotate_left(shift)` (32-bit), in that order: the add-xor-rotate step of ARX
        /// ciphers and hashes (`a += b; d = rotl(d ^ a, 16)`).
        I32AddXorRotl { dst: u16, lhs: u16, rhs: u16, dst2: u16, lhs2: u16, rhs2: u16, shift: u8 },
        /// `regs[dst] = i32x4.dot_i16x8_s(regs[lhs], regs[rhs]); regs[dst2] = regs[dst] +
        /// regs[other]` (`i32x4.add`), in that order: a dot product accumulated, the inner
        /// loop of 16-bit matrix products.
        V128DotAdd { dst: u16, lhs: u16, rhs: u16, dst2: u16, other: u16 },
        /// `regs[dst] = regs[lhs] + regs[rhs]; regs[dst2] = regs[lhs2] + regs[rhs2]`
        /// (`i32x4.add`), in that order: `a += m; a += b` of a vectorized ARX round.
        V128Add2 { dst: u16, lhs: u16, rhs: u16, dst2: u16, lhs2: u16, rhs2: u16 },
        /// `regs[dst] = regs[lhs] + regs[rhs]; regs[dst2] = regs[dst] ^ regs[other]`
        /// (64-bit), in that order: SipHash's `v2 += v3; v3 ^= v2`, the sum kept in a
        /// register for the xor.
        I64AddXor { dst: u16, lhs: u16, rhs: u16, dst2: u16, other: u16 },
        /// `x = regs[lhs] ^ regs[rhs]; regs[dst] = x; regs[dst2] = x` with each 32-bit lane
        /// rotated left by `amount`, in that order: a vector xor kept in a local, then
        /// rotated (BLAKE3's `d = rotl(d ^ a, 16)`, four columns at a time).
        V128XorRotl32 { dst: u16, lhs: u16, rhs: u16, dst2: u16, amount: u8 },
        /// `regs[dst] = regs[lhs] + regs[rhs]` (`i32x4.add`), then the `V128XorRotl32` of
        /// `regs[dst]` and `regs[other]` into `dst2` and `dst3`, in that order: the whole
        /// `a += b; d = rotl(d ^ a, k)` step of a vectorized ARX round.
        V128AddXorRotl32 { dst: u16, lhs: u16, rhs: u16, dst2: u16, other: u16, dst3: u16, amount: u8 },
        /// `if regs[cond] == 0 { regs[dst..dst+2] = regs[other..other+2] }` (the first
        /// operand already sits in `dst`).
        Select128 { dst: Slot, other: Slot, cond: Slot },

        // ---- limits (emitted only when the engine enables them) ----
        /// Start of a straight-line region: charge `amount` fuel, then check for interruption.
        ConsumeFuel { amount: u32 },

        // ---- control ----
        Unreachable,
        /// A forward branch (never carries [`BACKWARD`]; backward ones become `BrBack`).
        Br { target: Target },
        /// A backward branch: a loop keeps running, so interruption is polled.
        BrBack { target: Target },
        BrIfNez { cond: Slot, target: Target },
        BrIfEqz { cond: Slot, target: Target },
        /// `BrIfEqz`/`BrIfNez` on a full 64-bit cell (fused `i64.eqz`).
        BrIfEqz64 { cond: Slot, target: Target },
        BrIfNez64 { cond: Slot, target: Target },
        // Fused compare-and-branch: jump to `target` if `lhs OP rhs` (see `translate`).
        BrI32Eq { lhs: Slot, rhs: Slot, target: Target },
        BrI32Ne { lhs: Slot, rhs: Slot, target: Target },
        BrI32LtS { lhs: Slot, rhs: Slot, target: Target },
        BrI32LtU { lhs: Slot, rhs: Slot, target: Target },
        BrI32GtS { lhs: Slot, rhs: Slot, target: Target },
        BrI32GtU { lhs: Slot, rhs: Slot, target: Target },
        BrI32LeS { lhs: Slot, rhs: Slot, target: Target },
        BrI32LeU { lhs: Slot, rhs: Slot, target: Target },
        BrI32GeS { lhs: Slot, rhs: Slot, target: Target },
        BrI32GeU { lhs: Slot, rhs: Slot, target: Target },
        BrI32EqImm { lhs: Slot, imm: i32, target: Target },
        /// Jump if `regs[lhs] & imm` is nonzero (`BrI32AndImmNez`) or zero (`*Eqz`): a
        /// flag test, `if (x & FLAG)`, fused with its branch.
        BrI32AndImmNez { lhs: Slot, imm: i32, target: Target },
        BrI32AndImmEqz { lhs: Slot, imm: i32, target: Target },
        /// Jump if bit `regs[bit] % 32` of `mask` is set (`BrBitNez`) or clear (`*Eqz`):
        /// `(1 << x) & mask`, how compilers test a small value against a set of cases
        /// (a `switch` lowered to a bit test), fused with its branch.
        BrBitNez { bit: Slot, mask: i32, target: Target },
        BrBitEqz { bit: Slot, mask: i32, target: Target },
        /// Jump if `(regs[src] + add) & !regs[src] & mask` is nonzero (`BrZeroByteNez`) or
        /// zero (`*Eqz`): the word-at-a-time "has a zero byte" test of C libraries
        /// (`(w - 0x01010101) & ~w & 0x80808080`, in wasi-libc's `strlen`, `memchr`,
        /// `strchr`), four instructions fused with their branch.
        BrZeroByteNez { src: u16, add: i32, mask: i32, target: Target },
        BrZeroByteEqz { src: u16, add: i32, mask: i32, target: Target },
        BrI32NeImm { lhs: Slot, imm: i32, target: Target },
        BrI32LtSImm { lhs: Slot, imm: i32, target: Target },
        BrI32LtUImm { lhs: Slot, imm: i32, target: Target },
        BrI32GtSImm { lhs: Slot, imm: i32, target: Target },
        BrI32GtUImm { lhs: Slot, imm: i32, target: Target },
        BrI32LeSImm { lhs: Slot, imm: i32, target: Target },
        BrI32LeUImm { lhs: Slot, imm: i32, target: Target },
        BrI32GeSImm { lhs: Slot, imm: i32, target: Target },
        BrI32GeUImm { lhs: Slot, imm: i32, target: Target },
        BrI64Eq { lhs: Slot, rhs: Slot, target: Target },
        BrI64Ne { lhs: Slot, rhs: Slot, target: Target },
        BrI64LtS { lhs: Slot, rhs: Slot, target: Target },
        BrI64LtU { lhs: Slot, rhs: Slot, target: Target },
        BrI64GtS { lhs: Slot, rhs: Slot, target: Target },
        BrI64GtU { lhs: Slot, rhs: Slot, target: Target },
        BrI64LeS { lhs: Slot, rhs: Slot, target: Target },
        BrI64LeU { lhs: Slot, rhs: Slot, target: Target },
        BrI64GeS { lhs: Slot, rhs: Slot, target: Target },
        BrI64GeU { lhs: Slot, rhs: Slot, target: Target },
        /// Fused float compare-and-branch: jump to `target` if `lhs OP rhs`, or for the
        /// `Not*` forms if it does not hold (with a NaN operand `!(a < b)` is not `a >= b`).
        BrF32Eq { lhs: Slot, rhs: Slot, target: Target },
        BrF32Ne { lhs: Slot, rhs: Slot, target: Target },
        BrF32Lt { lhs: Slot, rhs: Slot, target: Target },
        BrF32Gt { lhs: Slot, rhs: Slot, target: Target },
        BrF32Le { lhs: Slot, rhs: Slot, target: Target },
        BrF32Ge { lhs: Slot, rhs: Slot, target: Target },
        BrF32NotLt { lhs: Slot, rhs: Slot, target: Target },
        BrF32NotGt { lhs: Slot, rhs: Slot, target: Target },
        BrF32NotLe { lhs: Slot, rhs: Slot, target: Target },
        BrF32NotGe { lhs: Slot, rhs: Slot, target: Target },
        BrF64Eq { lhs: Slot, rhs: Slot, target: Target },
        BrF64Ne { lhs: Slot, rhs: Slot, target: Target },
        BrF64Lt { lhs: Slot, rhs: Slot, target: Target },
        BrF64Gt { lhs: Slot, rhs: Slot, target: Target },
        BrF64Le { lhs: Slot, rhs: Slot, target: Target },
        BrF64Ge { lhs: Slot, rhs: Slot, target: Target },
        BrF64NotLt { lhs: Slot, rhs: Slot, target: Target },
        BrF64NotGt { lhs: Slot, rhs: Slot, target: Target },
        BrF64NotLe { lhs: Slot, rhs: Slot, target: Target },
        BrF64NotGe { lhs: Slot, rhs: Slot, target: Target },
        BrI64EqImm { lhs: Slot, imm: i32, target: Target },
        BrI64NeImm { lhs: Slot, imm: i32, target: Target },
        BrI64LtSImm { lhs: Slot, imm: i32, target: Target },
        BrI64LtUImm { lhs: Slot, imm: i32, target: Target },
        BrI64GtSImm { lhs: Slot, imm: i32, target: Target },
        BrI64GtUImm { lhs: Slot, imm: i32, target: Target },
        BrI64LeSImm { lhs: Slot, imm: i32, target: Target },
        BrI64LeUImm { lhs: Slot, imm: i32, target: Target },
        BrI64GeSImm { lhs: Slot, imm: i32, target: Target },
        BrI64GeUImm { lhs: Slot, imm: i32, target: Target },
        /// Jumps to `pc + 1 + min(regs[index] + add, len)` (the add wrapping at 32 bits: a
        /// `switch` whose cases start at `-add`); the next `len + 1` instructions are `Br`s.
        BrTable { index: Slot, len: u32, add: i32 },
        /// `BrTable` on a value it loads first, as `I32Load` does (and still writes to
        /// `dst`): the `switch (*p)` of interpreters and state machines.
        BrTableLoad { dst: u16, addr: u16, offset: u32, len: u32 },
        /// The same loading as `I32LoadDisp` with no offset: `switch (code[pc])`.
        BrTableLoadDisp { dst: u16, addr: u16, shift: u8, disp: i32, len: u32 },
        /// `regs[dst] = mem[regs[addr] + disp]` (`i32.load8_u`, the add wrapping at 32
        /// bits, no offset), then a branch to `target` if the byte is nonzero (`Nez`) or
        /// zero (`Eqz`): a byte looked up in a table (`if (class[c])`, the character
        /// classes of parsers). A byte load with an offset is a `BrLoad8U`.
        BrLoad8UDispNez { dst: u16, addr: u16, disp: i32, target: Target },
        BrLoad8UDispEqz { dst: u16, addr: u16, disp: i32, target: Target },
        /// A byte read through a pointer and looked up in a table before the branch:
        /// `regs[dst] = mem[regs[addr]]` (`i32.load8_u`), then as `BrLoad8UDisp*` on it
        /// into `dst2`: `if (class[*p])`, the scanning loops of parsers and serializers.
        BrLoad8ULookupNez { dst: u16, addr: u16, dst2: u16, disp: i32, target: Target },
        BrLoad8ULookupEqz { dst: u16, addr: u16, dst2: u16, disp: i32, target: Target },
        /// `I32StoreAbs` of `regs[src]`, then a branch on it (nonzero or zero): a C global
        /// assigned and tested (`while ((g = g->next))`).
        BrStoreAbsNez { src: Slot, addr: u32, target: Target },
        BrStoreAbsEqz { src: Slot, addr: u32, target: Target },
        /// Return; results already sit in slots `0..n`.
        Return,
        /// Return a single cell: `regs[0] = regs[src]`, then return.
        ReturnSlot { src: Slot },
        /// Calls a function defined in this module; its frame starts at `base`.
        CallInternal { func: u32, base: Slot },
        /// Calls the instance's imported function `func` (host or another instance).
        CallImported { func: u32, base: Slot },
        /// `regs[index]` selects the callee in `table`; `ty` is the engine-wide type id.
        CallIndirect { ty: u32, index: Slot, base: Slot, table: u16 },
        /// Tail calls: args at `base` move to slot 0 and the callee replaces this frame.
        ReturnCallInternal { func: u32, base: Slot },
        ReturnCallImported { func: u32, base: Slot },
        ReturnCallIndirect { ty: u32, index: Slot, base: Slot, table: u16 },

        // ---- globals ----
        /// A 32- or 64-bit global the module defines (`global` counts from its first).
        GlobalGet { dst: Slot, global: u32 },
        GlobalSet { src: Slot, global: u32 },
        /// A 32- or 64-bit global the module imports.
        GlobalGetImported { dst: Slot, global: u32 },
        GlobalSetImported { src: Slot, global: u32 },
        /// Any `v128` global (the module's index).
        GlobalGet128 { dst: Slot, global: u32 },
        GlobalSet128 { src: Slot, global: u32 },

        // ---- memory ----
        MemorySize { dst: Slot, memory: u32 },
        /// `regs[dst] = grow(regs[delta])`.
        MemoryGrow { dst: Slot, delta: Slot, memory: u32 },
        /// Operands `[dst_addr, value, len]` at `args..args+3`.
        MemoryFill { args: Slot, memory: u32 },
        /// Operands `[dst, src, len]` at `args..args+3`.
        MemoryCopy { args: Slot, dst_memory: u32, src_memory: u32 },
        /// Operands `[dst, src, len]` at `args..args+3`.
        MemoryInit { args: Slot, data: u32, memory: u32 },
        DataDrop { data: u32 },

        // ---- tables and references ----
        TableGet { dst: Slot, index: Slot, table: u32 },
        TableSet { index: Slot, value: Slot, table: u32 },
        TableSize { dst: Slot, table: u32 },
        /// Operands `[init, delta]` at `args..args+2`; result written to `args`.
        TableGrow { args: Slot, table: u32 },
        /// Operands `[index, value, len]` at `args..args+3`.
        TableFill { args: Slot, table: u32 },
        /// Operands `[dst, src, len]` at `args..args+3`.
        TableCopy { args: Slot, dst_table: u32, src_table: u32 },
        /// Operands `[dst, src, len]` at `args..args+3`.
        TableInit { args: Slot, elem: u32, table: u32 },
        ElemDrop { elem: u32 },
        RefFunc { dst: Slot, func: u32 },
        /// `regs[dst] = (regs[src] == 0) as u32`.
        RefIsNull { dst: Slot, src: Slot },

        // ---- fixed-width SIMD (semantics in `crate::simd`) ----
        V128Unary { op: SimdUnary, dst: Slot, src: Slot },
        V128Binary { op: SimdBinary, dst: Slot, lhs: Slot, rhs: Slot },
        /// `V128Binary` with a constant right operand, the module's constant `index`
        /// (masks and scales: `v128.and x (v128.const ...)`), read by the operator's
        /// handler instead of a `Const128` dispatched before it.
        V128BinaryConst { op: SimdBinary, dst: Slot, lhs: Slot, index: u32 },
        V128Shift { op: SimdShift, dst: Slot, lhs: Slot, amount: Slot },
        /// A [`V128Shift`](Instr::V128Shift) by a constant `amount` (taken modulo 64,
        /// which keeps it modulo every lane width): SIMD rotations shift by constants.
        V128ShiftImm { op: SimdShift, dst: Slot, lhs: Slot, amount: u16 },
        /// Each 32-bit (`V128Rotl32Imm`) or 64-bit lane of `regs[lhs]` rotated left by
        /// `amount` (1 to the lane width less one): SIMD code has no rotate, so a rotation
        /// is two shifts of one vector and an `or` (or `xor`), three dispatches.
        V128Rotl32Imm { dst: Slot, lhs: Slot, amount: u16 },
        V128Rotl64Imm { dst: Slot, lhs: Slot, amount: u16 },
        V128Splat { op: SimdSplat, dst: Slot, src: Slot },
        V128ExtractLane { op: SimdExtract, lane: u8, dst: Slot, src: Slot },
        /// `dst` already holds the vector.
        V128ReplaceLane { op: SimdReplace, lane: u8, dst: Slot, scalar: Slot },
        V128Test { op: SimdTest, dst: Slot, src: Slot },
        V128Load { op: SimdLoad, dst: Slot, addr: Slot, offset: u32 },
        V128Store { addr: Slot, src: Slot, offset: u32 },
        /// `dst` already holds the vector to update.
        V128LoadLane { op: SimdLaneMem, lane: u8, dst: Slot, addr: Slot, offset: u32 },
        V128StoreLane { op: SimdLaneMem, lane: u8, src: Slot, addr: Slot, offset: u32 },
    }
}

/// The slot fields of an instruction's operands, for moving it into another frame (see
/// [`Instr::map_slots`]).
trait MapSlots {
    /// Each slot `s` becomes `f(s)`; false if the payload has operands other than slots
    /// and immediates, or a slot does not fit.
    fn map_slots(&mut self, f: &dyn Fn(Slot) -> Option<Slot>) -> bool;
}

macro_rules! map_slots {
    ($( $ty:ident: $($field:ident),+; )*) => {
        $( impl MapSlots for $ty {
            fn map_slots(&mut self, f: &dyn Fn(Slot) -> Option<Slot>) -> bool {
                $(
                    match f(Slot::from(self.$field)).and_then(|s| s.try_into().ok()) {
                        Some(s) => self.$field = s,
                        None => return false,
                    }
                )+
                true
            }
        } )*
    };
}

map_slots! {
    Un: dst, src;
    Bin: dst, lhs, rhs;
    BinImm: dst, lhs;
    BinShift: dst, lhs, rhs;
    MulAdd: dst, lhs;
    DivImm: dst, lhs;
    Bin3: dst, a, b, c;
    AddCmp: dst, lhs;
    MulAcc: dst, acc, lhs, rhs;
    Select3: dst, a, b, cond;
}

/// Memory accesses and constant-pool indices are more than slots: never moved.
macro_rules! never_map_slots {
    ($( $ty:ident ),*) => {
        $( impl MapSlots for $ty {
            fn map_slots(&mut self, _: &dyn Fn(Slot) -> Option<Slot>) -> bool {
                false
            }
        } )*
    };
}

never_map_slots!(Load, LoadAbs, LoadIdx, LoadDisp, LoadStep, Shuffle);

impl Instr {
    /// Moves an instruction that only computes on slots (arithmetic, comparisons,
    /// conversions, constants, copies) to other slots: each slot `s` becomes `f(s)`, as
    /// when a callee's code is inlined into its caller's frame. False for anything else
    /// (memory, control, calls, v128 constants) or if a new slot does not fit.
    pub fn map_slots(&mut self, f: &dyn Fn(Slot) -> Option<Slot>) -> bool {
        let one = |s: &mut Slot| match f(*s) {
            Some(new) => {
                *s = new;
                true
            }
            None => false,
        };
        let one16 = |s: &mut u16| match f(Slot::from(*s)).and_then(|n| u16::try_from(n).ok()) {
            Some(new) => {
                *s = new;
                true
            }
            None => false,
        };
        match self {
            Instr::Const32 { dst, .. } | Instr::Const64 { dst, .. } => one(dst),
            Instr::Copy2 {
                dst,
                src,
                dst2,
                src2,
            } => one16(dst) && one16(src) && one16(dst2) && one16(src2),
            _ => self.map_payload_slots(f),
        }
    }

    /// The jump target of a branch instruction.
    pub fn target(&self) -> Option<Target> {
        match *self {
            Instr::BrInc(b) | Instr::BrIncBy(b) => Some(b.target),
            Instr::BrAddLtU(b) | Instr::BrAddGeU(b) => Some(b.target),
            Instr::BrLoad(b) | Instr::BrLoad8U(b) => Some(b.target),
            Instr::BrLoadAbs(b) => Some(b.target),
            Instr::BrLoadPostStep(b)
            | Instr::BrLoad8UPostStep(b)
            | Instr::BrLoadPreStep(b)
            | Instr::BrLoad8UPreStep(b) => Some(b.target),
            mut other => other.aligned_target_mut().map(|t| *t),
        }
    }

    /// Sets the jump target of a branch instruction (patching forward branches); false if
    /// `self` is not a branch.
    pub fn set_target(&mut self, to: Target) -> bool {
        if let Instr::BrInc(b) | Instr::BrIncBy(b) = self {
            b.target = to;
            return true;
        }
        if let Instr::BrAddLtU(b) | Instr::BrAddGeU(b) = self {
            b.target = to;
            return true;
        }
        if let Instr::BrLoad(b) | Instr::BrLoad8U(b) = self {
            b.target = to;
            return true;
        }
        if let Instr::BrLoadAbs(b) = self {
            b.target = to;
            return true;
        }
        if let Instr::BrLoadPostStep(b)
        | Instr::BrLoad8UPostStep(b)
        | Instr::BrLoadPreStep(b)
        | Instr::BrLoad8UPreStep(b) = self
        {
            b.target = to;
            return true;
        }
        match self.aligned_target_mut() {
            Some(target) => {
                *target = to;
                true
            }
            None => false,
        }
    }

    /// The target field of every branch but the packed `BrInc`, `BrAdd*` and `BrLoad*`.
    fn aligned_target_mut(&mut self) -> Option<&mut Target> {
        match self {
            Instr::Br { target, .. }
            | Instr::BrBack { target, .. }
            | Instr::Const32Br { target, .. }
            | Instr::CopyBr { target, .. }
            | Instr::BrLoad8UDispNez { target, .. }
            | Instr::BrLoad8UDispEqz { target, .. }
            | Instr::BrLoad8ULookupNez { target, .. }
            | Instr::BrLoad8ULookupEqz { target, .. }
            | Instr::BrStoreAbsNez { target, .. }
            | Instr::BrStoreAbsEqz { target, .. }
            | Instr::BrIfNez { target, .. }
            | Instr::BrIfEqz { target, .. }
            | Instr::BrIfNez64 { target, .. }
            | Instr::BrIfEqz64 { target, .. }
            | Instr::BrI32Eq { target, .. }
            | Instr::BrI32EqImm { target, .. }
            | Instr::BrI32AndImmNez { target, .. }
            | Instr::BrI32AndImmEqz { target, .. }
            | Instr::BrBitNez { target, .. }
            | Instr::BrBitEqz { target, .. }
            | Instr::BrZeroByteNez { target, .. }
            | Instr::BrZeroByteEqz { target, .. }
            | Instr::BrI32Ne { target, .. }
            | Instr::BrI32NeImm { target, .. }
            | Instr::BrI32LtS { target, .. }
            | Instr::BrI32LtSImm { target, .. }
            | Instr::BrI32LtU { target, .. }
            | Instr::BrI32LtUImm { target, .. }
            | Instr::BrI32GtS { target, .. }
            | Instr::BrI32GtSImm { target, .. }
            | Instr::BrI32GtU { target, .. }
            | Instr::BrI32GtUImm { target, .. }
            | Instr::BrI32LeS { target, .. }
            | Instr::BrI32LeSImm { target, .. }
            | Instr::BrI32LeU { target, .. }
            | Instr::BrI32LeUImm { target, .. }
            | Instr::BrI32GeS { target, .. }
            | Instr::BrI32GeSImm { target, .. }
            | Instr::BrI32GeU { target, .. }
            | Instr::BrI32GeUImm { target, .. }
            | Instr::BrI64Eq { target, .. }
            | Instr::BrI64EqImm { target, .. }
            | Instr::BrI64Ne { target, .. }
            | Instr::BrI64NeImm { target, .. }
            | Instr::BrI64LtS { target, .. }
            | Instr::BrI64LtSImm { target, .. }
            | Instr::BrI64LtU { target, .. }
            | Instr::BrI64LtUImm { target, .. }
            | Instr::BrI64GtS { target, .. }
            | Instr::BrI64GtSImm { target, .. }
            | Instr::BrI64GtU { target, .. }
            | Instr::BrI64GtUImm { target, .. }
            | Instr::BrI64LeS { target, .. }
            | Instr::BrI64LeSImm { target, .. }
            | Instr::BrI64LeU { target, .. }
            | Instr::BrI64LeUImm { target, .. }
            | Instr::BrI64GeS { target, .. }
            | Instr::BrI64GeSImm { target, .. }
            | Instr::BrI64GeU { target, .. }
            | Instr::BrF32Eq { target, .. }
            | Instr::BrF32Ne { target, .. }
            | Instr::BrF32Lt { target, .. }
            | Instr::BrF32Gt { target, .. }
            | Instr::BrF32Le { target, .. }
            | Instr::BrF32Ge { target, .. }
            | Instr::BrF32NotLt { target, .. }
            | Instr::BrF32NotGt { target, .. }
            | Instr::BrF32NotLe { target, .. }
            | Instr::BrF32NotGe { target, .. }
            | Instr::BrF64Eq { target, .. }
            | Instr::BrF64Ne { target, .. }
            | Instr::BrF64Lt { target, .. }
            | Instr::BrF64Gt { target, .. }
            | Instr::BrF64Le { target, .. }
            | Instr::BrF64Ge { target, .. }
            | Instr::BrF64NotLt { target, .. }
            | Instr::BrF64NotGt { target, .. }
            | Instr::BrF64NotLe { target, .. }
            | Instr::BrF64NotGe { target, .. }
            | Instr::BrI64GeUImm { target, .. } => Some(target),
            _ => None,
        }
    }
}

// Keep instructions small: the interpreter streams through them.
const _: () = assert!(std::mem::size_of::<Instr>() <= 16);

#[cfg(test)]
mod tests {
    use super::*;

    /// Every instruction, rebuilt from bytes by its own `unpack` function, packs back to its
    /// own tag and to bytes that rebuild the same instruction: for byte patterns that make
    /// every field large, negative, or distinct from its neighbours.
    #[test]
    fn every_instruction_round_trips_through_its_packed_form() {
        let patterns: [Operands; 4] = [
            std::array::from_fn(|i| i as u8 + 1),
            [0xff; OPERAND_BYTES],
            std::array::from_fn(|i| if i % 2 == 0 { 0x80 } else { 0x7f }),
            std::array::from_fn(|i| (i as u8).wrapping_mul(37) ^ 0x5a),
        ];
        for (tag, rebuild) in unpack::BY_TAG.iter().enumerate() {
            for raw in &patterns {
                let instr = rebuild(raw);
                let (packed_tag, packed) = instr.pack();
                assert_eq!(packed_tag as usize, tag, "{instr:?}");
                assert_eq!(Instr::unpack(packed_tag, &packed), instr);
            }
        }
    }

    #[test]
    fn packed_fields_keep_their_values() {
        let cases = [
            Instr::I32Add(Bin {
                dst: 70_000,
                lhs: 1,
                rhs: u32::MAX,
            }),
            Instr::BrInc(IncBr {
                slot: 65_535,
                add: -2,
                test: IncTest::LtSImm,
                other: -7,
                target: 5 | BACKWARD,
            }),
            Instr::Const64 {
                dst: 3,
                value: 0x0123_4567_89ab_cdef,
            },
            Instr::CallIndirect {
                ty: 9,
                index: 8,
                base: 7,
                table: 6,
            },
            Instr::I32StoreImmDisp(StoreImmDisp {
                addr: 1,
                value: -300,
                disp: i32::MIN,
                offset: u32::MAX,
            }),
            Instr::Return,
        ];
        for instr in cases {
            let (tag, raw) = instr.pack();
            assert_eq!(Instr::unpack(tag, &raw), instr);
        }
    }
}
