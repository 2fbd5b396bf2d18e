//! RFC 7386 JSON merge patch.
//!
//! Objects merge key by key, `null` removes a key, anything else (arrays included) replaces
//! the target. Nulls inside a newly added object are dropped too, because merging into a
//! missing value starts from an empty object.

use serde_json::{Map, Value};

use super::PatchError;

/// Applies `patch` to a copy of `doc`.
pub(super) fn apply(doc: &Value, patch: &Value) -> Result<Value, PatchError> {
    super::check_depth(patch)?;
    let mut out = doc.clone();
    merge_into(&mut out, patch);
    Ok(out)
}

/// Recursion follows the patch, whose depth `check_depth` bounded.
fn merge_into(target: &mut Value, patch: &Value) {
    let Value::Object(fields) = patch else {
        *target = patch.clone();
        return;
    };
    if !target.is_object() {
        *target = Value::Object(Map::new());
    }
    let Value::Object(target) = target else {
        return;
    };
    for (key, value) in fields {
        if value.is_null() {
            target.remove(key);
        } else {
            merge_into(target.entry(key.clone()).or_insert(Value::Null), value);
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn rfc7386_examples() {
        let cases = [
            (json!({"a": "b"}), json!({"a": "c"}), json!({"a": "c"})),
            (json!({"a": "b"}), json!({"b": "c"}), json!({"a": "b", "b": "c"})),
            (json!({"a": "b"}), json!({"a": null}), json!({})),
            (json!({"a": "b", "b": "c"}), json!({"a": null}), json!({"b": "c"})),
            (json!({"a": ["b"]}), json!({"a": "c"}), json!({"a": "c"})),
            (json!({"a": "c"}), json!({"a": ["b"]}), json!({"a": ["b"]})),
            (
                json!({"a": {"b": "c"}}),
                json!({"a": {"b": "d", "c": null}}),
                json!({"a": {"b": "d"}}),
            ),
            (json!({"a": [{"b": "c"}]}), json!({"a": [1]}), json!({"a": [1]})),
            (json!(["a", "b"]), json!(["c", "d"]), json!(["c", "d"])),
            (json!({"a": "b"}), json!(["c"]), json!(["c"])),
            (json!({"a": "foo"}), json!(null), json!(null)),
            (json!({"a": "foo"}), json!("bar"), json!("bar")),
            (json!({"e": null}), json!({"a": 1}), json!({"e": null, "a": 1})),
            (json!([1, 2]), json!({"a": "b", "c": null}), json!({"a": "b"})),
            (
                json!({}),
                json!({"a": {"bb": {"ccc": null}}}),
                json!({"a": {"bb": {}}}),
            ),
        ];
        for (doc, patch, want) in cases {
            assert_eq!(apply(&doc, &patch).unwrap(), want, "{doc} + {patch}");
        }
    }

    #[test]
    fn label_and_annotate() {
        let doc = json!({"metadata": {"name": "x", "labels": {"app": "web", "tier": "fe"}}});
        let patch = json!({"metadata": {"labels": {"tier": null, "env": "prod"},
                                         "annotations": {"note": "hi"}}});
        let out = apply(&doc, &patch).unwrap();
        assert_eq!(
            out,
            json!({"metadata": {"name": "x", "labels": {"app": "web", "env": "prod"},
                                "annotations": {"note": "hi"}}})
        );
    }

    #[test]
    fn scale_subresource() {
        let doc = json!({"spec": {"replicas": 1}, "status": {"replicas": 1}});
        let out = apply(&doc, &json!({"spec": {"replicas": 5}})).unwrap();
        assert_eq!(out, json!({"spec": {"replicas": 5}, "status": {"replicas": 1}}));
    }
}
