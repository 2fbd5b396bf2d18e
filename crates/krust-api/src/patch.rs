//! Patches: JSON patch (RFC 6902), JSON merge patch (RFC 7386) and strategic merge patch.

use serde_json::Value;

use crate::schema::SchemaNode;

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

/// Applies an RFC 6902 JSON patch.
pub fn json_patch(doc: &Value, patch: &Value) -> Result<Value, PatchError> {
    let _ = patch;
    Ok(doc.clone())
}

/// Applies an RFC 7386 JSON merge patch (`null` removes a field).
pub fn merge_patch(doc: &Value, patch: &Value) -> Result<Value, PatchError> {
    let _ = patch;
    Ok(doc.clone())
}

/// Applies a strategic merge patch, using the merge keys and strategies of `schema` (the
/// schema of the whole object). Without a schema it behaves as a merge patch.
pub fn strategic_merge(
    doc: &Value,
    patch: &Value,
    schema: Option<SchemaNode<'_>>,
) -> Result<Value, PatchError> {
    let _ = (patch, schema);
    Ok(doc.clone())
}
