//! Patches: JSON patch (RFC 6902), JSON merge patch (RFC 7386) and strategic merge patch.
//!
//! The three `PATCH` content types kubectl and the client libraries send. Each function takes
//! the stored object and the decoded patch body and returns the patched object, leaving the
//! input untouched so that a failed patch never half-applies. Errors say whether the patch
//! itself is malformed (400) or cannot apply to this object (422).

use serde_json::Value;

use crate::schema::SchemaNode;

mod directive;
mod json;
mod list;
mod merge;
mod strategic;
#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod strategic_tests;

/// Deepest nesting accepted in a patch document. Merging recurses along the patch, so this
/// bounds the recursion whatever the caller hands in (parsed JSON is already limited to 128).
const MAX_DEPTH: usize = 200;

/// A patch that could not be applied.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PatchError {
    /// The patch document itself is malformed (answered with 400).
    #[error("{0}")]
    Malformed(String),
    /// The patch is well formed but cannot apply to this object (answered with 422).
    #[error("{0}")]
    Inapplicable(String),
}

/// Applies an RFC 6902 JSON patch (`kubectl rollout undo`, `kubectl patch --type=json`).
///
/// A document that is not an array of valid operations is `Malformed`; an operation that
/// fails (missing path, failed `test`) is `Inapplicable` and names the operation and path.
pub fn json_patch(doc: &Value, patch: &Value) -> Result<Value, PatchError> {
    json::apply(doc, patch)
}

/// Applies an RFC 7386 JSON merge patch (`null` removes a field; a non-object patch replaces
/// the whole document). Used by `kubectl label/annotate/scale` and client-side apply on CRDs.
pub fn merge_patch(doc: &Value, patch: &Value) -> Result<Value, PatchError> {
    merge::apply(doc, patch)
}

/// Applies a strategic merge patch, using the merge keys and strategies of `schema` (the
/// schema of the whole object). Without a schema it behaves as a merge patch.
///
/// This follows the apiserver's 2-way application: lists merge by
/// `x-kubernetes-patch-merge-key` when `x-kubernetes-patch-strategy` says `merge`, and the
/// directives kubectl emits (`$patch`, `$retainKeys`, `$setElementOrder/…`,
/// `$deleteFromPrimitiveList/…`) are honoured and never reach the result.
pub fn strategic_merge(
    doc: &Value,
    patch: &Value,
    schema: Option<SchemaNode<'_>>,
) -> Result<Value, PatchError> {
    strategic::apply(doc, patch, schema)
}

fn malformed(message: impl Into<String>) -> PatchError {
    PatchError::Malformed(message.into())
}

fn inapplicable(message: impl Into<String>) -> PatchError {
    PatchError::Inapplicable(message.into())
}

/// Rejects patches nested deeper than `MAX_DEPTH`, without recursing itself.
fn check_depth(value: &Value) -> Result<(), PatchError> {
    let mut pending = vec![(value, 1usize)];
    while let Some((value, depth)) = pending.pop() {
        if depth > MAX_DEPTH {
            return Err(malformed(format!(
                "patch is nested more than {MAX_DEPTH} levels deep"
            )));
        }
        match value {
            Value::Object(map) => pending.extend(map.values().map(|v| (v, depth + 1))),
            Value::Array(items) => pending.extend(items.iter().map(|v| (v, depth + 1))),
            _ => {}
        }
    }
    Ok(())
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn depth_is_bounded() {
        let mut deep = json!(1);
        for _ in 0..=MAX_DEPTH {
            deep = json!({ "a": deep });
        }
        assert!(matches!(
            merge_patch(&json!({}), &deep),
            Err(PatchError::Malformed(_))
        ));
        assert!(matches!(
            strategic_merge(&json!({}), &deep, None),
            Err(PatchError::Malformed(_))
        ));
        assert!(check_depth(&json!({"a": [{"b": 1}]})).is_ok());
    }
}
