//! The `$`-directives of strategic merge patch, and cleaning them out of patch values.
//!
//! kubectl steers list and map merging with `$patch`, `$retainKeys`, `$setElementOrder/<f>`
//! and `$deleteFromPrimitiveList/<f>`. Only these exact names are directives: other keys that
//! start with `$` (a CRD schema's `$ref`, say) are ordinary fields.

use serde_json::{Map, Value};

use super::{PatchError, malformed};

/// `$patch: replace|delete|merge` inside a map or list element.
pub(super) const PATCH: &str = "$patch";
/// `$retainKeys: [..]`: fields to keep in a map (retainKeys strategy).
pub(super) const RETAIN_KEYS: &str = "$retainKeys";
/// `$setElementOrder/<field>: [..]`: the final order of a list.
pub(super) const SET_ELEMENT_ORDER: &str = "$setElementOrder";
/// `$deleteFromPrimitiveList/<field>: [..]`: values to remove from a list of primitives.
pub(super) const DELETE_FROM_PRIMITIVE_LIST: &str = "$deleteFromPrimitiveList";

/// The value of a `$patch` directive.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Directive {
    /// Use the patch's content instead of merging.
    Replace,
    /// Remove the map, or the list element with this merge key.
    Delete,
    /// Merge as usual (the default, spelled out).
    Merge,
}

/// Parses a `$patch` value; anything but the three known strings is a malformed patch.
pub(super) fn parse(value: &Value) -> Result<Directive, PatchError> {
    match value.as_str() {
        Some("replace") => Ok(Directive::Replace),
        Some("delete") => Ok(Directive::Delete),
        Some("merge") => Ok(Directive::Merge),
        _ => Err(malformed(format!(
            "unknown patch type: {value} (expected replace, delete or merge)"
        ))),
    }
}

/// The `$patch` directive of a list element or map, if it carries one.
pub(super) fn of(value: &Value) -> Result<Option<Directive>, PatchError> {
    value.get(PATCH).map(parse).transpose()
}

/// The field a `$setElementOrder/<field>` or `$deleteFromPrimitiveList/<field>` key names.
/// `key` must start with `prefix`; a key that lacks the `/<field>` part is malformed.
pub(super) fn target_field<'k>(key: &'k str, prefix: &str) -> Result<&'k str, PatchError> {
    key.strip_prefix(prefix)
        .and_then(|rest| rest.strip_prefix('/'))
        .ok_or_else(|| malformed(format!("invalid patch format of {prefix} list: {key:?}")))
}

/// True for keys that steer the merge and must never reach the result.
pub(super) fn is_directive_key(key: &str) -> bool {
    key == PATCH
        || key == RETAIN_KEYS
        || key.starts_with(SET_ELEMENT_ORDER)
        || key.starts_with(DELETE_FROM_PRIMITIVE_LIST)
}

/// Cleans a patch value that lands in the result without being merged (a new field, a new
/// list element, a replaced list): `null` fields and directive keys go, list elements that
/// carry `$patch` (deletions and markers of a list that did not exist) go, and a map with
/// `$patch` becomes its own content (`replace`, `merge`) or disappears (`delete`).
/// Returns `None` when the value itself disappears.
pub(super) fn strip(value: Value) -> Result<Option<Value>, PatchError> {
    match value {
        Value::Object(map) => match of_map(&map)? {
            Some(Directive::Delete) => Ok(None),
            _ => strip_map(map).map(|m| Some(Value::Object(m))),
        },
        Value::Array(items) => strip_list(items).map(|l| Some(Value::Array(l))),
        other => Ok(Some(other)),
    }
}

/// `strip` for the fields of one map (its own `$patch`, if any, is dropped with the rest).
pub(super) fn strip_map(map: Map<String, Value>) -> Result<Map<String, Value>, PatchError> {
    let mut out = Map::new();
    for (key, value) in map {
        if value.is_null() || is_directive_key(&key) {
            continue;
        }
        if let Some(value) = strip(value)? {
            out.insert(key, value);
        }
    }
    Ok(out)
}

/// `strip` for list elements: elements carrying `$patch` are dropped.
pub(super) fn strip_list(items: Vec<Value>) -> Result<Vec<Value>, PatchError> {
    let mut out = Vec::with_capacity(items.len());
    for item in items {
        if of(&item)?.is_some() {
            continue;
        }
        if let Some(item) = strip(item)? {
            out.push(item);
        }
    }
    Ok(out)
}

fn of_map(map: &Map<String, Value>) -> Result<Option<Directive>, PatchError> {
    map.get(PATCH).map(parse).transpose()
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn parses_directives() {
        assert_eq!(parse(&json!("replace")).unwrap(), Directive::Replace);
        assert_eq!(parse(&json!("delete")).unwrap(), Directive::Delete);
        assert_eq!(parse(&json!("merge")).unwrap(), Directive::Merge);
        assert!(matches!(parse(&json!("nuke")), Err(PatchError::Malformed(_))));
        assert!(matches!(parse(&json!(1)), Err(PatchError::Malformed(_))));
    }

    #[test]
    fn target_fields() {
        assert_eq!(
            target_field("$setElementOrder/containers", SET_ELEMENT_ORDER).unwrap(),
            "containers"
        );
        assert!(target_field("$setElementOrderX", SET_ELEMENT_ORDER).is_err());
        assert!(is_directive_key("$deleteFromPrimitiveList/finalizers"));
        assert!(!is_directive_key("$ref"));
    }

    #[test]
    fn strips_directives_and_nulls() {
        let v = json!({
            "a": null, "$retainKeys": ["b"], "b": {"c": null, "d": 1, "$setElementOrder/x": []},
            "list": [{"name": "x", "$patch": "delete"}, {"$patch": "replace"}, {"name": "y", "v": null}],
            "gone": {"$patch": "delete"}, "kept": {"$patch": "replace", "k": 1}, "$ref": "#/x"
        });
        let out = strip(v).unwrap().unwrap();
        assert_eq!(
            out,
            json!({"b": {"d": 1}, "list": [{"name": "y"}], "kept": {"k": 1}, "$ref": "#/x"})
        );
        assert!(strip(json!({"x": {"$patch": "bogus"}})).is_err());
        assert_eq!(strip(json!({"$patch": "delete"})).unwrap(), None);
    }
}
