//! Walks over a raw CRD schema: every nested schema (properties, items,
//! additionalProperties, junctors, definitions), for the checks upstream relaxes on update
//! when the stored CRD already broke them.

use serde_json::{Map, Value};

use super::model::{Additional, Node};
use super::util::MAX_DEPTH;

/// True when `pred` holds for any schema in the tree.
pub(crate) fn any_schema(v: &Value, pred: &dyn Fn(&Map<String, Value>) -> bool) -> bool {
    any_in(v, pred, 0)
}

fn any_in(v: &Value, pred: &dyn Fn(&Map<String, Value>) -> bool, depth: usize) -> bool {
    let Some(m) = v.as_object() else { return false };
    if depth > MAX_DEPTH {
        return false;
    }
    if pred(m) {
        return true;
    }
    let mut children: Vec<&Value> = Vec::new();
    for k in ["items", "not", "additionalProperties", "additionalItems"] {
        children.extend(m.get(k));
    }
    for k in ["allOf", "anyOf", "oneOf"] {
        children.extend(m.get(k).and_then(Value::as_array).into_iter().flatten());
    }
    if let Some(Value::Array(items)) = m.get("items") {
        children.extend(items);
    }
    for k in ["properties", "patternProperties", "definitions", "dependencies"] {
        children.extend(
            m.get(k)
                .and_then(Value::as_object)
                .into_iter()
                .flat_map(|p| p.values()),
        );
    }
    children.into_iter().any(|c| any_in(c, pred, depth + 1))
}

/// True when some `default` changes when pruned by its schema.
pub(crate) fn has_unpruned_defaults(schema: &Value) -> bool {
    if !any_schema(schema, &|m| m.get("default").is_some_and(|d| !d.is_null())) {
        return false;
    }
    let node = Node::compile(schema);
    differs(&node, schema, 0)
}

fn differs(n: &Node, raw: &Value, depth: usize) -> bool {
    if depth > MAX_DEPTH || n.opaque {
        return false;
    }
    if raw.get("default").filter(|d| !d.is_null()) != n.default.as_ref() {
        return true;
    }
    if let (Some(i), Some(r)) = (n.items.as_deref(), raw.get("items"))
        && differs(i, r, depth + 1)
    {
        return true;
    }
    if let (Some(Additional::Schema(a)), Some(r)) = (&n.additional, raw.get("additionalProperties"))
        && differs(a, r, depth + 1)
    {
        return true;
    }
    n.properties.iter().any(|(k, p)| {
        raw.pointer(&format!(
            "/properties/{}",
            k.replace('~', "~0").replace('/', "~1")
        ))
        .is_some_and(|r| differs(p, r, depth + 1))
    })
}
