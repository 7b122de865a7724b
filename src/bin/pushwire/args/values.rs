//! The grammars of option values: integers, byte counts with binary suffixes, seconds.
//! Each parser returns `None` for a value it does not accept (the caller names the
//! option); `fmt_bytes` and `fmt_secs` write defaults the way they are read.

use std::time::Duration;

/// Longest accepted duration: one year. Far enough for any timeout, and small enough that
/// `Instant + duration` cannot overflow anywhere in the server.
const MAX_SECS: u64 = 365 * 24 * 60 * 60;

/// A plain decimal integer (no sign, no suffix).
pub(super) fn parse_int<T: std::str::FromStr>(s: &str) -> Option<T> {
    if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    s.parse().ok()
}

/// An integer with an optional binary suffix: K/KiB, M/MiB, G/GiB, case-insensitive.
pub(super) fn parse_bytes(s: &str) -> Option<u64> {
    let end = s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len());
    let (digits, suffix) = s.split_at(end);
    let n: u64 = parse_int(digits)?;
    let multiplier: u64 = match suffix.to_ascii_lowercase().as_str() {
        "" => 1,
        "k" | "kib" => 1 << 10,
        "m" | "mib" => 1 << 20,
        "g" | "gib" => 1 << 30,
        _ => return None,
    };
    n.checked_mul(multiplier)
}

/// Seconds as an integer or a decimal (`30`, `0.5`, `.25`, `2.`), above zero and at most
/// [`MAX_SECS`]. Digits beyond nanoseconds are ignored.
pub(super) fn parse_secs(s: &str) -> Option<Duration> {
    let (int, frac) = s.split_once('.').unwrap_or((s, ""));
    let all_digits = |t: &str| t.bytes().all(|b| b.is_ascii_digit());
    if (int.is_empty() && frac.is_empty()) || !all_digits(int) || !all_digits(frac) {
        return None;
    }
    let secs: u64 = if int.is_empty() { 0 } else { int.parse().ok()? };
    let mut nanos: u32 = 0;
    for (i, b) in frac.bytes().take(9).enumerate() {
        nanos += u32::from(b - b'0') * 10u32.pow(8 - i as u32);
    }
    let d = Duration::new(secs, nanos);
    (!d.is_zero() && d <= Duration::from_secs(MAX_SECS)).then_some(d)
}

/// `16 MiB`, `64 KiB`, `1000 bytes`.
pub(super) fn fmt_bytes(n: u64) -> String {
    for (unit, shift) in [("GiB", 30), ("MiB", 20), ("KiB", 10)] {
        if n >= 1 << shift && n.is_multiple_of(1 << shift) {
            return format!("{} {unit}", n >> shift);
        }
    }
    format!("{n} bytes")
}

/// `30`, `0.5`.
pub(super) fn fmt_secs(d: Duration) -> String {
    if d.subsec_nanos() == 0 {
        d.as_secs().to_string()
    } else {
        format!("{}", d.as_secs_f64())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn byte_sizes() {
        let cases: &[(&str, u64)] = &[
            ("0", 0),
            ("65536", 65536),
            ("1k", 1024),
            ("1K", 1024),
            ("2KiB", 2048),
            ("2kib", 2048),
            ("3m", 3 << 20),
            ("3MiB", 3 << 20),
            ("3MIB", 3 << 20),
            ("1g", 1 << 30),
            ("1GiB", 1 << 30),
        ];
        for &(s, n) in cases {
            assert_eq!(parse_bytes(s), Some(n), "{s}");
        }
        for s in [
            "",
            "k",
            "-1",
            "+1",
            "1.5M",
            "1KB",
            "1 K",
            "1T",
            "1kibx",
            "0x10",
            "18446744073709551616",
            "17179869184G",
        ] {
            assert_eq!(parse_bytes(s), None, "{s:?}");
        }
    }

    #[test]
    fn seconds() {
        assert_eq!(parse_secs("30"), Some(Duration::from_secs(30)));
        assert_eq!(parse_secs("0.5"), Some(Duration::from_millis(500)));
        assert_eq!(parse_secs(".25"), Some(Duration::from_millis(250)));
        assert_eq!(parse_secs("2."), Some(Duration::from_secs(2)));
        assert_eq!(parse_secs("0.000000001"), Some(Duration::from_nanos(1)));
        assert_eq!(parse_secs("31536000"), Some(Duration::from_secs(MAX_SECS)));
        for s in [
            "",
            ".",
            "0",
            "0.0",
            "0.0000000001",
            "-1",
            "1e3",
            "inf",
            "NaN",
            "1s",
            "1.2.3",
            " 1",
            "31536001",
            "99999999999999999999",
        ] {
            assert_eq!(parse_secs(s), None, "{s:?}");
        }
    }

    #[test]
    fn formatting_for_help() {
        assert_eq!(fmt_bytes(64 << 20), "64 MiB");
        assert_eq!(fmt_bytes(1 << 30), "1 GiB");
        assert_eq!(fmt_bytes(1536), "1536 bytes");
        assert_eq!(fmt_bytes(3 << 10), "3 KiB");
        assert_eq!(fmt_secs(Duration::from_secs(5)), "5");
        assert_eq!(fmt_secs(Duration::from_millis(500)), "0.5");
    }
}
