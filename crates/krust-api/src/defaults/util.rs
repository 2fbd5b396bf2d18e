//! Small helpers for editing `serde_json` objects in place: upstream's defaulters test
//! Go zero values (`""`, `0`, `nil`), and these helpers name those tests once.

use serde_json::{Map, Value};

use crate::quantity::Quantity;

/// A JSON object.
pub(crate) type Obj = Map<String, Value>;

/// True when the field is absent or `null` (a nil pointer in Go).
pub(crate) fn is_unset(m: &Obj, key: &str) -> bool {
    m.get(key).is_none_or(Value::is_null)
}

/// True when the field is absent, `null` or the empty string (Go's `== ""`).
pub(crate) fn is_blank(m: &Obj, key: &str) -> bool {
    match m.get(key) {
        None | Some(Value::Null) => true,
        Some(Value::String(s)) => s.is_empty(),
        _ => false,
    }
}

/// True when the field is absent, `null` or zero (Go's `== 0` on an int field).
pub(crate) fn is_zero(m: &Obj, key: &str) -> bool {
    match m.get(key) {
        None | Some(Value::Null) => true,
        Some(Value::Number(n)) => n.as_f64() == Some(0.0),
        _ => false,
    }
}

/// Sets `key` when it is absent or `null`.
pub(crate) fn set_default(m: &mut Obj, key: &str, v: impl Into<Value>) {
    if is_unset(m, key) {
        m.insert(key.to_string(), v.into());
    }
}

/// Sets a string field when it is absent, `null` or empty.
pub(crate) fn set_default_str(m: &mut Obj, key: &str, v: &str) {
    if is_blank(m, key) {
        m.insert(key.to_string(), Value::from(v));
    }
}

/// Sets an integer field when it is absent, `null` or zero.
pub(crate) fn set_default_nonzero(m: &mut Obj, key: &str, v: i64) {
    if is_zero(m, key) {
        m.insert(key.to_string(), Value::from(v));
    }
}

/// The child object at `key`, if it is one.
pub(crate) fn child<'a>(m: &'a mut Obj, key: &str) -> Option<&'a mut Obj> {
    m.get_mut(key).and_then(Value::as_object_mut)
}

/// The child object at `key`, created empty when absent or `null`.
pub(crate) fn child_or_insert<'a>(m: &'a mut Obj, key: &str) -> Option<&'a mut Obj> {
    if is_unset(m, key) {
        m.insert(key.to_string(), Value::Object(Obj::new()));
    }
    child(m, key)
}

/// The object elements of the array at `key`.
pub(crate) fn items<'a>(m: &'a mut Obj, key: &str) -> impl Iterator<Item = &'a mut Obj> {
    m.get_mut(key)
        .and_then(Value::as_array_mut)
        .into_iter()
        .flatten()
        .filter_map(Value::as_object_mut)
}

/// The string at `key`, or `""`.
pub(crate) fn str_of<'a>(m: &'a Obj, key: &str) -> &'a str {
    m.get(key).and_then(Value::as_str).unwrap_or("")
}

/// Rewrites a quantity in its canonical spelling; unparsable values are left for
/// validation to report.
pub(crate) fn canonical_quantity(v: &mut Value, milli: bool) {
    if let Ok(q) = Quantity::from_json(v) {
        let q = if milli { q.round_up_to(-3) } else { q };
        *v = Value::String(q.canonical());
    }
}

/// Upstream's `SetDefaults_ResourceList`: every quantity rounded up to milli precision
/// and stored canonically.
pub(crate) fn resource_list(m: &mut Obj, key: &str) {
    if let Some(list) = child(m, key) {
        for v in list.values_mut() {
            canonical_quantity(v, true);
        }
    }
}
