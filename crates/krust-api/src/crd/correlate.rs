//! Which old value corresponds to a new one on update (upstream's `CorrelatedObject`), for
//! validation ratcheting and CEL transition rules: object fields by name; list items only
//! in `x-kubernetes-list-type: map` lists (by their keys) and `set` lists (by value); items
//! of atomic lists have no counterpart.

use serde_json::Value;

use super::model::Node;

/// The old counterpart of `new_item` (at `index`) in the old list, by the list's type.
pub(crate) fn item<'a>(list: &Node, old: Option<&'a Value>, new_item: &Value) -> Option<&'a Value> {
    let old = old?.as_array()?;
    match list.list_type.as_deref() {
        Some("map") => {
            let key = map_key(list, new_item)?;
            old.iter().find(|o| map_key(list, o).as_ref() == Some(&key))
        }
        Some("set") => old.iter().find(|o| *o == new_item),
        _ => None,
    }
}

/// The old counterpart of an object field, unless the object is atomic (`map-type: atomic`
/// applies to CEL correlation only; ratcheting still follows fields).
pub(crate) fn field<'a>(old: Option<&'a Value>, key: &str) -> Option<&'a Value> {
    old?.as_object()?.get(key)
}

/// The values of a map list item's keys, in key order.
fn map_key(list: &Node, item: &Value) -> Option<Vec<Value>> {
    let obj = item.as_object()?;
    Some(
        list.list_map_keys
            .iter()
            .map(|k| obj.get(k).cloned().unwrap_or(Value::Null))
            .collect(),
    )
}
