//! RFC 6902 JSON patch, on top of the `json-patch` crate.
//!
//! The crate does the pointer work (`-` to append, `~0`/`~1` escapes); this module turns its
//! outcomes into the apiserver's answers: a body that does not decode as a list of operations
//! is malformed, an operation that cannot apply is reported with its name and path.

use json_patch::{Patch, PatchError as OpError, PatchErrorKind, PatchOperation};
use serde_json::Value;

use super::{PatchError, inapplicable, malformed};

/// Most operations accepted in one patch, as the apiserver does.
const MAX_OPERATIONS: usize = 10_000;

/// Applies `patch` (an array of operations) to a copy of `doc`.
pub(super) fn apply(doc: &Value, patch: &Value) -> Result<Value, PatchError> {
    let Value::Array(ops) = patch else {
        return Err(malformed("a json patch must be a JSON array of operations"));
    };
    if ops.len() > MAX_OPERATIONS {
        return Err(malformed(format!(
            "a json patch may hold at most {MAX_OPERATIONS} operations, got {}",
            ops.len()
        )));
    }
    let parsed: Patch =
        serde_json::from_value(patch.clone()).map_err(|e| malformed(format!("invalid json patch: {e}")))?;
    let mut out = doc.clone();
    for (index, op) in parsed.0.iter().enumerate() {
        if let PatchOperation::Test(t) = op
            && t.value.is_null()
            && absent_in_existing_parent(&out, t.path.as_str())
        {
            // As upstream's JSON patch library: a missing member tests equal to null
            // (kube-rs' finalizer helper relies on it for objects without finalizers).
            continue;
        }
        // The copy is thrown away on failure, so the crate's undo log is not needed.
        json_patch::patch_unsafe(&mut out, &Patch(vec![op.clone()])).map_err(|e| describe(op, index, &e))?;
    }
    Ok(out)
}

/// Whether `path` names a missing member of an object that exists.
fn absent_in_existing_parent(doc: &Value, path: &str) -> bool {
    let Some((parent, last)) = path.rsplit_once('/') else {
        return false;
    };
    let key = last.replace("~1", "/").replace("~0", "~");
    match doc.pointer(parent) {
        Some(Value::Object(m)) => m.get(&key).is_none_or(Value::is_null),
        _ => false,
    }
}

fn op_name(op: &PatchOperation) -> &'static str {
    match op {
        PatchOperation::Add(_) => "add",
        PatchOperation::Remove(_) => "remove",
        PatchOperation::Replace(_) => "replace",
        PatchOperation::Move(_) => "move",
        PatchOperation::Copy(_) => "copy",
        PatchOperation::Test(_) => "test",
    }
}

fn from_path(op: &PatchOperation) -> Option<&str> {
    match op {
        PatchOperation::Move(m) => Some(m.from.as_str()),
        PatchOperation::Copy(c) => Some(c.from.as_str()),
        _ => None,
    }
}

/// A 422 message naming the failing operation (the `index`th of the patch) and its path.
fn describe(op: &PatchOperation, index: usize, err: &OpError) -> PatchError {
    let path = err.path.as_str();
    let name = op_name(op);
    let detail = match (&err.kind, from_path(op)) {
        (PatchErrorKind::TestFailed, _) => format!("value at {path:?} did not match"),
        (PatchErrorKind::InvalidFromPointer, Some(from)) => {
            format!("doc is missing the \"from\" path {from:?}")
        }
        (PatchErrorKind::InvalidPointer, _) => format!("doc is missing path {path:?}"),
        (PatchErrorKind::CannotMoveInsideItself, Some(from)) => {
            format!("cannot move {from:?} inside itself to {path:?}")
        }
        (other, _) => format!("{other} at {path:?}"),
    };
    inapplicable(format!(
        "json patch {name} operation {index} does not apply: {detail}"
    ))
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use serde_json::json;

    fn doc() -> Value {
        json!({"metadata": {"name": "x", "annotations": {"a/b": "1", "c~d": "2"}},
               "spec": {"list": [1, 2, 3]}})
    }

    #[test]
    fn testing_null_passes_for_a_missing_member_of_an_existing_object() {
        let doc = json!({"metadata": {"name": "x"}});
        let out = apply(
            &doc,
            &json!([{"op": "test", "path": "/metadata/finalizers", "value": null},
                    {"op": "add", "path": "/metadata/finalizers", "value": ["a"]}]),
        )
        .unwrap();
        assert_eq!(out["metadata"]["finalizers"], json!(["a"]));
        // Not when the parent itself is missing, nor when the member has a value.
        assert!(apply(&doc, &json!([{"op": "test", "path": "/spec/x", "value": null}])).is_err());
        assert!(
            apply(
                &doc,
                &json!([{"op": "test", "path": "/metadata/name", "value": null}])
            )
            .is_err()
        );
    }

    #[test]
    fn all_operations() {
        let patch = json!([
            {"op": "add", "path": "/spec/list/-", "value": 4},
            {"op": "add", "path": "/spec/list/0", "value": 0},
            {"op": "remove", "path": "/metadata/annotations/a~1b"},
            {"op": "replace", "path": "/metadata/annotations/c~0d", "value": "3"},
            {"op": "copy", "from": "/metadata/name", "path": "/spec/name"},
            {"op": "move", "from": "/spec/name", "path": "/spec/renamed"},
            {"op": "test", "path": "/spec/renamed", "value": "x"}
        ]);
        let out = apply(&doc(), &patch).unwrap();
        assert_eq!(
            out,
            json!({"metadata": {"name": "x", "annotations": {"c~d": "3"}},
                   "spec": {"list": [0, 1, 2, 3, 4], "renamed": "x"}})
        );
    }

    #[test]
    fn rollout_undo_shape() {
        let patch = json!([
            {"op": "replace", "path": "/spec/list", "value": [9]},
            {"op": "replace", "path": "/metadata/annotations", "value": {"k": "v"}}
        ]);
        let out = apply(&doc(), &patch).unwrap();
        assert_eq!(out["spec"]["list"], json!([9]));
        assert_eq!(out["metadata"]["annotations"], json!({"k": "v"}));
    }

    #[test]
    fn malformed_documents() {
        for bad in [
            json!({"op": "add"}),
            json!([{"op": "frobnicate", "path": "/a"}]),
            json!([{"op": "add", "path": "/a"}]),
            json!([{"op": "remove"}]),
            json!([{"op": "add", "path": "no-slash", "value": 1}]),
        ] {
            assert!(
                matches!(apply(&doc(), &bad), Err(PatchError::Malformed(_))),
                "{bad}"
            );
        }
    }

    #[test]
    fn failing_operations_name_op_and_path() {
        let err = apply(&doc(), &json!([{"op": "remove", "path": "/spec/missing"}])).unwrap_err();
        let PatchError::Inapplicable(msg) = err else {
            panic!("expected 422, got {err:?}")
        };
        assert!(msg.contains("remove") && msg.contains("/spec/missing"), "{msg}");

        let err = apply(
            &doc(),
            &json!([{"op": "add", "path": "/spec/x", "value": 1},
                    {"op": "test", "path": "/metadata/name", "value": "y"}]),
        )
        .unwrap_err();
        let PatchError::Inapplicable(msg) = err else {
            panic!("expected 422, got {err:?}")
        };
        assert!(msg.contains("test") && msg.contains("/metadata/name"), "{msg}");

        let err = apply(&doc(), &json!([{"op": "move", "from": "/nope", "path": "/a"}])).unwrap_err();
        assert!(
            matches!(&err, PatchError::Inapplicable(m) if m.contains("/nope")),
            "{err:?}"
        );
        let err = apply(
            &doc(),
            &json!([{"op": "add", "path": "/spec/list/9", "value": 1}]),
        )
        .unwrap_err();
        assert!(matches!(err, PatchError::Inapplicable(_)));
    }

    #[test]
    fn whole_document_and_empty_patch() {
        assert_eq!(apply(&doc(), &json!([])).unwrap(), doc());
        let out = apply(&doc(), &json!([{"op": "replace", "path": "", "value": {"a": 1}}])).unwrap();
        assert_eq!(out, json!({"a": 1}));
    }
}
