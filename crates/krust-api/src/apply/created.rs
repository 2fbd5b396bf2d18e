//! A memo of the field sets that creations record.
//!
//! Creating an object records an Update entry owning every field it sets. That set is a
//! function of the object's *shape* alone: its map keys, which values are null, maps,
//! lists or scalars, how many items each list has and, inside lists, the values (list
//! items are identified by their key fields or by their value). Names, labels' values,
//! images and other scalars outside lists do not change it. Controllers and clients
//! create thousands of objects of one shape (a ReplicaSet's pods, a benchmark's pods), so
//! the set is computed once per shape and its FieldsV1 reused.
//!
//! The memo is only valid for one schema: callers keep one per kind whose schema never
//! changes while the memo lives (the built-in kinds), and name that schema in every
//! lookup.

use std::collections::HashMap;
use std::sync::Mutex;

use serde_json::Value;

use super::updater::ResetFields;

/// Shapes longer than this are not memoised (their objects are computed each time).
const MAX_SHAPE_BYTES: usize = 16 * 1024;
/// Entries kept before the memo starts over; bounds its memory to a few MiB.
const MAX_ENTRIES: usize = 512;
/// Objects nested deeper than this are not memoised.
const MAX_SHAPE_DEPTH: usize = 64;

/// FieldsV1 of creations by (schema, reset fields, shape); `Value::Null` when a creation
/// of that shape owns nothing.
#[derive(Debug, Default)]
pub struct CreationMemo {
    entries: Mutex<HashMap<Vec<u8>, Value>>,
}

impl CreationMemo {
    /// An empty memo.
    pub fn new() -> Self {
        Self::default()
    }

    pub(crate) fn get(&self, key: &[u8]) -> Option<Value> {
        let entries = self.entries.lock().unwrap_or_else(|e| e.into_inner());
        entries.get(key).cloned()
    }

    pub(crate) fn insert(&self, key: Vec<u8>, fields: Value) {
        let mut entries = self.entries.lock().unwrap_or_else(|e| e.into_inner());
        if entries.len() >= MAX_ENTRIES {
            entries.clear();
        }
        entries.insert(key, fields);
    }

    /// Entries held (for tests).
    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        self.entries.lock().unwrap_or_else(|e| e.into_inner()).len()
    }
}

/// The memo key of creating `obj` under the schema named `schema`, or `None` when the
/// object is too large or deep to memoise.
pub(crate) fn key(schema: &str, reset: ResetFields, obj: &Value) -> Option<Vec<u8>> {
    let mut out = Vec::with_capacity(256);
    push_str(&mut out, schema);
    out.push(match reset {
        ResetFields::None => b'0',
        ResetFields::Status => b'1',
        ResetFields::AllButStatus => b'2',
    });
    shape(obj, false, 0, &mut out).then_some(out)
}

fn push_str(out: &mut Vec<u8>, s: &str) {
    out.extend_from_slice(&(s.len() as u32).to_le_bytes());
    out.extend_from_slice(s.as_bytes());
}

/// Appends the shape of `v`; scalars inside lists with their values. False when the
/// object is too large or deep.
fn shape(v: &Value, in_list: bool, depth: usize, out: &mut Vec<u8>) -> bool {
    if depth > MAX_SHAPE_DEPTH || out.len() > MAX_SHAPE_BYTES {
        return false;
    }
    match v {
        Value::Null => out.push(b'n'),
        Value::Bool(b) => out.push(match (in_list, b) {
            (false, _) => b'b',
            (true, true) => b't',
            (true, false) => b'f',
        }),
        Value::Number(n) => {
            out.push(b'#');
            if in_list {
                push_str(out, &n.to_string());
            }
        }
        Value::String(s) => {
            out.push(b's');
            if in_list {
                push_str(out, s);
            }
        }
        Value::Object(map) => {
            out.push(b'{');
            out.extend_from_slice(&(map.len() as u32).to_le_bytes());
            for (k, child) in map {
                push_str(out, k);
                if !shape(child, in_list, depth + 1, out) {
                    return false;
                }
            }
        }
        Value::Array(items) => {
            out.push(b'[');
            out.extend_from_slice(&(items.len() as u32).to_le_bytes());
            for item in items {
                if !shape(item, true, depth + 1, out) {
                    return false;
                }
            }
        }
    }
    true
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn k(v: &Value) -> Vec<u8> {
        key("Pod", ResetFields::Status, v).unwrap()
    }

    #[test]
    fn scalars_outside_lists_do_not_count() {
        let a = json!({"metadata": {"name": "a", "labels": {"app": "x"}}, "spec": {"n": 1}});
        let b = json!({"metadata": {"name": "b", "labels": {"app": "y"}}, "spec": {"n": 2}});
        assert_eq!(k(&a), k(&b));
    }

    #[test]
    fn keys_types_nulls_and_list_values_count() {
        let base = json!({"spec": {"items": [{"name": "a", "port": 80}], "x": "s"}});
        for other in [
            json!({"spec": {"items": [{"name": "b", "port": 80}], "x": "s"}}),
            json!({"spec": {"items": [{"name": "a", "port": 81}], "x": "s"}}),
            json!({"spec": {"items": [{"name": "a", "port": 80}], "x": 1}}),
            json!({"spec": {"items": [{"name": "a", "port": 80}], "x": null}}),
            json!({"spec": {"items": [{"name": "a", "port": 80}], "y": "s"}}),
            json!({"spec": {"items": [], "x": "s"}}),
            json!({"spec": {"items": [{"name": "a", "port": 80}, {"name": "a", "port": 80}], "x": "s"}}),
        ] {
            assert_ne!(k(&base), k(&other), "{other}");
        }
        assert_ne!(
            key("Pod", ResetFields::Status, &base),
            key("Pod", ResetFields::None, &base)
        );
        assert_ne!(
            key("Pod", ResetFields::Status, &base),
            key("Service", ResetFields::Status, &base)
        );
    }

    #[test]
    fn huge_or_deep_objects_are_not_memoised() {
        let mut deep = json!(1);
        for _ in 0..100 {
            deep = json!({"a": deep});
        }
        assert!(key("Pod", ResetFields::None, &deep).is_none());
        let big = json!({"l": vec!["x".repeat(100); 500]});
        assert!(key("Pod", ResetFields::None, &big).is_none());
    }

    /// A creation of a shape already seen takes its fields from the memo: a planted entry
    /// shows up in the second object's managedFields.
    #[test]
    fn creations_of_a_known_shape_use_the_memo() {
        use crate::apply::{UpdateContext, record_update};
        let memo = CreationMemo::new();
        let ctx = UpdateContext {
            manager: "maker",
            api_version: "v1",
            subresource: None,
            now: "2026-01-01T00:00:00Z",
            schema: None,
            reset: ResetFields::None,
            creations: Some((&memo, "Thing")),
        };
        let mut first = json!({"metadata": {"name": "a"}, "data": {"k": "1"}});
        record_update(None, &mut first, &ctx);
        assert_eq!(memo.len(), 1);
        let fields = &first["metadata"]["managedFields"][0]["fieldsV1"];
        assert_eq!(fields, &json!({"f:data": {".": {}, "f:k": {}}}));
        let shape = key(
            "Thing",
            ResetFields::None,
            &json!({"metadata": {"name": "b"}, "data": {"k": "2"}}),
        )
        .unwrap();
        memo.insert(shape, json!({"f:planted": {}}));
        let mut second = json!({"metadata": {"name": "b"}, "data": {"k": "2"}});
        record_update(None, &mut second, &ctx);
        assert_eq!(
            second["metadata"]["managedFields"][0]["fieldsV1"],
            json!({"f:planted": {}})
        );
        assert_eq!(second["metadata"]["managedFields"][0]["manager"], "maker");
    }

    #[test]
    fn the_memo_starts_over_when_full() {
        let memo = CreationMemo::new();
        for i in 0..MAX_ENTRIES {
            memo.insert(i.to_le_bytes().to_vec(), json!({}));
        }
        assert_eq!(memo.len(), MAX_ENTRIES);
        memo.insert(b"one more".to_vec(), json!({}));
        assert_eq!(memo.len(), 1);
        assert_eq!(memo.get(b"one more"), Some(json!({})));
    }
}
