//! JSON values as structured-merge-diff sees them: their order, their equality, and the two
//! Go encodings that reach the wire.
//!
//! Set items (`v:`) and list keys (`k:`) are ordered by value inside a field set, `1` and
//! `1.0` are the same value, and the text of keys, conflict paths and the last-applied
//! annotation is what Go's encoders write. Matching those keeps managedFields and conflict
//! messages byte-compatible with upstream's.

use std::cmp::Ordering;

use serde_json::{Map, Number, Value};

/// A JSON number split the way Go's unstructured decoding splits it.
#[derive(Clone, Copy)]
enum Num {
    Int(i64),
    Float(f64),
}

fn num(n: &Number) -> Num {
    match n.as_i64() {
        Some(i) => Num::Int(i),
        None => Num::Float(n.as_f64().unwrap_or(f64::NAN)),
    }
}

fn float_cmp(a: f64, b: f64) -> Ordering {
    a.partial_cmp(&b).unwrap_or(Ordering::Equal)
}

/// Rank of a value's kind in the total order: numbers, strings, booleans, lists, maps, null.
fn rank(v: &Value) -> u8 {
    match v {
        Value::Number(_) => 0,
        Value::String(_) => 1,
        Value::Bool(_) => 2,
        Value::Array(_) => 3,
        Value::Object(_) => 4,
        Value::Null => 5,
    }
}

/// The total order of values used for set items and list keys (upstream's `value.Compare`):
/// kinds in `rank` order, numbers numerically (an int equals the same float), lists
/// element-wise, maps key by key in lexical order.
pub(crate) fn compare(a: &Value, b: &Value) -> Ordering {
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => match (num(x), num(y)) {
            (Num::Int(x), Num::Int(y)) => x.cmp(&y),
            (Num::Int(x), Num::Float(y)) => float_cmp(x as f64, y),
            (Num::Float(x), Num::Int(y)) => float_cmp(x, y as f64),
            (Num::Float(x), Num::Float(y)) => float_cmp(x, y),
        },
        (Value::String(x), Value::String(y)) => x.cmp(y),
        (Value::Bool(x), Value::Bool(y)) => x.cmp(y),
        (Value::Array(x), Value::Array(y)) => {
            for (l, r) in x.iter().zip(y) {
                let c = compare(l, r);
                if c != Ordering::Equal {
                    return c;
                }
            }
            x.len().cmp(&y.len())
        }
        (Value::Object(x), Value::Object(y)) => compare_maps(x, y),
        (Value::Null, Value::Null) => Ordering::Equal,
        _ => rank(a).cmp(&rank(b)),
    }
}

/// Maps compare along the union of their keys in lexical order; running out of keys first,
/// or lacking a key the other has, sorts first.
fn compare_maps(x: &Map<String, Value>, y: &Map<String, Value>) -> Ordering {
    let mut keys: Vec<&String> = x.keys().chain(y.keys()).collect();
    keys.sort();
    keys.dedup();
    for (i, key) in keys.into_iter().enumerate() {
        let c = if i == x.len() {
            Ordering::Less
        } else if i == y.len() {
            Ordering::Greater
        } else {
            match (x.get(key), y.get(key)) {
                (None, _) => Ordering::Greater,
                (_, None) => Ordering::Less,
                (Some(l), Some(r)) => compare(l, r),
            }
        };
        if c != Ordering::Equal {
            return c;
        }
    }
    Ordering::Equal
}

/// Value equality as upstream judges a field "modified": numbers numerically, lists in
/// order, maps by their entries.
pub(crate) fn equals(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Number(_), Value::Number(_)) => compare(a, b) == Ordering::Equal,
        (Value::Array(x), Value::Array(y)) => {
            x.len() == y.len() && x.iter().zip(y).all(|(l, r)| equals(l, r))
        }
        (Value::Object(x), Value::Object(y)) => {
            x.len() == y.len() && x.iter().all(|(k, v)| y.get(k).is_some_and(|w| equals(v, w)))
        }
        _ => a == b,
    }
}

/// Go's `encoding/json` text of a value: compact, map keys sorted, `<`, `>`, `&`, U+2028
/// and U+2029 escaped. This is how the apiserver writes the last-applied annotation and
/// how keys and set items appear in FieldsV1.
pub(crate) fn go_json(v: &Value) -> String {
    let mut out = String::new();
    write_go_json(v, &mut out);
    out
}

fn write_go_json(v: &Value, out: &mut String) {
    match v {
        Value::Null => out.push_str("null"),
        Value::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        Value::Number(n) => out.push_str(&go_number(n)),
        Value::String(s) => write_go_string(s, out),
        Value::Array(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_go_json(item, out);
            }
            out.push(']');
        }
        Value::Object(map) => {
            let mut keys: Vec<&String> = map.keys().collect();
            keys.sort();
            out.push('{');
            for (i, key) in keys.into_iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_go_string(key, out);
                out.push(':');
                if let Some(item) = map.get(key) {
                    write_go_json(item, out);
                }
            }
            out.push('}');
        }
    }
}

/// A JSON string literal the way Go's encoder escapes it.
pub(crate) fn write_go_string(s: &str, out: &mut String) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\u{8}' => out.push_str("\\b"),
            '\u{c}' => out.push_str("\\f"),
            '<' | '>' | '&' | '\u{2028}' | '\u{2029}' => {
                out.push_str(&format!("\\u{:04x}", u32::from(c)));
            }
            c if u32::from(c) < 0x20 => out.push_str(&format!("\\u{:04x}", u32::from(c))),
            c => out.push(c),
        }
    }
    out.push('"');
}

/// Go's JSON text of a number: integers as is, floats in their shortest form, with an
/// exponent (`1e+21`, `1e-7`) outside `[1e-6, 1e21)`.
fn go_number(n: &Number) -> String {
    match num(n) {
        Num::Int(i) => i.to_string(),
        Num::Float(f) => {
            let abs = f.abs();
            if abs != 0.0 && !(1e-6..1e21).contains(&abs) {
                exponent_form(f, false)
            } else {
                format!("{f}")
            }
        }
    }
}

/// `1e21` → `1e+21`; with `pad`, the exponent has at least two digits (`1e-05`, as `%v`).
fn exponent_form(f: f64, pad: bool) -> String {
    let text = format!("{f:e}");
    let Some((mantissa, exp)) = text.split_once('e') else {
        return text;
    };
    let (sign, digits) = match exp.strip_prefix('-') {
        Some(d) => ('-', d),
        None => ('+', exp),
    };
    if pad && digits.len() < 2 {
        format!("{mantissa}e{sign}0{digits}")
    } else {
        format!("{mantissa}e{sign}{digits}")
    }
}

/// Go's `%q` of a string: double-quoted, printable characters kept, the rest escaped.
pub(crate) fn go_quote(s: &str) -> String {
    let mut out = String::from("\"");
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\u{7}' => out.push_str("\\a"),
            '\u{8}' => out.push_str("\\b"),
            '\u{c}' => out.push_str("\\f"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\u{b}' => out.push_str("\\v"),
            c if u32::from(c) < 0x20 || c == '\u{7f}' => {
                out.push_str(&format!("\\x{:02x}", u32::from(c)));
            }
            c if c.is_control() => out.push_str(&format!("\\u{:04x}", u32::from(c))),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// How a value appears inside a field path (`[name="web"]`, `[port=80]`): upstream's
/// `value.ToString`, strings quoted and numbers as Go's `%v` prints them.
pub(crate) fn display(v: &Value) -> String {
    match v {
        Value::Null => "null".into(),
        Value::Bool(b) => b.to_string(),
        Value::Number(n) => match num(n) {
            Num::Int(i) => i.to_string(),
            Num::Float(f) => {
                let abs = f.abs();
                if abs != 0.0 && !(1e-4..1e21).contains(&abs) {
                    exponent_form(f, true)
                } else {
                    format!("{f}")
                }
            }
        },
        Value::String(s) => go_quote(s),
        Value::Array(items) => {
            let parts: Vec<String> = items.iter().map(display).collect();
            format!("[{}]", parts.join(","))
        }
        Value::Object(map) => map.iter().map(|(k, v)| format!("{k}={}", display(v))).collect(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn order_follows_kinds_then_values() {
        let mut values = vec![
            json!(null),
            json!({"a": 1}),
            json!([1]),
            json!(true),
            json!("b"),
            json!("a"),
            json!(2.5),
            json!(2),
        ];
        values.sort_by(compare);
        assert_eq!(
            values,
            vec![
                json!(2),
                json!(2.5),
                json!("a"),
                json!("b"),
                json!(true),
                json!([1]),
                json!({"a": 1}),
                json!(null)
            ]
        );
        assert_eq!(compare(&json!(1), &json!(1.0)), Ordering::Equal);
        assert_eq!(compare(&json!(9), &json!(10)), Ordering::Less);
    }

    #[test]
    fn equality_is_numeric() {
        assert!(equals(&json!({"a": [1, 2.0]}), &json!({"a": [1.0, 2]})));
        assert!(!equals(&json!({"a": 1}), &json!({"a": 1, "b": 2})));
        assert!(!equals(&json!("1"), &json!(1)));
    }

    #[test]
    fn go_encodings() {
        assert_eq!(
            go_json(&json!({"b": "<x>&", "a": [1, 1.5, 1e21, null]})),
            r#"{"a":[1,1.5,1e+21,null],"b":"\u003cx\u003e\u0026"}"#
        );
        assert_eq!(go_quote("we\"b\n"), r#""we\"b\n""#);
        assert_eq!(display(&json!("web")), "\"web\"");
        assert_eq!(display(&json!(80)), "80");
        assert_eq!(display(&json!(0.00001)), "1e-05");
    }
}
