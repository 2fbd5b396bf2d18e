//! Small helpers shared by the CRD modules: depth limits, Go-style rendering of numbers and
//! quoted strings (upstream's messages are built with Go's `fmt`), JSON number kinds, and a
//! large stack for the CEL parser and interpreter.

use serde_json::Value;

use crate::field_error::{FieldError, FieldErrorKind};

/// How deep schemas and objects are followed. JSON bodies cannot nest deeper than 128
/// levels anyway (the decoder's limit); this keeps every walk bounded whatever the input.
pub(crate) const MAX_DEPTH: usize = 128;

/// Stack given to CEL compilation and evaluation. The CEL parser and interpreter recurse
/// once per nesting level with large frames (about 100 KiB per level in debug builds), so
/// they run on a stack of their own that is only touched as deep as a rule needs.
const CEL_STACK: usize = 256 << 20;
/// Below this much free stack, a new one is allocated; nested calls reuse the first.
const CEL_RED_ZONE: usize = 160 << 20;

/// Runs `f` on a large stack (see [`CEL_STACK`]).
pub(crate) fn with_big_stack<R>(f: impl FnOnce() -> R) -> R {
    stacker::maybe_grow(CEL_RED_ZONE, CEL_STACK, f)
}

/// Renders a float as Go's `%v` does: the shortest representation, in exponent form when the
/// exponent is below -4 or at least 6 (e.g. `1e+06`, `1.5`, `100000`).
pub(crate) fn go_float(f: f64) -> String {
    if f.is_nan() {
        return "NaN".into();
    }
    if f.is_infinite() {
        return if f > 0.0 { "+Inf".into() } else { "-Inf".into() };
    }
    if f == 0.0 {
        return if f.is_sign_negative() {
            "-0".into()
        } else {
            "0".into()
        };
    }
    // Rust's `{:e}` gives the shortest round-tripping digits, e.g. `1.2345e5`.
    let sci = format!("{f:e}");
    let Some((mantissa, exp)) = sci.split_once('e') else {
        return sci;
    };
    let exp: i32 = exp.parse().unwrap_or(0);
    if !(-4..6).contains(&exp) {
        let sign = if exp < 0 { '-' } else { '+' };
        return format!("{mantissa}e{sign}{:02}", exp.abs());
    }
    let neg = mantissa.starts_with('-');
    let digits: String = mantissa.chars().filter(char::is_ascii_digit).collect();
    let point = exp + 1; // digits before the decimal point
    let mut out = String::new();
    if neg {
        out.push('-');
    }
    if point <= 0 {
        out.push_str("0.");
        for _ in 0..(-point) {
            out.push('0');
        }
        out.push_str(&digits);
    } else {
        let p = usize::try_from(point).unwrap_or(0);
        if digits.len() <= p {
            out.push_str(&digits);
            for _ in digits.len()..p {
                out.push('0');
            }
        } else {
            out.push_str(&digits[..p]);
            out.push('.');
            out.push_str(&digits[p..]);
        }
    }
    out
}

/// Go's `%q` for a string (close enough: Rust's debug quoting escapes the same characters
/// for everything a field path or pattern contains).
pub(crate) fn go_quote(s: &str) -> String {
    format!("{s:?}")
}

/// A JSON number as upstream's decoder sees it: integral literals are `int64`, the rest
/// `float64`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) enum Num {
    Int(i64),
    Float(f64),
}

impl Num {
    pub(crate) fn of(v: &Value) -> Option<Num> {
        let n = v.as_number()?;
        if let Some(i) = n.as_i64() {
            Some(Num::Int(i))
        } else if let Some(u) = n.as_u64() {
            // Beyond int64 upstream falls back to float64.
            Some(Num::Float(u as f64))
        } else {
            n.as_f64().map(Num::Float)
        }
    }

    pub(crate) fn as_f64(self) -> f64 {
        match self {
            Num::Int(i) => i as f64,
            Num::Float(f) => f,
        }
    }
}

/// True for a float without a fractional part that fits a JSON integer (Go's
/// `swag.IsFloat64AJSONInteger`).
pub(crate) fn is_json_integer(f: f64) -> bool {
    if f.is_nan() || f.is_infinite() {
        return false;
    }
    let limit = 9_007_199_254_740_992.0; // 2^53
    f.fract() == 0.0 && f.abs() <= limit
}

/// A whole-number keyword such as `maxLength`, tolerating `5.0`.
pub(crate) fn int_keyword(v: Option<&Value>) -> Option<i64> {
    let v = v?;
    v.as_i64()
        .or_else(|| v.as_f64().filter(|f| is_json_integer(*f)).map(|f| f as i64))
}

/// An error of kind `TypeInvalid` (upstream's `field.TypeInvalid`), which `FieldError` has
/// no constructor for.
pub(crate) fn type_invalid(field: impl Into<String>, value: Value, detail: impl Into<String>) -> FieldError {
    FieldError {
        kind: FieldErrorKind::TypeInvalid,
        field: field.into(),
        value: Some(value),
        detail: detail.into(),
    }
}

/// Upstream prints a nil `*field.Path` as `<nil>`; several CRD errors carry no path.
pub(crate) const NIL_PATH: &str = "<nil>";

/// Appends a child to a dotted path that may be empty.
pub(crate) fn join(path: &str, child: &str) -> String {
    if path.is_empty() {
        child.to_string()
    } else {
        format!("{path}.{child}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn floats_print_like_go() {
        assert_eq!(go_float(1.0), "1");
        assert_eq!(go_float(1.5), "1.5");
        assert_eq!(go_float(100000.0), "100000");
        assert_eq!(go_float(1_000_000.0), "1e+06");
        assert_eq!(go_float(1_234_567.0), "1.234567e+06");
        assert_eq!(go_float(0.0001), "0.0001");
        assert_eq!(go_float(0.00001), "1e-05");
        assert_eq!(go_float(-2.25), "-2.25");
        assert_eq!(go_float(0.1), "0.1");
    }
}
