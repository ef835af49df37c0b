//! Parsers for the values of `nanoproc run`'s options: directory grants, environment
//! variables, clocks (RFC 3339 instants and durations), memory sizes, preloads.
//!
//! Each parser returns a one-line message naming what was expected, which clap prints as
//! `error: invalid value '…' for '--flag <…>': <message>`.

use std::time::Duration;

/// `--dir HOST[::GUEST]` / `--dir-ro HOST[::GUEST]`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct DirSpec {
    pub(crate) host: String,
    pub(crate) guest: String,
}

pub(crate) fn parse_dir(text: &str) -> Result<DirSpec, String> {
    let (host, guest) = match text.split_once("::") {
        Some((host, guest)) => (host, guest),
        None => (text, text),
    };
    if host.is_empty() {
        return Err("the host directory is empty (expected HOST[::GUEST])".into());
    }
    if guest.is_empty() {
        return Err("the guest path after `::` is empty (expected HOST[::GUEST])".into());
    }
    Ok(DirSpec {
        host: host.to_string(),
        guest: guest.to_string(),
    })
}

/// `--env NAME=VALUE` sets a variable; `--env NAME` passes the host's value through.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum EnvSpec {
    Set(String, String),
    Inherit(String),
}

pub(crate) fn parse_env(text: &str) -> Result<EnvSpec, String> {
    let spec = match text.split_once('=') {
        Some((name, value)) => EnvSpec::Set(name.to_string(), value.to_string()),
        None => EnvSpec::Inherit(text.to_string()),
    };
    let name = match &spec {
        EnvSpec::Set(name, _) | EnvSpec::Inherit(name) => name,
    };
    if name.is_empty() {
        return Err("the variable name is empty (expected NAME=VALUE or NAME)".into());
    }
    Ok(spec)
}

/// `--preload NAME=PATH`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct PreloadSpec {
    pub(crate) name: String,
    pub(crate) path: String,
}

pub(crate) fn parse_preload(text: &str) -> Result<PreloadSpec, String> {
    match text.split_once('=') {
        Some((name, path)) if !name.is_empty() && !path.is_empty() => Ok(PreloadSpec {
            name: name.to_string(),
            path: path.to_string(),
        }),
        _ => Err("expected NAME=PATH, e.g. bench=examples/bench.wat".into()),
    }
}

/// `--clock fixed=RFC3339[,step=DURATION]`: a virtual clock reading `start` (nanoseconds
/// since the Unix epoch) first and advancing by `step` on every read.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct ClockSpec {
    pub(crate) start: u64,
    pub(crate) step: Duration,
}

pub(crate) fn parse_clock(text: &str) -> Result<ClockSpec, String> {
    let usage = "expected fixed=RFC3339[,step=DURATION], e.g. fixed=2024-01-01T00:00:00Z,step=1ms";
    let mut parts = text.split(',');
    let instant = parts
        .next()
        .and_then(|p| p.strip_prefix("fixed="))
        .ok_or_else(|| usage.to_string())?;
    let start = parse_rfc3339(instant)?;
    let mut step = Duration::ZERO;
    for part in parts {
        match part.strip_prefix("step=") {
            Some(d) => step = parse_duration(d)?,
            None => return Err(format!("unknown clock setting `{part}` ({usage})")),
        }
    }
    Ok(ClockSpec { start, step })
}

/// An RFC 3339 date-time (`2024-05-06T07:08:09.5Z`, `…+02:00`, `…-05:30`; `t`/`z` and a
/// space separator accepted as RFC 3339 allows) as nanoseconds since the Unix epoch.
pub(crate) fn parse_rfc3339(text: &str) -> Result<u64, String> {
    let bad = |why: &str| {
        format!("`{text}` is not an RFC 3339 date-time ({why}; e.g. 2024-01-01T00:00:00Z)")
    };
    let b = text.as_bytes();
    let digits = |range: std::ops::Range<usize>| -> Option<i64> {
        let s = b.get(range)?;
        if s.iter().all(u8::is_ascii_digit) {
            std::str::from_utf8(s).ok()?.parse().ok()
        } else {
            None
        }
    };
    let sep = |i: usize, c: u8| b.get(i) == Some(&c);
    let shape = sep(4, b'-') && sep(7, b'-') && sep(13, b':') && sep(16, b':');
    if !shape || !matches!(b.get(10), Some(b'T' | b't' | b' ')) {
        return Err(bad("expected YYYY-MM-DDTHH:MM:SS"));
    }
    let field = |r: std::ops::Range<usize>| digits(r).ok_or_else(|| bad("expected digits"));
    let (year, month, day) = (field(0..4)?, field(5..7)?, field(8..10)?);
    let (hour, minute, second) = (field(11..13)?, field(14..16)?, field(17..19)?);
    if !(1..=12).contains(&month) || day < 1 || day > days_in_month(year, month) {
        return Err(bad("no such date"));
    }
    // 60 is a leap second; counted as the first second of the next minute.
    if hour > 23 || minute > 59 || second > 60 {
        return Err(bad("no such time of day"));
    }
    let mut i = 19;
    let mut nanos = 0u64;
    if sep(i, b'.') {
        i += 1;
        let start = i;
        while b.get(i).is_some_and(u8::is_ascii_digit) {
            i += 1;
        }
        if i == start {
            return Err(bad("expected digits after `.`"));
        }
        // Digits past nanoseconds are truncated.
        let frac = &text[start..i.min(start + 9)];
        let scale = 10u64.pow(9 - frac.len() as u32);
        nanos = frac.parse::<u64>().map_err(|_| bad("bad fraction"))? * scale;
    }
    let offset_secs = match &b[i.min(b.len())..] {
        [b'Z' | b'z'] => 0,
        [sign @ (b'+' | b'-'), h1, h2, b':', m1, m2]
            if [h1, h2, m1, m2].iter().all(|c| c.is_ascii_digit()) =>
        {
            let h = i64::from((h1 - b'0') * 10 + (h2 - b'0'));
            let m = i64::from((m1 - b'0') * 10 + (m2 - b'0'));
            if h > 23 || m > 59 {
                return Err(bad("bad UTC offset"));
            }
            let offset = h * 3600 + m * 60;
            if *sign == b'+' {
                offset
            } else {
                -offset
            }
        }
        _ => return Err(bad("expected `Z` or a UTC offset like +02:00 at the end")),
    };
    let secs = days_from_civil(year, month, day) * 86_400 + hour * 3600 + minute * 60 + second
        - offset_secs;
    if secs < 0 {
        return Err(bad("before the Unix epoch"));
    }
    (secs as u64)
        .checked_mul(1_000_000_000)
        .and_then(|n| n.checked_add(nanos))
        .ok_or_else(|| bad("too far in the future"))
}

fn is_leap(year: i64) -> bool {
    year % 4 == 0 && (year % 100 != 0 || year % 400 == 0)
}

fn days_in_month(year: i64, month: i64) -> i64 {
    match month {
        2 if is_leap(year) => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

/// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's algorithm).
fn days_from_civil(year: i64, month: i64, day: i64) -> i64 {
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (month + 9) % 12;
    let doy = (153 * mp + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// A duration with a unit: `200ms`, `10us` (or `µs`), `2s`, `1.5s`, `500ns`, `1m`, `1h`.
pub(crate) fn parse_duration(text: &str) -> Result<Duration, String> {
    let bad = || {
        format!("`{text}` is not a duration (expected a number and a unit: ns, us, ms, s, m, h; e.g. 200ms)")
    };
    let split = text
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .ok_or_else(bad)?;
    let (number, unit) = text.split_at(split);
    let unit_nanos: u128 = match unit {
        "ns" => 1,
        "us" | "µs" => 1_000,
        "ms" => 1_000_000,
        "s" => 1_000_000_000,
        "m" | "min" => 60_000_000_000,
        "h" => 3_600_000_000_000,
        _ => return Err(bad()),
    };
    let (int, frac) = number.split_once('.').unwrap_or((number, ""));
    if int.is_empty() && frac.is_empty() || frac.contains('.') {
        return Err(bad());
    }
    let int: u128 = if int.is_empty() {
        0
    } else {
        int.parse().map_err(|_| bad())?
    };
    let mut nanos = int.checked_mul(unit_nanos).ok_or_else(bad)?;
    if !frac.is_empty() {
        let digits = &frac[..frac.len().min(18)];
        let scaled: u128 = digits.parse().map_err(|_| bad())?;
        nanos += scaled * unit_nanos / 10u128.pow(digits.len() as u32);
    }
    let secs = u64::try_from(nanos / 1_000_000_000).map_err(|_| bad())?;
    Ok(Duration::new(secs, (nanos % 1_000_000_000) as u32))
}

/// A size in bytes: `65536`, `64KiB`, `64MiB`, `1GiB` (also `K`, `M`, `G`, `T` for the
/// binary units, `KB`, `MB`, `GB` for the decimal ones, `B` for bytes).
pub(crate) fn parse_size(text: &str) -> Result<u64, String> {
    let bad = || {
        format!("`{text}` is not a size (expected bytes or a number with a unit: KiB, MiB, GiB; e.g. 64MiB)")
    };
    let split = text
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(text.len());
    let (number, unit) = text.split_at(split);
    let number: u64 = number.parse().map_err(|_| bad())?;
    let scale: u64 = match unit.to_ascii_lowercase().as_str() {
        "" | "b" => 1,
        "k" | "kib" => 1 << 10,
        "m" | "mib" => 1 << 20,
        "g" | "gib" => 1 << 30,
        "t" | "tib" => 1 << 40,
        "kb" => 1_000,
        "mb" => 1_000_000,
        "gb" => 1_000_000_000,
        _ => return Err(bad()),
    };
    number.checked_mul(scale).ok_or_else(bad)
}

/// A byte count in the largest binary unit that divides it: `1GiB`, `64MiB`, `1000`.
pub(crate) fn format_size(bytes: u64) -> String {
    for (unit, scale) in [
        ("TiB", 1u64 << 40),
        ("GiB", 1 << 30),
        ("MiB", 1 << 20),
        ("KiB", 1 << 10),
    ] {
        // `scale` is a power of two.
        if bytes >= scale && bytes & (scale - 1) == 0 {
            return format!("{}{unit}", bytes / scale);
        }
    }
    bytes.to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dirs() {
        let d = parse_dir("data").unwrap();
        assert_eq!((d.host.as_str(), d.guest.as_str()), ("data", "data"));
        let d = parse_dir("/tmp/x::/").unwrap();
        assert_eq!((d.host.as_str(), d.guest.as_str()), ("/tmp/x", "/"));
        assert!(parse_dir("").is_err());
        assert!(parse_dir("::/").is_err());
        assert!(parse_dir("x::").is_err());
    }

    #[test]
    fn env_and_preload() {
        assert_eq!(
            parse_env("A=b=c"),
            Ok(EnvSpec::Set("A".into(), "b=c".into()))
        );
        assert_eq!(parse_env("A="), Ok(EnvSpec::Set("A".into(), "".into())));
        assert_eq!(parse_env("HOME"), Ok(EnvSpec::Inherit("HOME".into())));
        assert!(parse_env("=x").is_err());
        let p = parse_preload("bench=b.wat").unwrap();
        assert_eq!((p.name.as_str(), p.path.as_str()), ("bench", "b.wat"));
        assert!(parse_preload("bench").is_err());
        assert!(parse_preload("=b.wat").is_err());
    }

    #[test]
    fn rfc3339() {
        assert_eq!(parse_rfc3339("1970-01-01T00:00:00Z"), Ok(0));
        assert_eq!(parse_rfc3339("1970-01-01t00:00:01z"), Ok(1_000_000_000));
        assert_eq!(
            parse_rfc3339("2000-03-01T00:00:00Z"),
            Ok(951_868_800_000_000_000)
        );
        assert_eq!(
            parse_rfc3339("2024-02-29T12:34:56.789Z"),
            Ok(1_709_210_096_789_000_000)
        );
        // The same instant with offsets.
        assert_eq!(
            parse_rfc3339("2024-02-29T14:34:56.789+02:00"),
            parse_rfc3339("2024-02-29T12:34:56.789Z")
        );
        assert_eq!(
            parse_rfc3339("2024-02-29 07:04:56.789-05:30"),
            parse_rfc3339("2024-02-29T12:34:56.789Z")
        );
        assert_eq!(
            parse_rfc3339("1970-01-01T00:00:00.123456789123Z"),
            Ok(123_456_789)
        );
        for bad in [
            "",
            "2023-02-29T00:00:00Z",
            "2024-13-01T00:00:00Z",
            "2024-01-01T24:00:00Z",
            "2024-01-01T00:00:00",
            "2024-01-01T00:00:00+0200",
            "2024-01-01T00:00:00.Z",
            "1969-12-31T23:59:59Z",
            "1970-01-01T01:00:00+02:00",
            "24-01-01T00:00:00Z",
            "2024-01-01T00:00:00Zjunk",
        ] {
            assert!(parse_rfc3339(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn durations() {
        assert_eq!(parse_duration("1ms"), Ok(Duration::from_millis(1)));
        assert_eq!(parse_duration("10us"), Ok(Duration::from_micros(10)));
        assert_eq!(parse_duration("10µs"), Ok(Duration::from_micros(10)));
        assert_eq!(parse_duration("2s"), Ok(Duration::from_secs(2)));
        assert_eq!(parse_duration("1.5s"), Ok(Duration::from_millis(1500)));
        assert_eq!(parse_duration("0ns"), Ok(Duration::ZERO));
        assert_eq!(parse_duration("2m"), Ok(Duration::from_secs(120)));
        for bad in [
            "",
            "2",
            "s",
            "1.2.3s",
            "2 s",
            "2sec",
            "-1s",
            "99999999999999999999999h",
        ] {
            assert!(parse_duration(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn clocks() {
        assert_eq!(
            parse_clock("fixed=1970-01-01T00:00:01Z,step=1ms"),
            Ok(ClockSpec {
                start: 1_000_000_000,
                step: Duration::from_millis(1)
            })
        );
        assert_eq!(
            parse_clock("fixed=1970-01-01T00:00:00Z").map(|c| c.step),
            Ok(Duration::ZERO)
        );
        assert!(parse_clock("real").is_err());
        assert!(parse_clock("fixed=1970-01-01T00:00:00Z,speed=2").is_err());
    }

    #[test]
    fn sizes() {
        assert_eq!(parse_size("65536"), Ok(65536));
        assert_eq!(parse_size("64MiB"), Ok(64 << 20));
        assert_eq!(parse_size("1GiB"), Ok(1 << 30));
        assert_eq!(parse_size("1gib"), Ok(1 << 30));
        assert_eq!(parse_size("2K"), Ok(2048));
        assert_eq!(parse_size("1MB"), Ok(1_000_000));
        for bad in ["", "MiB", "1.5GiB", "-1", "1 MiB", "1XiB", "99999999999TiB"] {
            assert!(parse_size(bad).is_err(), "{bad}");
        }
        assert_eq!(format_size(1 << 30), "1GiB");
        assert_eq!(format_size(3 << 20), "3MiB");
        assert_eq!(format_size(1000), "1000");
        assert_eq!(format_size(0), "0");
    }
}
