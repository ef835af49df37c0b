//! Scalar numeric helpers with exact WebAssembly semantics.
//!
//! Floats are passed as Rust `f32`/`f64` values (the executor converts from
//! and to the IEEE bit patterns stored in its `u64` cells with
//! `from_bits`/`to_bits`, which preserves NaN payloads).
//!
//! NaN results: whenever an operation must produce a NaN, the helpers here
//! either propagate an input NaN with its quiet bit set (an "arithmetic NaN"
//! in the spec's terms) or produce the canonical NaN, both of which the spec
//! allows.

/// Why a trapping float-to-integer truncation failed.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub(crate) enum TruncError {
    /// The input was NaN: trap "invalid conversion to integer".
    Nan,
    /// The truncated input is outside the target range: trap "integer overflow".
    Overflow,
}

const F32_QUIET: u32 = 0x0040_0000;
const F64_QUIET: u64 = 0x0008_0000_0000_0000;

/// Returns `x` with the quiet bit set (only meaningful for NaN inputs).
#[inline]
fn f32_quiet(x: f32) -> f32 {
    f32::from_bits(x.to_bits() | F32_QUIET)
}

/// Returns `x` with the quiet bit set (only meaningful for NaN inputs).
#[inline]
fn f64_quiet(x: f64) -> f64 {
    f64::from_bits(x.to_bits() | F64_QUIET)
}

// ---------------------------------------------------------------------------
// min / max
// ---------------------------------------------------------------------------

/// `f32.min`: NaN if either operand is NaN; `-0.0 < +0.0`.
#[inline]
pub(crate) fn f32_min(a: f32, b: f32) -> f32 {
    if a.is_nan() {
        f32_quiet(a)
    } else if b.is_nan() {
        f32_quiet(b)
    } else if a == b {
        // Equal values differ only when they are zeros of opposite sign:
        // the minimum is -0.0, i.e. the sign bits OR-ed.
        f32::from_bits(a.to_bits() | b.to_bits())
    } else if a < b {
        a
    } else {
        b
    }
}

/// `f32.max`: NaN if either operand is NaN; `-0.0 < +0.0`.
#[inline]
pub(crate) fn f32_max(a: f32, b: f32) -> f32 {
    if a.is_nan() {
        f32_quiet(a)
    } else if b.is_nan() {
        f32_quiet(b)
    } else if a == b {
        // The maximum of +0.0 and -0.0 is +0.0: the sign bits AND-ed.
        f32::from_bits(a.to_bits() & b.to_bits())
    } else if a > b {
        a
    } else {
        b
    }
}

/// `f64.min`: NaN if either operand is NaN; `-0.0 < +0.0`.
#[inline]
pub(crate) fn f64_min(a: f64, b: f64) -> f64 {
    if a.is_nan() {
        f64_quiet(a)
    } else if b.is_nan() {
        f64_quiet(b)
    } else if a == b {
        f64::from_bits(a.to_bits() | b.to_bits())
    } else if a < b {
        a
    } else {
        b
    }
}

/// `f64.max`: NaN if either operand is NaN; `-0.0 < +0.0`.
#[inline]
pub(crate) fn f64_max(a: f64, b: f64) -> f64 {
    if a.is_nan() {
        f64_quiet(a)
    } else if b.is_nan() {
        f64_quiet(b)
    } else if a == b {
        f64::from_bits(a.to_bits() & b.to_bits())
    } else if a > b {
        a
    } else {
        b
    }
}

// ---------------------------------------------------------------------------
// rounding
// ---------------------------------------------------------------------------

/// The four ways to round a float to an integer.
#[derive(Copy, Clone, PartialEq, Eq)]
enum Rounding {
    Nearest,
    Trunc,
    Floor,
    Ceil,
}

/// Rounds without calling libm: x86-64's baseline has no `roundss`, so `f32::floor` and
/// its kind are calls, one per lane in SIMD code. A magnitude under 2^`bits` (the
/// mantissa's width) becomes an integer when 2^`bits` is added and taken away again,
/// which the default rounding mode rounds half to even; `trunc`, `floor` and `ceil` then
/// step that by one where it went the wrong way. Every result has its input's sign (a
/// zero included), so the work is on the magnitude and the sign is put back. Larger
/// magnitudes and infinities are integers already; NaNs come back quieted.
macro_rules! round_float {
    ($name:ident, $ty:ty, $bits:expr, $quiet:ident) => {
        #[inline(always)]
        fn $name(x: $ty, mode: Rounding) -> $ty {
            const BIG: $ty = (1u64 << $bits) as $ty;
            let a = x.abs();
            if x.is_nan() {
                return $quiet(x);
            }
            if a >= BIG {
                return x;
            }
            let n = (a + BIG) - BIG;
            // Whether the magnitude rounds up (away from zero) or down.
            let up = match mode {
                Rounding::Nearest => return n.copysign(x),
                Rounding::Trunc => false,
                Rounding::Floor => x.is_sign_negative(),
                Rounding::Ceil => x.is_sign_positive(),
            };
            let m = match (up, n < a, n > a) {
                (true, true, _) => n + 1.0,
                (false, _, true) => n - 1.0,
                _ => n,
            };
            m.copysign(x)
        }
    };
}
round_float!(round_f32, f32, 23, f32_quiet);
round_float!(round_f64, f64, 52, f64_quiet);

/// `f32.ceil` (NaN inputs are returned quieted).
#[inline]
pub(crate) fn f32_ceil(x: f32) -> f32 {
    round_f32(x, Rounding::Ceil)
}

/// `f32.floor` (NaN inputs are returned quieted).
#[inline]
pub(crate) fn f32_floor(x: f32) -> f32 {
    round_f32(x, Rounding::Floor)
}

/// `f32.trunc` (NaN inputs are returned quieted).
#[inline]
pub(crate) fn f32_trunc(x: f32) -> f32 {
    round_f32(x, Rounding::Trunc)
}

/// `f32.nearest`: round half to even, preserving the sign of zero.
#[inline]
pub(crate) fn f32_nearest(x: f32) -> f32 {
    round_f32(x, Rounding::Nearest)
}

/// `f64.ceil` (NaN inputs are returned quieted).
#[inline]
pub(crate) fn f64_ceil(x: f64) -> f64 {
    round_f64(x, Rounding::Ceil)
}

/// `f64.floor` (NaN inputs are returned quieted).
#[inline]
pub(crate) fn f64_floor(x: f64) -> f64 {
    round_f64(x, Rounding::Floor)
}

/// `f64.trunc` (NaN inputs are returned quieted).
#[inline]
pub(crate) fn f64_trunc(x: f64) -> f64 {
    round_f64(x, Rounding::Trunc)
}

/// `f64.nearest`: round half to even, preserving the sign of zero.
#[inline]
pub(crate) fn f64_nearest(x: f64) -> f64 {
    round_f64(x, Rounding::Nearest)
}

// ---------------------------------------------------------------------------
// float <-> float
// ---------------------------------------------------------------------------

/// `f32.demote_f64`: correctly rounded; a NaN input gives a quiet NaN that
/// keeps the sign and the top payload bits (canonical in, canonical out).
#[inline]
pub(crate) fn f32_demote_f64(x: f64) -> f32 {
    if x.is_nan() {
        let bits = x.to_bits();
        let sign = ((bits >> 32) as u32) & 0x8000_0000;
        let payload = ((bits >> 29) as u32) & 0x003f_ffff;
        f32::from_bits(sign | 0x7fc0_0000 | payload)
    } else {
        x as f32
    }
}

/// `f64.promote_f32`: exact; a NaN input gives a quiet NaN that keeps the
/// sign and the payload (canonical in, canonical out).
#[inline]
pub(crate) fn f64_promote_f32(x: f32) -> f64 {
    if x.is_nan() {
        let bits = x.to_bits();
        let sign = ((bits & 0x8000_0000) as u64) << 32;
        let payload = ((bits & 0x003f_ffff) as u64) << 29;
        f64::from_bits(sign | 0x7ff8_0000_0000_0000 | payload)
    } else {
        x as f64
    }
}

// ---------------------------------------------------------------------------
// trapping float -> int truncation
// ---------------------------------------------------------------------------
//
// The truncated value `t` is exact in the source float type, and the bounds
// used below (powers of two) are exactly representable, so the comparisons are
// exact. For unsigned targets `t` may be -0.0 (e.g. from -0.9), which compares
// equal to 0.0 and converts to 0.

const TWO_31: f64 = 2147483648.0;
const TWO_32: f64 = 4294967296.0;
const TWO_63: f64 = 9223372036854775808.0;
const TWO_64: f64 = 18446744073709551616.0;

/// `i32.trunc_f32_s`.
#[inline]
pub(crate) fn i32_trunc_f32_s(x: f32) -> Result<i32, TruncError> {
    if x.is_nan() {
        return Err(TruncError::Nan);
    }
    let t = x.trunc();
    if (-(TWO_31 as f32)..TWO_31 as f32).contains(&t) {
        Ok(t as i32)
    } else {
        Err(TruncError::Overflow)
    }
}

/// `i32.trunc_f32_u` (result is the u32 bit pattern).
#[inline]
pub(crate) fn i32_trunc_f32_u(x: f32) -> Result<u32, TruncError> {
    if x.is_nan() {
        return Err(TruncError::Nan);
    }
    let t = x.trunc();
    if (0.0..TWO_32 as f32).contains(&t) {
        Ok(t as u32)
    } else {
        Err(TruncError::Overflow)
    }
}

/// `i32.trunc_f64_s`.
#[inline]
pub(crate) fn i32_trunc_f64_s(x: f64) -> Result<i32, TruncError> {
    if x.is_nan() {
        return Err(TruncError::Nan);
    }
    let t = x.trunc();
    if (-TWO_31..TWO_31).contains(&t) {
        Ok(t as i32)
    } else {
        Err(TruncError::Overflow)
    }
}

/// `i32.trunc_f64_u` (result is the u32 bit pattern).
#[inline]
pub(crate) fn i32_trunc_f64_u(x: f64) -> Result<u32, TruncError> {
    if x.is_nan() {
        return Err(TruncError::Nan);
    }
    let t = x.trunc();
    if (0.0..TWO_32).contains(&t) {
        Ok(t as u32)
    } else {
        Err(TruncError::Overflow)
    }
}

/// `i64.trunc_f32_s`.
#[inline]
pub(crate) fn i64_trunc_f32_s(x: f32) -> Result<i64, TruncError> {
    if x.is_nan() {
        return Err(TruncError::Nan);
    }
    let t = x.trunc();
    if (-(TWO_63 as f32)..TWO_63 as f32).contains(&t) {
        Ok(t as i64)
    } else {
        Err(TruncError::Overflow)
    }
}

/// `i64.trunc_f32_u` (result is the u64 bit pattern).
#[inline]
pub(crate) fn i64_trunc_f32_u(x: f32) -> Result<u64, TruncError> {
    if x.is_nan() {
        return Err(TruncError::Nan);
    }
    let t = x.trunc();
    if (0.0..TWO_64 as f32).contains(&t) {
        Ok(t as u64)
    } else {
        Err(TruncError::Overflow)
    }
}

/// `i64.trunc_f64_s`.
#[inline]
pub(crate) fn i64_trunc_f64_s(x: f64) -> Result<i64, TruncError> {
    if x.is_nan() {
        return Err(TruncError::Nan);
    }
    let t = x.trunc();
    if (-TWO_63..TWO_63).contains(&t) {
        Ok(t as i64)
    } else {
        Err(TruncError::Overflow)
    }
}

/// `i64.trunc_f64_u` (result is the u64 bit pattern).
#[inline]
pub(crate) fn i64_trunc_f64_u(x: f64) -> Result<u64, TruncError> {
    if x.is_nan() {
        return Err(TruncError::Nan);
    }
    let t = x.trunc();
    if (0.0..TWO_64).contains(&t) {
        Ok(t as u64)
    } else {
        Err(TruncError::Overflow)
    }
}

// ---------------------------------------------------------------------------
// saturating float -> int truncation
// ---------------------------------------------------------------------------
//
// Rust's float-to-int `as` casts truncate toward zero, saturate at the target
// type's bounds and map NaN to 0, which is exactly `trunc_sat`.

/// `i32.trunc_sat_f32_s`.
#[inline]
pub(crate) fn i32_trunc_sat_f32_s(x: f32) -> i32 {
    x as i32
}

/// `i32.trunc_sat_f32_u` (result is the u32 bit pattern).
#[inline]
pub(crate) fn i32_trunc_sat_f32_u(x: f32) -> u32 {
    x as u32
}

/// `i32.trunc_sat_f64_s`.
#[inline]
pub(crate) fn i32_trunc_sat_f64_s(x: f64) -> i32 {
    x as i32
}

/// `i32.trunc_sat_f64_u` (result is the u32 bit pattern).
#[inline]
pub(crate) fn i32_trunc_sat_f64_u(x: f64) -> u32 {
    x as u32
}

/// `i64.trunc_sat_f32_s`.
#[inline]
pub(crate) fn i64_trunc_sat_f32_s(x: f32) -> i64 {
    x as i64
}

/// `i64.trunc_sat_f32_u` (result is the u64 bit pattern).
#[inline]
pub(crate) fn i64_trunc_sat_f32_u(x: f32) -> u64 {
    x as u64
}

/// `i64.trunc_sat_f64_s`.
#[inline]
pub(crate) fn i64_trunc_sat_f64_s(x: f64) -> i64 {
    x as i64
}

/// `i64.trunc_sat_f64_u` (result is the u64 bit pattern).
#[inline]
pub(crate) fn i64_trunc_sat_f64_u(x: f64) -> u64 {
    x as u64
}

/// The reciprocal of a constant divisor `d` (at least 1) for [`div_u32_by`]: `(magic,
/// shift)` with `shift = ceil(log2 d)` and `magic = floor(2^32 (2^shift - d) / d) + 1`
/// (Granlund and Montgomery, "Division by invariant integers using multiplication",
/// 1994, figure 4.1), which fits 32 bits.
pub(crate) fn reciprocal_u32(d: u32) -> (u32, u8) {
    let shift = reciprocal_shift(d);
    // 2^shift - d < d, so the product stays below 2^64.
    let magic = ((1u64 << 32) * ((1u64 << shift) - u64::from(d))) / u64::from(d) + 1;
    (magic as u32, shift)
}

/// The shift of `d`'s [`reciprocal_u32`]: `ceil(log2 d)`.
#[inline(always)]
pub(crate) fn reciprocal_shift(d: u32) -> u8 {
    (32 - d.wrapping_sub(1).leading_zeros()) as u8
}

/// `n / d` for the divisor whose [`reciprocal_u32`] is `(magic, shift)`: a multiplication,
/// an addition and a shift, where a hardware division takes 10 to 40 cycles.
#[inline(always)]
pub(crate) fn div_u32_by(n: u32, magic: u32, shift: u8) -> u32 {
    let high = (u64::from(n) * u64::from(magic)) >> 32;
    // Below 2^33: no overflow in 64 bits.
    ((high + u64::from(n)) >> shift) as u32
}

#[cfg(test)]
mod tests {
    use super::{div_u32_by, reciprocal_u32};

    #[test]
    fn division_by_a_constant_through_its_reciprocal_is_exact() {
        let mut divisors: Vec<u32> = (1..=1030).collect();
        for k in 0..32 {
            let p = 1u32 << k;
            divisors.extend([p.wrapping_sub(1).max(1), p, p.wrapping_add(1).max(1)]);
        }
        divisors.extend([139_968, 1_000_000_007, u32::MAX - 1, u32::MAX, 0x8000_0001]);
        // A fixed xorshift sequence: reproducible, and spread over the whole range.
        let mut x = 0x9e37_79b9u32;
        let mut next = || {
            x ^= x << 13;
            x ^= x >> 17;
            x ^= x << 5;
            x
        };
        for _ in 0..200 {
            divisors.push(next().max(1));
        }
        for &d in &divisors {
            let (magic, shift) = reciprocal_u32(d);
            let mut numerators = vec![0, 1, d - 1, d, d.wrapping_add(1), u32::MAX, u32::MAX - 1];
            numerators.extend((0..300).map(|_| next()));
            numerators.extend((1..5).map(|k| d.wrapping_mul(k)));
            numerators.extend((1..5).map(|k| d.wrapping_mul(k).wrapping_sub(1)));
            for n in numerators {
                assert_eq!(div_u32_by(n, magic, shift), n / d, "{n} / {d}");
            }
        }
    }

    use super::*;

    fn is_neg_zero32(x: f32) -> bool {
        x.to_bits() == 0x8000_0000
    }
    fn is_neg_zero64(x: f64) -> bool {
        x.to_bits() == 0x8000_0000_0000_0000
    }

    #[test]
    fn min_max_zeros() {
        assert!(is_neg_zero32(f32_min(0.0, -0.0)));
        assert!(is_neg_zero32(f32_min(-0.0, 0.0)));
        assert_eq!(f32_max(0.0, -0.0).to_bits(), 0);
        assert_eq!(f32_max(-0.0, 0.0).to_bits(), 0);
        assert!(is_neg_zero64(f64_min(0.0, -0.0)));
        assert!(is_neg_zero64(f64_min(-0.0, 0.0)));
        assert_eq!(f64_max(0.0, -0.0).to_bits(), 0);
        assert_eq!(f64_max(-0.0, 0.0).to_bits(), 0);
        assert!(is_neg_zero32(f32_max(-0.0, -0.0)));
        assert_eq!(f32_min(1.0, 2.0), 1.0);
        assert_eq!(f32_max(1.0, 2.0), 2.0);
        assert_eq!(f64_min(-1.0, f64::NEG_INFINITY), f64::NEG_INFINITY);
        assert_eq!(f64_max(-1.0, f64::INFINITY), f64::INFINITY);
    }

    #[test]
    fn min_max_nan() {
        let snan32 = f32::from_bits(0x7fa0_0000);
        let r = f32_min(1.0, snan32);
        assert!(r.is_nan());
        assert_eq!(r.to_bits() & F32_QUIET, F32_QUIET);
        assert!(f32_max(snan32, 1.0).is_nan());
        assert_eq!(f32_max(f32::NAN, 0.0).to_bits(), f32::NAN.to_bits());
        let snan64 = f64::from_bits(0x7ff4_0000_0000_0000);
        let r = f64_max(snan64, 1.0);
        assert!(r.is_nan());
        assert_eq!(r.to_bits() & F64_QUIET, F64_QUIET);
        assert!(f64_min(0.0, f64::NAN).is_nan());
    }

    #[test]
    fn nearest() {
        assert_eq!(f32_nearest(0.5), 0.0);
        assert_eq!(f32_nearest(1.5), 2.0);
        assert_eq!(f32_nearest(2.5), 2.0);
        assert_eq!(f32_nearest(-2.5), -2.0);
        assert!(is_neg_zero32(f32_nearest(-0.5)));
        assert!(is_neg_zero32(f32_nearest(-0.0)));
        assert_eq!(f32_nearest(8388609.0), 8388609.0);
        assert_eq!(f64_nearest(4.5), 4.0);
        assert_eq!(f64_nearest(-3.5), -4.0);
        assert!(is_neg_zero64(f64_nearest(-0.25)));
        assert_eq!(f64_nearest(4503599627370497.0), 4503599627370497.0);
        assert!(f64_nearest(f64::NAN).is_nan());
        assert!(is_neg_zero32(f32_ceil(-0.5)));
        assert!(is_neg_zero64(f64_trunc(-0.5)));
        assert_eq!(f64_floor(-0.5), -1.0);
        let snan = f32::from_bits(0x7fa0_0000);
        assert_eq!(f32_floor(snan).to_bits(), 0x7fe0_0000);
    }

    /// The libm-free rounding agrees bit for bit with Rust's (libm's) `floor`, `ceil`,
    /// `trunc` and `round_ties_even` on edge values and on random bit patterns of every
    /// exponent, and quiets NaNs keeping their sign and payload.
    #[test]
    fn rounding_agrees_with_libm() {
        let mut seed = 0x853c_49e6_748f_ea9bu64;
        let mut random = move || {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            seed
        };
        let mut f32s: Vec<f32> = vec![
            0.0,
            -0.0,
            0.5,
            -0.5,
            1.5,
            -1.5,
            2.5,
            0.49999997,
            0.50000006,
            1.0,
            -1.0,
            8388607.5,
            -8388607.5,
            8388608.0,
            8388609.0,
            16777215.0,
            4194303.5,
            f32::MIN_POSITIVE,
            -f32::MIN_POSITIVE,
            1e-45,
            -1e-45,
            f32::MAX,
            f32::MIN,
            f32::INFINITY,
            f32::NEG_INFINITY,
            f32::NAN,
            -f32::NAN,
            f32::from_bits(0x7fa0_0001),
            f32::from_bits(0xff80_0001),
        ];
        let mut f64s: Vec<f64> = vec![
            0.0,
            -0.0,
            0.5,
            -0.5,
            1.5,
            -1.5,
            2.5,
            0.49999999999999994,
            1.0,
            -1.0,
            4503599627370495.5,
            -4503599627370495.5,
            4503599627370496.0,
            4503599627370497.0,
            2251799813685247.5,
            f64::MIN_POSITIVE,
            5e-324,
            -5e-324,
            f64::MAX,
            f64::MIN,
            f64::INFINITY,
            f64::NEG_INFINITY,
            f64::NAN,
            -f64::NAN,
            f64::from_bits(0x7ff0_0000_0000_0001),
            f64::from_bits(0xfff4_0000_0000_0000),
        ];
        for _ in 0..200_000 {
            let r = random();
            f32s.push(f32::from_bits(r as u32));
            f64s.push(f64::from_bits(r));
            // Magnitudes near the rounding range, where the cases are.
            let small = (r >> 40) as f32 / 1024.0 - 8192.0;
            f32s.push(small);
            f64s.push(f64::from(small) + (r & 0xff) as f64 / 4096.0);
        }
        // Each rounding against libm's, bit for bit (a NaN comes back quieted).
        macro_rules! check {
            ($values:ident, $quiet:ident, $floor:ident, $ceil:ident, $trunc:ident, $nearest:ident) => {
                for x in $values {
                    let cases = [
                        ($floor(x), x.floor()),
                        ($ceil(x), x.ceil()),
                        ($trunc(x), x.trunc()),
                        ($nearest(x), x.round_ties_even()),
                    ];
                    for (k, (got, want)) in cases.into_iter().enumerate() {
                        let want = if x.is_nan() {
                            x.to_bits() | $quiet
                        } else {
                            want.to_bits()
                        };
                        assert_eq!(
                            got.to_bits(),
                            want,
                            "rounding {k} of {x:e} ({:#x})",
                            x.to_bits()
                        );
                    }
                }
            };
        }
        check!(f32s, F32_QUIET, f32_floor, f32_ceil, f32_trunc, f32_nearest);
        check!(f64s, F64_QUIET, f64_floor, f64_ceil, f64_trunc, f64_nearest);
    }

    #[test]
    fn demote_promote() {
        assert_eq!(f32_demote_f64(f64::NAN).to_bits(), 0x7fc0_0000);
        assert_eq!(f32_demote_f64(-f64::NAN).to_bits(), 0xffc0_0000);
        assert_eq!(f64_promote_f32(f32::NAN).to_bits(), 0x7ff8_0000_0000_0000);
        assert_eq!(
            f64_promote_f32(f32::from_bits(0xffa0_0000)).to_bits(),
            0xfffc_0000_0000_0000
        );
        assert_eq!(f32_demote_f64(1e300), f32::INFINITY);
        assert_eq!(f32_demote_f64(1.5), 1.5);
        assert!(is_neg_zero32(f32_demote_f64(-1e-300)));
        assert_eq!(f64_promote_f32(0.1f32), 0.1f32 as f64);
    }

    #[test]
    fn trunc_i32_s() {
        assert_eq!(i32_trunc_f32_s(f32::NAN), Err(TruncError::Nan));
        assert_eq!(i32_trunc_f32_s(-2147483648.0), Ok(i32::MIN));
        assert_eq!(i32_trunc_f32_s(2147483648.0), Err(TruncError::Overflow));
        assert_eq!(i32_trunc_f32_s(2147483520.0), Ok(2147483520));
        assert_eq!(i32_trunc_f32_s(-2147483904.0), Err(TruncError::Overflow));
        assert_eq!(i32_trunc_f32_s(-1.9), Ok(-1));
        assert_eq!(i32_trunc_f32_s(-0.0), Ok(0));
        assert_eq!(i32_trunc_f64_s(-2147483648.9), Ok(i32::MIN));
        assert_eq!(i32_trunc_f64_s(-2147483649.0), Err(TruncError::Overflow));
        assert_eq!(i32_trunc_f64_s(2147483647.9), Ok(i32::MAX));
        assert_eq!(i32_trunc_f64_s(2147483648.0), Err(TruncError::Overflow));
        assert_eq!(i32_trunc_f64_s(f64::INFINITY), Err(TruncError::Overflow));
        assert_eq!(i32_trunc_f64_s(-f64::NAN), Err(TruncError::Nan));
    }

    #[test]
    fn trunc_i32_u() {
        assert_eq!(i32_trunc_f32_u(-0.9), Ok(0));
        assert_eq!(i32_trunc_f32_u(-1.0), Err(TruncError::Overflow));
        assert_eq!(i32_trunc_f32_u(4294967040.0), Ok(4294967040));
        assert_eq!(i32_trunc_f32_u(4294967296.0), Err(TruncError::Overflow));
        assert_eq!(i32_trunc_f32_u(f32::NAN), Err(TruncError::Nan));
        assert_eq!(i32_trunc_f64_u(-0.9), Ok(0));
        assert_eq!(i32_trunc_f64_u(-0.0), Ok(0));
        assert_eq!(i32_trunc_f64_u(4294967295.9), Ok(u32::MAX));
        assert_eq!(i32_trunc_f64_u(4294967296.0), Err(TruncError::Overflow));
        assert_eq!(i32_trunc_f64_u(-1.0), Err(TruncError::Overflow));
        assert_eq!(
            i32_trunc_f64_u(f64::NEG_INFINITY),
            Err(TruncError::Overflow)
        );
    }

    #[test]
    fn trunc_i64() {
        assert_eq!(i64_trunc_f32_s(-9223372036854775808.0), Ok(i64::MIN));
        assert_eq!(
            i64_trunc_f32_s(9223372036854775808.0),
            Err(TruncError::Overflow)
        );
        assert_eq!(
            i64_trunc_f32_s(9223371487098961920.0),
            Ok(9223371487098961920)
        );
        assert_eq!(
            i64_trunc_f32_s(-9223373136366403584.0),
            Err(TruncError::Overflow)
        );
        assert_eq!(i64_trunc_f32_s(f32::NAN), Err(TruncError::Nan));
        assert_eq!(i64_trunc_f64_s(-9223372036854775808.0), Ok(i64::MIN));
        assert_eq!(
            i64_trunc_f64_s(9223372036854775808.0),
            Err(TruncError::Overflow)
        );
        assert_eq!(
            i64_trunc_f64_s(9223372036854774784.0),
            Ok(9223372036854774784)
        );
        assert_eq!(
            i64_trunc_f64_s(-9223372036854777856.0),
            Err(TruncError::Overflow)
        );
        assert_eq!(i64_trunc_f32_u(-0.9), Ok(0));
        assert_eq!(
            i64_trunc_f32_u(18446742974197923840.0),
            Ok(18446742974197923840)
        );
        assert_eq!(
            i64_trunc_f32_u(18446744073709551616.0),
            Err(TruncError::Overflow)
        );
        assert_eq!(i64_trunc_f64_u(-0.9), Ok(0));
        assert_eq!(i64_trunc_f64_u(-1.0), Err(TruncError::Overflow));
        assert_eq!(
            i64_trunc_f64_u(18446744073709549568.0),
            Ok(18446744073709549568)
        );
        assert_eq!(
            i64_trunc_f64_u(18446744073709551616.0),
            Err(TruncError::Overflow)
        );
        assert_eq!(i64_trunc_f64_u(f64::NAN), Err(TruncError::Nan));
    }

    #[test]
    fn trunc_sat() {
        assert_eq!(i32_trunc_sat_f32_s(f32::NAN), 0);
        assert_eq!(i32_trunc_sat_f32_s(3e9), i32::MAX);
        assert_eq!(i32_trunc_sat_f32_s(-3e9), i32::MIN);
        assert_eq!(i32_trunc_sat_f32_u(-1.0), 0);
        assert_eq!(i32_trunc_sat_f32_u(5e9), u32::MAX);
        assert_eq!(i32_trunc_sat_f64_s(-2147483648.9), i32::MIN);
        assert_eq!(i32_trunc_sat_f64_u(f64::INFINITY), u32::MAX);
        assert_eq!(i64_trunc_sat_f32_s(f32::NEG_INFINITY), i64::MIN);
        assert_eq!(i64_trunc_sat_f32_u(f32::NAN), 0);
        assert_eq!(i64_trunc_sat_f64_s(1e19), i64::MAX);
        assert_eq!(i64_trunc_sat_f64_u(-0.9), 0);
        assert_eq!(i64_trunc_sat_f64_u(1e20), u64::MAX);
    }

    #[test]
    fn int_to_float_rounding() {
        // i64 -> f32 must be correctly rounded (no double rounding).
        assert_eq!(9007199791611905i64 as f32, f32::from_bits(0x5a00_0001));
        assert_eq!(u64::MAX as f32, 18446744073709551616.0);
        assert_eq!(0x0020_0000_2000_0001u64 as f32, f32::from_bits(0x5a00_0001));
    }
}
