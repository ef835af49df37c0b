//! Command-line text to wasm values and back: `--invoke` arguments are parsed by the
//! parameter's type, results printed in the spec's text form.

use anyhow::{anyhow, bail, Context, Result};
use nanoproc_engine::{FuncType, Val, ValType};
use std::ffi::OsString;

pub(crate) fn parse_args(name: &str, ty: &FuncType, args: &[OsString]) -> Result<Vec<Val>> {
    if args.len() != ty.params().len() {
        let types: Vec<String> = ty.params().iter().map(ToString::to_string).collect();
        bail!(
            "`{name}` takes {} argument(s) ({}), got {}",
            ty.params().len(),
            if types.is_empty() {
                "none".to_string()
            } else {
                types.join(" ")
            },
            args.len()
        );
    }
    args.iter()
        .zip(ty.params())
        .enumerate()
        .map(|(i, (arg, &t))| {
            let text = arg
                .to_str()
                .with_context(|| format!("argument {} of `{name}` is not UTF-8", i + 1))?;
            parse_val(text, t).with_context(|| format!("argument {} of `{name}`", i + 1))
        })
        .collect()
}

/// Parses one command-line argument as a value of type `ty`.
fn parse_val(text: &str, ty: ValType) -> Result<Val> {
    let bad = || anyhow!("`{text}` is not a valid {ty}");
    Ok(match ty {
        ValType::I32 => Val::I32(parse_int(text, 32).ok_or_else(bad)? as u32 as i32),
        ValType::I64 => Val::I64(parse_int(text, 64).ok_or_else(bad)? as u64 as i64),
        ValType::F32 => Val::F32(parse_f32(text).ok_or_else(bad)?),
        ValType::F64 => Val::F64(parse_f64(text).ok_or_else(bad)?),
        ValType::V128 => Val::V128(parse_int(text, 128).ok_or_else(bad)? as u128),
        ValType::FuncRef | ValType::ExternRef => {
            if text != "null" {
                bail!("{ty} arguments can only be `null`, got `{text}`");
            }
            Val::default_for(ty)
        }
    })
}

/// Parses a decimal or `0x` hexadecimal integer, optionally negative, that fits in `bits`
/// bits as a signed or an unsigned number; the result is the two's complement pattern.
fn parse_int(text: &str, bits: u32) -> Option<i128> {
    let (negative, digits) = match text.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, text.strip_prefix('+').unwrap_or(text)),
    };
    let digits = digits.replace('_', "");
    let magnitude = match digits
        .strip_prefix("0x")
        .or_else(|| digits.strip_prefix("0X"))
    {
        Some(hex) if !hex.is_empty() && !hex.starts_with('+') => u128::from_str_radix(hex, 16),
        Some(_) => return None,
        None if !digits.is_empty() && !digits.starts_with('+') => digits.parse::<u128>(),
        None => return None,
    }
    .ok()?;
    if bits == 128 {
        // No room for a sign check in i128: accept the full unsigned range, or a negative
        // number down to i128::MIN.
        return if negative {
            (magnitude <= 1 << 127).then(|| magnitude.wrapping_neg() as i128)
        } else {
            Some(magnitude as i128)
        };
    }
    let unsigned_max = (1u128 << bits) - 1;
    let signed_min = 1u128 << (bits - 1);
    if negative {
        (magnitude <= signed_min).then(|| -(magnitude as i128))
    } else {
        (magnitude <= unsigned_max).then_some(magnitude as i128)
    }
}

/// Splits off a sign and recognises `nan` / `nan:0xPAYLOAD`; returns (negative, payload)
/// with `None` payload for the canonical NaN.
fn parse_nan(text: &str) -> Option<(bool, Option<u64>)> {
    let (negative, rest) = match text.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, text.strip_prefix('+').unwrap_or(text)),
    };
    if rest.eq_ignore_ascii_case("nan") {
        return Some((negative, None));
    }
    let payload = rest.strip_prefix("nan:0x")?;
    Some((negative, Some(u64::from_str_radix(payload, 16).ok()?)))
}

fn parse_f32(text: &str) -> Option<u32> {
    if let Some((negative, payload)) = parse_nan(text) {
        let payload = payload.unwrap_or(0x40_0000);
        if payload == 0 || payload > 0x7f_ffff {
            return None;
        }
        return Some(((negative as u32) << 31) | 0x7f80_0000 | payload as u32);
    }
    text.parse::<f32>().ok().map(f32::to_bits)
}

fn parse_f64(text: &str) -> Option<u64> {
    if let Some((negative, payload)) = parse_nan(text) {
        let payload = payload.unwrap_or(0x8_0000_0000_0000);
        if payload == 0 || payload > 0xf_ffff_ffff_ffff {
            return None;
        }
        return Some(((negative as u64) << 63) | 0x7ff0_0000_0000_0000 | payload);
    }
    text.parse::<f64>().ok().map(f64::to_bits)
}

/// A value in the spec's text form: integers signed decimal, floats shortest round-trip
/// (`nan`, `nan:0x…` for other payloads, `inf`), v128 as four i32 lanes.
pub(crate) fn format_val(value: &Val) -> String {
    match *value {
        Val::I32(v) => v.to_string(),
        Val::I64(v) => v.to_string(),
        Val::F32(bits) => {
            let v = f32::from_bits(bits);
            let sign = if bits >> 31 != 0 { "-" } else { "" };
            if v.is_nan() {
                format_nan(sign, u64::from(bits & 0x7f_ffff), 0x40_0000)
            } else if v.is_infinite() {
                format!("{sign}inf")
            } else {
                format_float(v)
            }
        }
        Val::F64(bits) => {
            let v = f64::from_bits(bits);
            let sign = if bits >> 63 != 0 { "-" } else { "" };
            if v.is_nan() {
                format_nan(sign, bits & 0xf_ffff_ffff_ffff, 0x8_0000_0000_0000)
            } else if v.is_infinite() {
                format!("{sign}inf")
            } else {
                format_float(v)
            }
        }
        Val::V128(bits) => {
            let lanes: Vec<String> = (0..4)
                .map(|i| ((bits >> (32 * i)) as u32 as i32).to_string())
                .collect();
            format!("i32x4 {}", lanes.join(" "))
        }
        Val::FuncRef(None) | Val::ExternRef(None) => "null".to_string(),
        Val::FuncRef(Some(_)) => "ref.func".to_string(),
        Val::ExternRef(Some(_)) => "ref.extern".to_string(),
    }
}

fn format_nan(sign: &str, payload: u64, canonical: u64) -> String {
    if payload == canonical {
        format!("{sign}nan")
    } else {
        format!("{sign}nan:0x{payload:x}")
    }
}

/// Shortest round-trip text; exponent notation only where plain digits would be huge.
fn format_float<F>(v: F) -> String
where
    F: std::fmt::Display + std::fmt::LowerExp + Into<f64> + Copy,
{
    let abs = v.into().abs();
    if abs != 0.0 && !(1e-6..1e21).contains(&abs) {
        format!("{v:e}")
    } else {
        format!("{v}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn integers() {
        assert_eq!(parse_int("20", 32), Some(20));
        assert_eq!(parse_int("-5", 32), Some(-5));
        assert_eq!(parse_int("0x10", 32), Some(16));
        assert_eq!(parse_int("-0x80000000", 32), Some(-(1 << 31)));
        assert_eq!(parse_int("4294967295", 32), Some(u32::MAX as i128));
        assert_eq!(parse_int("4294967296", 32), None);
        assert_eq!(parse_int("-2147483649", 32), None);
        assert_eq!(parse_int("abc", 32), None);
        assert_eq!(parse_int("", 32), None);
        assert_eq!(parse_int("-", 32), None);
        assert_eq!(parse_int("0x", 32), None);
        assert_eq!(parse_int("--1", 32), None);
        assert_eq!(parse_int("-+1", 32), None);
        assert_eq!(
            parse_int("18446744073709551615", 64),
            Some(u64::MAX as i128)
        );
        assert_eq!(parse_int("-1", 128), Some(-1));
    }

    #[test]
    fn floats_round_trip() {
        for (text, ty) in [
            ("1", ValType::F32),
            ("-0", ValType::F32),
            ("0.1", ValType::F32),
            ("inf", ValType::F64),
            ("-inf", ValType::F32),
            ("nan", ValType::F64),
            ("-nan", ValType::F32),
            ("nan:0x1", ValType::F32),
            ("nan:0x4", ValType::F64),
            ("1e300", ValType::F64),
            ("1.5e-7", ValType::F64),
            ("123456.5", ValType::F64),
        ] {
            let v = parse_val(text, ty).unwrap();
            assert_eq!(format_val(&v), text);
        }
        assert!(parse_val("nan:0x0", ValType::F32).is_err());
        assert!(parse_val("x", ValType::F64).is_err());
    }
}
