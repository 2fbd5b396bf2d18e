//! `x-kubernetes-list-type` invariants (upstream's `ValidateListSetsAndMaps`): items of a
//! `set` are unique, items of a `map` are objects with unique key tuples. Duplicates are
//! reported at the later item, once per repeated value.

use std::collections::HashMap;

use serde_json::{Map, Value};

use super::model::Node;
use super::util::MAX_DEPTH;
use crate::field_error::{FieldError, FieldPath};

/// Checks every list below an object (the resource root, or an object value).
pub(crate) fn validate_object(
    s: &Node,
    obj: &Map<String, Value>,
    path: &FieldPath,
    errs: &mut Vec<FieldError>,
    depth: usize,
) {
    if depth > MAX_DEPTH || s.opaque {
        return;
    }
    if let Some(ap) = s.additional_schema() {
        for (k, v) in obj {
            value(ap, v, &path.key(k), errs, depth + 1);
        }
    }
    for (k, v) in obj {
        if let Some(p) = s.properties.get(k) {
            value(p, v, &path.child(k), errs, depth + 1);
        }
    }
}

fn value(s: &Node, v: &Value, path: &FieldPath, errs: &mut Vec<FieldError>, depth: usize) {
    match v {
        Value::Array(items) => array(s, items, path, errs, depth),
        Value::Object(m) => validate_object(s, m, path, errs, depth),
        _ => {}
    }
}

fn array(s: &Node, items: &[Value], path: &FieldPath, errs: &mut Vec<FieldError>, depth: usize) {
    if depth > MAX_DEPTH || s.opaque {
        return;
    }
    match s.list_type.as_deref() {
        Some("set") => {
            for i in repeated(items.iter().map(key_of)) {
                if let Some(v) = items.get(i) {
                    errs.push(FieldError::duplicate(path.index(i), v.clone()));
                }
            }
        }
        Some("map") => map_list(s, items, path, errs),
        _ => {}
    }
    if let Some(item) = s.items.as_deref() {
        for (i, v) in items.iter().enumerate() {
            value(item, v, &path.index(i), errs, depth + 1);
        }
    }
}

/// A key equal for equal JSON values.
fn key_of(v: &Value) -> String {
    v.to_string()
}

/// Indices of the second occurrence of every repeated key.
fn repeated(keys: impl Iterator<Item = String>) -> Vec<usize> {
    let mut seen: HashMap<String, usize> = HashMap::new();
    let mut out = Vec::new();
    for (i, k) in keys.enumerate() {
        let n = seen.entry(k).or_insert(0);
        *n += 1;
        if *n == 2 {
            out.push(i);
        }
    }
    out
}

fn map_list(s: &Node, items: &[Value], path: &FieldPath, errs: &mut Vec<FieldError>) {
    for (i, x) in items.iter().enumerate() {
        if !x.is_null() && !x.is_object() {
            errs.push(FieldError::invalid(
                path.index(i),
                x.clone(),
                "must be an object for an array of list-type map",
            ));
            return;
        }
    }
    if items.len() <= 1 {
        return;
    }
    let keys: Vec<Map<String, Value>> = items
        .iter()
        .map(|x| {
            let mut key = Map::new();
            if let Some(o) = x.as_object() {
                for k in &s.list_map_keys {
                    if let Some(v) = o.get(k) {
                        key.insert(k.clone(), v.clone());
                    }
                }
            }
            key
        })
        .collect();
    for i in repeated(keys.iter().map(|k| Value::Object(k.clone()).to_string())) {
        if let Some(k) = keys.get(i) {
            errs.push(FieldError::duplicate(path.index(i), Value::Object(k.clone())));
        }
    }
}
