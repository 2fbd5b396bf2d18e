//! Reading fields of `serde_json` objects with Go zero-value semantics, and the small checks
//! every kind uses (non-negative integers, immutable fields, enums).

use serde_json::{Map, Value};

use super::names;
use crate::field_error::{FieldError, FieldPath};
use crate::quantity::Quantity;

/// Collected errors.
pub(crate) type Errs = Vec<FieldError>;

/// A field, if present and not `null`.
pub(crate) fn get<'a>(v: &'a Value, key: &str) -> Option<&'a Value> {
    v.get(key).filter(|x| !x.is_null())
}

/// A string field, `""` when absent.
pub(crate) fn s<'a>(v: &'a Value, key: &str) -> &'a str {
    v.get(key).and_then(Value::as_str).unwrap_or("")
}

/// A string field when present (even empty).
pub(crate) fn opt_s<'a>(v: &'a Value, key: &str) -> Option<&'a str> {
    v.get(key).and_then(Value::as_str)
}

/// An integer field.
pub(crate) fn int(v: &Value, key: &str) -> Option<i64> {
    v.get(key).and_then(Value::as_i64)
}

/// A boolean field, false when absent.
pub(crate) fn flag(v: &Value, key: &str) -> bool {
    v.get(key).and_then(Value::as_bool).unwrap_or(false)
}

/// An array field, empty when absent.
pub(crate) fn arr<'a>(v: &'a Value, key: &str) -> &'a [Value] {
    v.get(key)
        .and_then(Value::as_array)
        .map(Vec::as_slice)
        .unwrap_or(&[])
}

/// An object field.
pub(crate) fn obj<'a>(v: &'a Value, key: &str) -> Option<&'a Map<String, Value>> {
    v.get(key).and_then(Value::as_object)
}

/// The entries of a map field, sorted by key so error order is stable.
pub(crate) fn entries<'a>(v: &'a Value, key: &str) -> Vec<(&'a String, &'a Value)> {
    let mut e: Vec<_> = obj(v, key).into_iter().flatten().collect();
    e.sort_by(|a, b| a.0.cmp(b.0));
    e
}

/// The string values of a string map, sorted by key.
pub(crate) fn str_entries<'a>(v: &'a Value, key: &str) -> Vec<(&'a str, &'a str)> {
    entries(v, key)
        .into_iter()
        .map(|(k, v)| (k.as_str(), v.as_str().unwrap_or("")))
        .collect()
}

/// The string elements of an array field.
pub(crate) fn strs<'a>(v: &'a Value, key: &str) -> Vec<&'a str> {
    arr(v, key).iter().filter_map(Value::as_str).collect()
}

/// `must be greater than or equal to 0`.
pub(crate) const NEGATIVE: &str = "must be greater than or equal to 0";
/// `field is immutable`.
pub(crate) const IMMUTABLE: &str = "field is immutable";

/// Upstream's `ValidateNonnegativeField` on an optional integer.
pub(crate) fn nonneg(errs: &mut Errs, v: &Value, key: &str, path: &FieldPath) {
    if let Some(n) = int(v, key)
        && n < 0
    {
        errs.push(FieldError::invalid(path.child(key), n, NEGATIVE));
    }
}

/// Upstream's `ValidateImmutableField`: the new value is shown.
pub(crate) fn immutable(errs: &mut Errs, new: Option<&Value>, old: Option<&Value>, path: FieldPath) {
    let norm = |v: Option<&Value>| v.filter(|x| !x.is_null()).cloned();
    if norm(new) != norm(old) {
        errs.push(FieldError::invalid(
            path,
            new.cloned().unwrap_or(Value::Null),
            IMMUTABLE,
        ));
    }
}

/// An optional string enum (checked only when present).
pub(crate) fn enum_optional(errs: &mut Errs, v: &Value, key: &str, path: &FieldPath, allowed: &[&str]) {
    if let Some(x) = opt_s(v, key)
        && !allowed.contains(&x)
    {
        errs.push(FieldError::not_supported(path.child(key), x, allowed));
    }
}

/// Appends one `Invalid` per message.
pub(crate) fn each_invalid(errs: &mut Errs, path: FieldPath, value: &str, msgs: Vec<String>) {
    for m in msgs {
        errs.push(FieldError::invalid(path.clone(), value, m));
    }
}

/// A name of another object that must be a DNS subdomain when set.
pub(crate) fn subdomain_if_set(errs: &mut Errs, v: &Value, key: &str, path: &FieldPath) {
    let x = s(v, key);
    if !x.is_empty() {
        each_invalid(errs, path.child(key), x, names::is_dns1123_subdomain(x));
    }
}

/// A DNS label field when set.
pub(crate) fn label_if_set(errs: &mut Errs, v: &Value, key: &str, path: &FieldPath) {
    let x = s(v, key);
    if !x.is_empty() {
        each_invalid(errs, path.child(key), x, names::is_dns1123_label(x));
    }
}

/// Parses a quantity, reporting a malformed one as upstream's decoder would.
pub(crate) fn quantity(errs: &mut Errs, v: &Value, path: FieldPath) -> Option<Quantity> {
    match Quantity::from_json(v) {
        Ok(q) => Some(q),
        Err(msg) => {
            errs.push(FieldError::invalid(path, v.clone(), msg));
            None
        }
    }
}

/// An int-or-string holding an integer or a percentage, as the apps group validates
/// `maxSurge`, `maxUnavailable` and PDB bounds.
pub(crate) fn positive_int_or_percent(errs: &mut Errs, v: &Value, path: FieldPath) {
    match v {
        Value::String(p) => each_invalid(errs, path, p, names::is_valid_percent(p)),
        Value::Number(n) => {
            if n.as_i64().is_some_and(|n| n < 0) {
                errs.push(FieldError::invalid(path, v.clone(), NEGATIVE));
            }
        }
        _ => errs.push(FieldError::invalid(
            path,
            v.clone(),
            "must be an integer or percentage (e.g '5%')",
        )),
    }
}

/// The integer or percentage number of an int-or-string (`25%` → 25).
pub(crate) fn int_or_percent_value(v: &Value) -> Option<i64> {
    match v {
        Value::Number(n) => n.as_i64(),
        Value::String(p) => p.strip_suffix('%').and_then(|n| n.parse().ok()),
        _ => None,
    }
}

/// Percentages above 100 are rejected.
pub(crate) fn not_more_than_100_percent(errs: &mut Errs, v: &Value, path: FieldPath) {
    if let Value::String(p) = v
        && p.ends_with('%')
        && int_or_percent_value(v).is_some_and(|n| n > 100)
    {
        errs.push(FieldError::invalid(
            path,
            v.clone(),
            "must not be greater than 100%",
        ));
    }
}

/// A short description of how two JSON values differ, appended to "may not change"
/// messages the way upstream appends its object diff.
pub(crate) fn diff(old: &Value, new: &Value, path: &str, out: &mut Vec<String>) {
    if old == new || out.len() >= 20 {
        return;
    }
    match (old, new) {
        (Value::Object(a), Value::Object(b)) => {
            let mut keys: Vec<&String> = a.keys().chain(b.keys()).collect();
            keys.sort();
            keys.dedup();
            for k in keys {
                let p = if path.is_empty() {
                    k.clone()
                } else {
                    format!("{path}.{k}")
                };
                diff(
                    a.get(k).unwrap_or(&Value::Null),
                    b.get(k).unwrap_or(&Value::Null),
                    &p,
                    out,
                );
            }
        }
        (Value::Array(a), Value::Array(b)) if a.len() == b.len() => {
            for (i, (x, y)) in a.iter().zip(b).enumerate() {
                diff(x, y, &format!("{path}[{i}]"), out);
            }
        }
        _ => {
            out.push(format!("- {path}: {old}"));
            out.push(format!("+ {path}: {new}"));
        }
    }
}

/// `diff` rendered as lines.
pub(crate) fn diff_text(old: &Value, new: &Value, root: &str) -> String {
    let mut out = Vec::new();
    diff(old, new, root, &mut out);
    out.join("\n")
}
