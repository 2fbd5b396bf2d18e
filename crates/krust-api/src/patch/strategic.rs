//! Strategic merge patch: maps, field metadata and the map-level directives.
//!
//! This is the apiserver's 2-way application of a patch to the stored object. Maps merge
//! recursively and `null` deletes; how a list merges comes from the field's schema
//! (`x-kubernetes-patch-strategy`, `x-kubernetes-patch-merge-key`) and is done in `list`.
//! Order of work inside one map, as upstream: `$patch`, then `$retainKeys` (clears fields of
//! the stored map), then `$setElementOrder/<f>` together with its list, then the remaining
//! fields, and `$deleteFromPrimitiveList/<f>` last.

use std::collections::HashSet;

use serde_json::{Map, Value};

use super::directive::{self, DELETE_FROM_PRIMITIVE_LIST, Directive, RETAIN_KEYS, SET_ELEMENT_ORDER};
use super::{PatchError, inapplicable, list, malformed};
use crate::schema::SchemaNode;

/// How one field merges, read from its schema. Without a schema every field merges like a
/// JSON merge patch: maps recurse, lists are replaced.
#[derive(Debug, Clone, Copy, Default)]
pub(super) struct FieldMeta<'a> {
    /// Field name, for messages.
    pub name: &'a str,
    /// The field's own schema (a list's, not its items').
    pub schema: Option<SchemaNode<'a>>,
    /// `merge` strategy: lists merge element-wise instead of being replaced.
    pub merge: bool,
    /// `replace` strategy: a map field is replaced instead of merged.
    pub replace: bool,
    /// `x-kubernetes-patch-merge-key`: identifies elements of a list of objects.
    pub merge_key: Option<&'a str>,
}

impl<'a> FieldMeta<'a> {
    /// The metadata of `field` in an object whose schema is `parent`.
    pub fn of(parent: Option<SchemaNode<'a>>, field: &'a str) -> Self {
        let schema = parent.and_then(|p| p.property(field).or_else(|| p.additional_properties()));
        let Some(node) = schema else {
            return FieldMeta {
                name: field,
                ..FieldMeta::default()
            };
        };
        let raw = node
            .keyword("x-kubernetes-patch-strategy")
            .and_then(Value::as_str)
            .unwrap_or("");
        FieldMeta {
            name: field,
            schema: Some(node),
            merge: node.patch_strategy().merge,
            replace: raw.split(',').any(|s| s.trim() == "replace"),
            merge_key: node.patch_merge_key(),
        }
    }

    /// The schema of the list's elements.
    pub fn items(&self) -> Option<SchemaNode<'a>> {
        self.schema.and_then(|s| s.items())
    }
}

/// Applies `patch` (which must be an object) to a copy of `doc`.
pub(super) fn apply(doc: &Value, patch: &Value, schema: Option<SchemaNode<'_>>) -> Result<Value, PatchError> {
    super::check_depth(patch)?;
    let Value::Object(patch) = patch else {
        return Err(malformed("a strategic merge patch must be a JSON object"));
    };
    let original = match doc {
        Value::Object(map) => map.clone(),
        _ => Map::new(),
    };
    merge_map(original, patch.clone(), schema).map(Value::Object)
}

/// Merges `patch` into `original`, a map whose schema is `schema`. Recursion follows the
/// patch, whose depth `check_depth` bounded.
pub(super) fn merge_map(
    mut original: Map<String, Value>,
    mut patch: Map<String, Value>,
    schema: Option<SchemaNode<'_>>,
) -> Result<Map<String, Value>, PatchError> {
    if let Some(value) = patch.remove(directive::PATCH) {
        match directive::parse(&value)? {
            Directive::Replace => return directive::strip_map(patch),
            Directive::Delete => return Ok(Map::new()),
            Directive::Merge => {}
        }
    }
    if let Some(keys) = patch.remove(RETAIN_KEYS) {
        retain_keys(&mut original, &patch, &keys)?;
    }

    let order_keys: Vec<String> = patch
        .keys()
        .filter(|k| k.starts_with(SET_ELEMENT_ORDER))
        .cloned()
        .collect();
    for key in order_keys {
        let field = directive::target_field(&key, SET_ELEMENT_ORDER)?;
        let order = patch.remove(&key).unwrap_or(Value::Null);
        let patch_list = patch.remove(field);
        list::set_element_order(&mut original, order, patch_list, FieldMeta::of(schema, field))?;
    }

    let mut deletions = Vec::new();
    for (key, value) in patch {
        if key.starts_with(DELETE_FROM_PRIMITIVE_LIST) {
            deletions.push((key, value));
        } else {
            merge_field(&mut original, key, value, schema)?;
        }
    }
    for (key, value) in deletions {
        let field = directive::target_field(&key, DELETE_FROM_PRIMITIVE_LIST)?;
        delete_from_primitive_list(&mut original, field, value)?;
    }
    Ok(original)
}

/// Merges one patch field into `original`.
fn merge_field(
    original: &mut Map<String, Value>,
    key: String,
    value: Value,
    schema: Option<SchemaNode<'_>>,
) -> Result<(), PatchError> {
    if value.is_null() {
        original.remove(&key);
        return Ok(());
    }
    let Some(slot) = original.get_mut(&key) else {
        if let Some(value) = directive::strip(value)? {
            original.insert(key, value);
        }
        return Ok(());
    };
    let meta = FieldMeta::of(schema, &key);
    let merged = match (std::mem::take(slot), value) {
        (Value::Object(current), Value::Object(patch)) if !meta.replace => {
            Some(Value::Object(merge_map(current, patch, meta.schema)?))
        }
        (Value::Array(current), Value::Array(patch)) if meta.merge => {
            Some(Value::Array(list::merge_list(current, patch, &meta)?))
        }
        (_, patch) => directive::strip(patch)?,
    };
    match merged {
        Some(value) => *slot = value,
        None => {
            original.remove(&key);
        }
    }
    Ok(())
}

/// `$retainKeys`: every non-null patch field must be listed, and stored fields that are not
/// listed are cleared before merging (switching a union such as a deployment strategy).
fn retain_keys(
    original: &mut Map<String, Value>,
    patch: &Map<String, Value>,
    keys: &Value,
) -> Result<(), PatchError> {
    let Value::Array(keys) = keys else {
        return Err(malformed(
            "invalid patch format of $retainKeys: expected a list of field names",
        ));
    };
    let keep: HashSet<&str> = keys.iter().filter_map(Value::as_str).collect();
    let stray = patch.iter().find(|(k, v)| {
        !v.is_null()
            && !k.starts_with(DELETE_FROM_PRIMITIVE_LIST)
            && !k.starts_with(SET_ELEMENT_ORDER)
            && !keep.contains(k.as_str())
    });
    if let Some((field, _)) = stray {
        return Err(malformed(format!(
            "invalid patch format of $retainKeys: field {field:?} is set but not listed in $retainKeys"
        )));
    }
    original.retain(|k, _| keep.contains(k.as_str()));
    Ok(())
}

/// `$deleteFromPrimitiveList/<field>`: removes every occurrence of the listed values. A
/// missing list stays missing; `null` removes the field, as upstream does.
fn delete_from_primitive_list(
    original: &mut Map<String, Value>,
    field: &str,
    value: Value,
) -> Result<(), PatchError> {
    let remove = match value {
        Value::Null => {
            original.remove(field);
            return Ok(());
        }
        Value::Array(remove) => remove,
        _ => {
            return Err(malformed(format!(
                "invalid patch format of primitive list: $deleteFromPrimitiveList/{field} must be a list"
            )));
        }
    };
    if remove.iter().any(|v| v.is_object() || v.is_array()) {
        return Err(malformed(format!(
            "$deleteFromPrimitiveList/{field} may only list primitive values"
        )));
    }
    let Some(Value::Array(current)) = original.get_mut(field) else {
        return Ok(());
    };
    if !remove.is_empty() && current.iter().any(|v| v.is_object() || v.is_array()) {
        return Err(inapplicable(format!(
            "$deleteFromPrimitiveList/{field} applies to a list that is not a list of primitives"
        )));
    }
    let remove: HashSet<String> = remove.iter().map(Value::to_string).collect();
    current.retain(|v| !remove.contains(&v.to_string()));
    Ok(())
}
