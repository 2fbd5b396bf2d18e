//! Go-compatible text forms of times and durations.
//!
//! Kubernetes JSON writes `metav1.Time` as RFC 3339 in UTC with whole seconds, `MicroTime`
//! with exactly six fractional digits, and `metav1.Duration` with Go's `time.Duration.String`
//! (`1h0m0s`, `1.5s`, `300ms`). The protobuf side carries plain numbers, so both directions
//! are needed here.

use jiff::Timestamp;
use jiff::tz::Offset;

use crate::error::{ProtoError, Result};

const NANOS_PER_SEC: i128 = 1_000_000_000;

/// Formats seconds + nanoseconds since the Unix epoch; `micro` selects MicroTime's format.
pub(crate) fn format_time(seconds: i64, nanos: i32, micro: bool) -> Result<String> {
    let total = i128::from(seconds) * NANOS_PER_SEC + i128::from(nanos);
    let ts = Timestamp::from_nanosecond(total)
        .map_err(|e| ProtoError::Invalid(format!("time {seconds}s {nanos}ns out of range: {e}")))?;
    let dt = Offset::UTC.to_datetime(ts);
    if dt.year() < 0 {
        return Err(ProtoError::Invalid(format!("time {seconds}s is before year 0")));
    }
    let mut out = format!(
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}",
        dt.year(),
        dt.month(),
        dt.day(),
        dt.hour(),
        dt.minute(),
        dt.second()
    );
    if micro {
        out.push_str(&format!(".{:06}", dt.subsec_nanosecond() / 1000));
    }
    out.push('Z');
    Ok(out)
}

/// Parses an RFC 3339 time into (seconds, nanoseconds) since the Unix epoch.
pub(crate) fn parse_time(text: &str) -> Result<(i64, i32)> {
    let ts: Timestamp = text
        .parse()
        .map_err(|e| ProtoError::Invalid(format!("time {text:?} is not RFC 3339: {e}")))?;
    Ok((ts.as_second(), ts.subsec_nanosecond()))
}

/// Formats nanoseconds like Go's `time.Duration.String`.
pub(crate) fn format_duration(nanos: i64) -> String {
    if nanos == 0 {
        return "0s".to_owned();
    }
    let sign = if nanos < 0 { "-" } else { "" };
    let u = nanos.unsigned_abs();
    if u < 1_000_000_000 {
        let (scale, unit) = match u {
            0..1_000 => (1, "ns"),
            1_000..1_000_000 => (1_000, "µs"),
            _ => (1_000_000, "ms"),
        };
        return format!("{sign}{}{}{unit}", u / scale, fraction(u % scale, scale));
    }
    let seconds = u / 1_000_000_000;
    let frac = fraction(u % 1_000_000_000, 1_000_000_000);
    let (minutes, hours) = (seconds / 60, seconds / 3600);
    let secs = format!("{}{frac}s", seconds % 60);
    if hours > 0 {
        format!("{sign}{hours}h{}m{secs}", minutes % 60)
    } else if minutes > 0 {
        format!("{sign}{minutes}m{secs}")
    } else {
        format!("{sign}{secs}")
    }
}

/// `.5` for 500 of 1000; empty when zero; trailing zeros trimmed.
fn fraction(value: u64, scale: u64) -> String {
    if value == 0 {
        return String::new();
    }
    let width = scale.ilog10() as usize;
    let digits = format!("{value:0width$}");
    format!(".{}", digits.trim_end_matches('0'))
}

/// Parses a Go duration string (`1h30m`, `-1.5s`, `300ms`, `0`) into nanoseconds.
pub(crate) fn parse_duration(text: &str) -> Result<i64> {
    let invalid = || ProtoError::Invalid(format!("invalid duration {text:?}"));
    let (negative, mut rest) = match text.strip_prefix('-') {
        Some(r) => (true, r),
        None => (false, text.strip_prefix('+').unwrap_or(text)),
    };
    if rest == "0" {
        return Ok(0);
    }
    if rest.is_empty() {
        return Err(invalid());
    }
    let mut total: u128 = 0;
    while !rest.is_empty() {
        let (int_digits, after_int) = split_digits(rest);
        let (frac_digits, after_frac) = match after_int.strip_prefix('.') {
            Some(r) => split_digits(r),
            None => ("", after_int),
        };
        if int_digits.is_empty() && frac_digits.is_empty() {
            return Err(invalid());
        }
        let unit_len = after_frac
            .find(|c: char| c.is_ascii_digit() || c == '.')
            .unwrap_or(after_frac.len());
        let (unit, after_unit) = after_frac.split_at(unit_len);
        let scale: u128 = match unit {
            "ns" => 1,
            "us" | "µs" | "μs" => 1_000,
            "ms" => 1_000_000,
            "s" => 1_000_000_000,
            "m" => 60_000_000_000,
            "h" => 3_600_000_000_000,
            _ => return Err(invalid()),
        };
        let whole = parse_bounded(int_digits).ok_or_else(invalid)?;
        // Fractions beyond 18 digits cannot change a nanosecond count.
        let frac_digits = frac_digits.get(..18).unwrap_or(frac_digits);
        let frac = parse_bounded(frac_digits).ok_or_else(invalid)?;
        let frac_scale = 10u128.pow(frac_digits.len() as u32);
        total = whole
            .checked_mul(scale)
            .and_then(|w| w.checked_add(frac * scale / frac_scale))
            .and_then(|v| total.checked_add(v))
            .filter(|&v| v <= 1u128 << 63)
            .ok_or_else(invalid)?;
        rest = after_unit;
    }
    let signed = if negative { -(total as i128) } else { total as i128 };
    i64::try_from(signed).map_err(|_| invalid())
}

fn split_digits(s: &str) -> (&str, &str) {
    let n = s.bytes().take_while(u8::is_ascii_digit).count();
    s.split_at(n)
}

/// Parses decimal digits, refusing values that could not fit a duration anyway.
fn parse_bounded(digits: &str) -> Option<u128> {
    if digits.is_empty() {
        return Some(0);
    }
    let v: u128 = digits.get(..digits.len().min(30))?.parse().ok()?;
    (digits.len() <= 30).then_some(v)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn times() {
        assert_eq!(
            format_time(1_704_164_645, 0, false).unwrap(),
            "2024-01-02T03:04:05Z"
        );
        assert_eq!(
            format_time(1_704_164_645, 999_999_999, false).unwrap(),
            "2024-01-02T03:04:05Z"
        );
        assert_eq!(
            format_time(1_704_164_645, 123_456_789, true).unwrap(),
            "2024-01-02T03:04:05.123456Z"
        );
        assert_eq!(format_time(0, 0, true).unwrap(), "1970-01-01T00:00:00.000000Z");
        assert!(format_time(i64::MAX, 0, false).is_err());
        assert_eq!(parse_time("2024-01-02T03:04:05Z").unwrap(), (1_704_164_645, 0));
        assert_eq!(
            parse_time("2024-01-02T04:04:05.5+01:00").unwrap(),
            (1_704_164_645, 500_000_000)
        );
        assert!(parse_time("yesterday").is_err());
    }

    #[test]
    fn durations_format_like_go() {
        let cases = [
            (0, "0s"),
            (1, "1ns"),
            (1_100, "1.1µs"),
            (2_200_000, "2.2ms"),
            (1_500_000_000, "1.5s"),
            (60_000_000_000, "1m0s"),
            (90_000_000_000, "1m30s"),
            (3_600_000_000_000, "1h0m0s"),
            (-5_400_500_000_000, "-1h30m0.5s"),
            (i64::MAX, "2562047h47m16.854775807s"),
            (i64::MIN, "-2562047h47m16.854775808s"),
        ];
        for (nanos, text) in cases {
            assert_eq!(format_duration(nanos), text);
            assert_eq!(parse_duration(text).unwrap(), nanos, "{text}");
        }
    }

    #[test]
    fn durations_parse() {
        assert_eq!(parse_duration("1h30m").unwrap(), 5_400_000_000_000);
        assert_eq!(parse_duration("+300ms").unwrap(), 300_000_000);
        assert_eq!(parse_duration("1.5h").unwrap(), 5_400_000_000_000);
        assert_eq!(parse_duration("10us").unwrap(), 10_000);
        assert_eq!(parse_duration(".5s").unwrap(), 500_000_000);
        for bad in [
            "",
            "-",
            "1",
            "1x",
            "h",
            ".s",
            "9999999999999999999999h",
            "2562048h",
        ] {
            assert!(parse_duration(bad).is_err(), "{bad}");
        }
    }
}
