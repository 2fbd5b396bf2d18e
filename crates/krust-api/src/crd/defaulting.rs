//! Structural defaulting of custom resources (upstream's `structuraldefaulting.Default`),
//! applied on every write and on every read: a property with a `default` is set when it is
//! absent, or `null` while the schema does not allow `null`; then defaulting continues into
//! every value, defaults included, so nested defaults apply only where the parent exists.

use serde_json::Value;

use super::model::Node;
use super::util::MAX_DEPTH;

/// Applies the defaults of `s` inside `x`.
pub(crate) fn default(x: &mut Value, s: &Node, depth: usize) {
    if depth > MAX_DEPTH || s.opaque {
        return;
    }
    match x {
        Value::Object(map) => {
            for (k, prop) in &s.properties {
                let Some(d) = &prop.default else { continue };
                let missing = match map.get(k) {
                    None => true,
                    Some(v) => v.is_null() && !prop.nullable,
                };
                if missing {
                    map.insert(k.clone(), d.clone());
                }
            }
            let additional = s.additional_schema();
            for (k, v) in map.iter_mut() {
                if let Some(prop) = s.properties.get(k) {
                    default(v, prop, depth + 1);
                } else if let Some(ap) = additional {
                    if v.is_null()
                        && !ap.nullable
                        && let Some(d) = &ap.default
                    {
                        *v = d.clone();
                    }
                    default(v, ap, depth + 1);
                }
            }
        }
        Value::Array(items) => {
            let Some(item) = s.items.as_deref() else { return };
            for v in items.iter_mut() {
                if v.is_null()
                    && !item.nullable
                    && let Some(d) = &item.default
                {
                    *v = d.clone();
                }
                default(v, item, depth + 1);
            }
        }
        _ => {}
    }
}
