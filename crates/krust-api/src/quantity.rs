//! Resource quantities (`100m`, `1.5Gi`, `1e3`), parsed, compared and printed the way
//! upstream's `resource.Quantity` does.
//!
//! Validation needs to compare requests with limits and reject negative values, defaulting
//! needs to sum container requests for the QoS class, and both need the canonical spelling
//! (`0.5` is stored as `500m`, `1.5Gi` as `1536Mi`) so stored objects read like upstream's.
//!
//! A quantity is kept exactly as `mantissa × 10^exponent` with an `i128` mantissa, which
//! covers every value a real manifest uses (binary suffixes up to `Ei` included).

use std::cmp::Ordering;
use std::fmt;

/// The error upstream reports when the text does not have the shape of a quantity.
pub const FORMAT_ERROR: &str =
    "quantities must match the regular expression '^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$'";
/// The error upstream reports when the number part cannot be read.
pub const NUMERIC_ERROR: &str = "unable to parse numeric part of quantity";
/// The error upstream reports for an unknown suffix.
pub const SUFFIX_ERROR: &str = "unable to parse quantity's suffix";

/// How a quantity prefers to be printed, chosen by the suffix it was written with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// Powers of ten with SI suffixes (`m`, `k`, `M`, ...).
    DecimalSi,
    /// Powers of 1024 (`Ki`, `Mi`, ...).
    BinarySi,
    /// Scientific notation (`1e3`).
    DecimalExponent,
}

/// An exact resource amount.
#[derive(Debug, Clone, Copy)]
pub struct Quantity {
    mantissa: i128,
    exponent: i32,
    format: Format,
}

impl PartialEq for Quantity {
    fn eq(&self, other: &Self) -> bool {
        self.cmp(other) == Ordering::Equal
    }
}
impl Eq for Quantity {}

impl PartialOrd for Quantity {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Quantity {
    fn cmp(&self, other: &Self) -> Ordering {
        let e = self.exponent.min(other.exponent);
        match (
            scale_up(self.mantissa, self.exponent - e),
            scale_up(other.mantissa, other.exponent - e),
        ) {
            (Some(a), Some(b)) => a.cmp(&b),
            _ => self.as_f64().total_cmp(&other.as_f64()),
        }
    }
}

fn pow10(n: u32) -> Option<i128> {
    10i128.checked_pow(n)
}

fn scale_up(m: i128, by: i32) -> Option<i128> {
    let by = u32::try_from(by).ok()?;
    m.checked_mul(pow10(by)?)
}

/// Divides rounding away from zero.
fn div_away(m: i128, d: i128) -> i128 {
    let q = m / d;
    if m % d == 0 {
        q
    } else if m > 0 {
        q + 1
    } else {
        q - 1
    }
}

impl Quantity {
    /// Zero, printed as `0`.
    pub const ZERO: Quantity = Quantity {
        mantissa: 0,
        exponent: 0,
        format: Format::DecimalSi,
    };

    /// A whole number in decimal format.
    pub fn from_int(v: i64) -> Self {
        Quantity {
            mantissa: i128::from(v),
            exponent: 0,
            format: Format::DecimalSi,
        }
    }

    /// Parses the text form, e.g. `250m`, `1Gi`, `+1.5e3`.
    pub fn parse(s: &str) -> Result<Self, &'static str> {
        if s.is_empty() {
            return Err(FORMAT_ERROR);
        }
        let b = s.as_bytes();
        let mut pos = 0;
        let mut negative = false;
        if let Some(&c) = b.first()
            && (c == b'+' || c == b'-')
        {
            negative = c == b'-';
            pos = 1;
        }
        let int_start = pos;
        while pos < b.len() && b[pos].is_ascii_digit() {
            pos += 1;
        }
        let int_part = &s[int_start..pos];
        let mut frac_part = "";
        if pos < b.len() && b[pos] == b'.' {
            pos += 1;
            let fs = pos;
            while pos < b.len() && b[pos].is_ascii_digit() {
                pos += 1;
            }
            frac_part = &s[fs..pos];
        }
        let suffix = &s[pos..];
        // The suffix must have the shape [eEinumkKMGTP]*[-+]?[0-9]*.
        let sb = suffix.as_bytes();
        let mut i = 0;
        while i < sb.len() && b"eEinumkKMGTP".contains(&sb[i]) {
            i += 1;
        }
        if i < sb.len() && (sb[i] == b'-' || sb[i] == b'+') {
            i += 1;
        }
        while i < sb.len() && sb[i].is_ascii_digit() {
            i += 1;
        }
        if i != sb.len() {
            return Err(FORMAT_ERROR);
        }
        if int_part.is_empty() && frac_part.is_empty() {
            return Err(NUMERIC_ERROR);
        }
        let digits = format!("{int_part}{frac_part}");
        let digits = digits.trim_start_matches('0');
        if digits.len() > 36 {
            return Err(NUMERIC_ERROR);
        }
        let mut mantissa: i128 = if digits.is_empty() {
            0
        } else {
            digits.parse().map_err(|_| NUMERIC_ERROR)?
        };
        let frac_len = i32::try_from(frac_part.len()).map_err(|_| NUMERIC_ERROR)?;
        let mut exponent = -frac_len;
        let (format, ten_exp, two_pow) = parse_suffix(suffix)?;
        exponent = exponent.checked_add(ten_exp).ok_or(SUFFIX_ERROR)?;
        if two_pow > 0 {
            mantissa = mantissa.checked_mul(1i128 << two_pow).ok_or(NUMERIC_ERROR)?;
        }
        if negative {
            mantissa = -mantissa;
        }
        let mut q = Quantity {
            mantissa,
            exponent,
            format,
        };
        q.normalize_exponent();
        q = q.round_up_to(-9);
        if q.format == Format::BinarySi && q.mantissa != 0 && q.abs_cmp_int(1) == Ordering::Less {
            q.format = Format::DecimalSi;
        }
        if q.mantissa == 0 {
            return Ok(Quantity {
                format: q.format,
                ..Quantity::ZERO
            });
        }
        Ok(q)
    }

    /// Parses a quantity given as JSON: a string, or a bare number (YAML `cpu: 1`).
    pub fn from_json(v: &serde_json::Value) -> Result<Self, &'static str> {
        match v {
            serde_json::Value::String(s) => Self::parse(s),
            serde_json::Value::Number(n) => Self::parse(&n.to_string()),
            _ => Err(FORMAT_ERROR),
        }
    }

    /// Keeps the exponent small when the mantissa has trailing zeros, so that huge
    /// positive exponents (`1e30`) do not overflow comparisons needlessly.
    fn normalize_exponent(&mut self) {
        if self.mantissa == 0 {
            self.exponent = 0;
            return;
        }
        while self.exponent < 0 && self.mantissa % 10 == 0 {
            self.mantissa /= 10;
            self.exponent += 1;
        }
        while self.exponent > 0 {
            match self.mantissa.checked_mul(10) {
                Some(m) if self.exponent <= 18 => {
                    self.mantissa = m;
                    self.exponent -= 1;
                }
                _ => break,
            }
        }
    }

    /// Rounds away from zero so that no digit below `10^scale` remains (upstream's
    /// `RoundUp`; `-3` keeps milli precision, `-9` nano).
    pub fn round_up_to(self, scale: i32) -> Self {
        if self.exponent >= scale {
            return self;
        }
        let drop = u32::try_from(scale - self.exponent).unwrap_or(u32::MAX);
        let mantissa = match pow10(drop) {
            Some(d) => div_away(self.mantissa, d),
            None => self.mantissa.signum(),
        };
        Quantity {
            mantissa,
            exponent: scale,
            format: self.format,
        }
    }

    /// The printing format.
    pub fn format(&self) -> Format {
        self.format
    }

    /// Whether the amount is zero.
    pub fn is_zero(&self) -> bool {
        self.mantissa == 0
    }

    /// Whether the amount is below zero.
    pub fn is_negative(&self) -> bool {
        self.mantissa < 0
    }

    /// The amount as a float, for messages and overflow fallbacks.
    pub fn as_f64(&self) -> f64 {
        self.mantissa as f64 * 10f64.powi(self.exponent)
    }

    /// The amount in thousandths, rounded up (upstream's `MilliValue`); saturates.
    pub fn milli_value(&self) -> i128 {
        let q = self.round_up_to(-3);
        match scale_up(q.mantissa, q.exponent + 3) {
            Some(v) => v,
            None if q.mantissa < 0 => i128::MIN,
            None => i128::MAX,
        }
    }

    /// Whether the amount is a whole number.
    pub fn is_integer(&self) -> bool {
        self.milli_value() % 1000 == 0 && self.round_up_to(-3) == *self
    }

    /// The sum of two quantities, in the format of `self`; `None` on overflow.
    pub fn checked_add(&self, other: &Quantity) -> Option<Quantity> {
        let e = self.exponent.min(other.exponent);
        let a = scale_up(self.mantissa, self.exponent - e)?;
        let b = scale_up(other.mantissa, other.exponent - e)?;
        let mut q = Quantity {
            mantissa: a.checked_add(b)?,
            exponent: e,
            format: self.format,
        };
        q.normalize_exponent();
        Some(q)
    }

    fn abs_cmp_int(&self, v: i128) -> Ordering {
        let abs = Quantity {
            mantissa: self.mantissa.abs(),
            ..*self
        };
        abs.cmp(&Quantity {
            mantissa: v,
            exponent: 0,
            format: Format::DecimalSi,
        })
    }

    /// The value as an exact integer, when it is one and fits.
    fn as_integer(&self) -> Option<i128> {
        if self.exponent >= 0 {
            scale_up(self.mantissa, self.exponent)
        } else {
            let d = pow10(u32::try_from(-self.exponent).ok()?)?;
            (self.mantissa % d == 0).then(|| self.mantissa / d)
        }
    }

    /// The canonical text upstream stores and prints (`500m`, `1536Mi`, `1k`).
    pub fn canonical(&self) -> String {
        if self.mantissa == 0 {
            return "0".to_string();
        }
        let mut format = self.format;
        let mut binary_value = None;
        if format == Format::BinarySi {
            if self.abs_cmp_int(1024) == Ordering::Less {
                format = Format::DecimalSi;
            } else {
                match self.as_integer() {
                    Some(v) => binary_value = Some(v),
                    None => format = Format::DecimalSi,
                }
            }
        }
        if let Some(mut v) = binary_value {
            let mut power = 0;
            while power < 6 && v % 1024 == 0 {
                v /= 1024;
                power += 1;
            }
            let suffix = ["", "Ki", "Mi", "Gi", "Ti", "Pi", "Ei"][power];
            return format!("{v}{suffix}");
        }
        let mut m = self.mantissa;
        let mut e = self.exponent;
        while m % 10 == 0 {
            m /= 10;
            e += 1;
        }
        match e.rem_euclid(3) {
            1 => {
                if let Some(x) = m.checked_mul(10) {
                    m = x;
                    e -= 1;
                }
            }
            2 => {
                if let Some(x) = m.checked_mul(100) {
                    m = x;
                    e -= 2;
                }
            }
            _ => {}
        }
        if format == Format::DecimalExponent {
            return if e == 0 { m.to_string() } else { format!("{m}e{e}") };
        }
        let suffix = match e {
            -9 => "n",
            -6 => "u",
            -3 => "m",
            0 => "",
            3 => "k",
            6 => "M",
            9 => "G",
            12 => "T",
            15 => "P",
            18 => "E",
            _ => return format!("{m}e{e}"),
        };
        format!("{m}{suffix}")
    }
}

impl fmt::Display for Quantity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.canonical())
    }
}

/// Reads a suffix: (format, power of ten, power of two).
fn parse_suffix(suffix: &str) -> Result<(Format, i32, u32), &'static str> {
    let dec = |e| Ok((Format::DecimalSi, e, 0));
    let bin = |p| Ok((Format::BinarySi, 0, p));
    match suffix {
        "" => dec(0),
        "n" => dec(-9),
        "u" => dec(-6),
        "m" => dec(-3),
        "k" => dec(3),
        "M" => dec(6),
        "G" => dec(9),
        "T" => dec(12),
        "P" => dec(15),
        "E" => dec(18),
        "Ki" => bin(10),
        "Mi" => bin(20),
        "Gi" => bin(30),
        "Ti" => bin(40),
        "Pi" => bin(50),
        "Ei" => bin(60),
        _ => {
            let rest = suffix
                .strip_prefix('e')
                .or_else(|| suffix.strip_prefix('E'))
                .ok_or(SUFFIX_ERROR)?;
            let e: i32 = rest.parse().map_err(|_| SUFFIX_ERROR)?;
            if !(-1000..=1000).contains(&e) {
                return Err(SUFFIX_ERROR);
            }
            Ok((Format::DecimalExponent, e, 0))
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn c(s: &str) -> String {
        Quantity::parse(s).unwrap().canonical()
    }

    #[test]
    fn canonical_forms() {
        assert_eq!(c("100m"), "100m");
        assert_eq!(c("0.5"), "500m");
        assert_eq!(c("1.5"), "1500m");
        assert_eq!(c("1000"), "1k");
        assert_eq!(c("1500"), "1500");
        assert_eq!(c("1Gi"), "1Gi");
        assert_eq!(c("1.5Gi"), "1536Mi");
        assert_eq!(c("1024Mi"), "1Gi");
        assert_eq!(c("512Ki"), "512Ki");
        assert_eq!(c("0.5Ki"), "512");
        assert_eq!(c("1e3"), "1e3");
        assert_eq!(c("12e2"), "1200");
        assert_eq!(c("1E3"), "1e3");
        assert_eq!(c("0"), "0");
        assert_eq!(c("0Mi"), "0");
        assert_eq!(c("128974848"), "128974848");
        assert_eq!(c("129e6"), "129e6");
        assert_eq!(c("123Mi"), "123Mi");
        assert_eq!(c("1M"), "1M");
        assert_eq!(c("-100m"), "-100m");
        assert_eq!(c("+2"), "2");
        assert_eq!(c(".5"), "500m");
        assert_eq!(c("5."), "5");
        assert_eq!(c("0.0000000001"), "1n");
        assert_eq!(c("1E"), "1E");
    }

    #[test]
    fn rejects_malformed() {
        assert_eq!(Quantity::parse("").unwrap_err(), FORMAT_ERROR);
        assert_eq!(Quantity::parse("1K").unwrap_err(), SUFFIX_ERROR);
        assert_eq!(Quantity::parse("abc").unwrap_err(), FORMAT_ERROR);
        assert_eq!(Quantity::parse("1 Gi").unwrap_err(), FORMAT_ERROR);
        assert_eq!(Quantity::parse("1iM").unwrap_err(), SUFFIX_ERROR);
        assert_eq!(Quantity::parse("Mi").unwrap_err(), NUMERIC_ERROR);
        assert_eq!(Quantity::parse("1e").unwrap_err(), SUFFIX_ERROR);
    }

    #[test]
    fn compares_and_adds() {
        let p = |s| Quantity::parse(s).unwrap();
        assert!(p("500m") < p("1"));
        assert_eq!(p("1Gi"), p("1024Mi"));
        assert_eq!(p("1k"), p("1000"));
        assert!(p("1G") < p("1Gi"));
        assert_eq!(p("250m").checked_add(&p("250m")).unwrap().canonical(), "500m");
        assert_eq!(p("1Gi").checked_add(&p("1Gi")).unwrap().canonical(), "2Gi");
        assert_eq!(p("0.0001").round_up_to(-3).canonical(), "1m");
        assert_eq!(p("2").milli_value(), 2000);
        assert!(p("3").is_integer());
        assert!(!p("1500m").is_integer());
        assert_eq!(
            Quantity::from_json(&serde_json::json!(1)).unwrap().canonical(),
            "1"
        );
        assert_eq!(
            Quantity::from_json(&serde_json::json!(0.5)).unwrap().canonical(),
            "500m"
        );
    }
}
