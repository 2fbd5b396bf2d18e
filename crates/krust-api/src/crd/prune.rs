//! Pruning of custom resources as upstream's structural pruning does: fields the schema does
//! not specify are dropped (and reported for `fieldValidation`), except under
//! `x-kubernetes-preserve-unknown-fields`; `apiVersion`, `kind` and `metadata` of the root and
//! of embedded resources are left to ObjectMeta coercion. Then `null`s the schema does not
//! allow and cannot default are removed (`PruneNonNullableNullsWithoutDefaults`).

use serde_json::Value;

use super::model::Node;
use super::util::{MAX_DEPTH, join};

const META_FIELDS: &[&str] = &["apiVersion", "kind", "metadata"];

/// Collects the paths of pruned fields, when asked to.
pub(crate) type Unknown = Option<Vec<String>>;

/// Prunes `x` by `s`; `root` treats the node as a resource root (embedded resource).
pub(crate) fn prune_value(x: &mut Value, s: Option<&Node>, root: bool, unknown: &mut Unknown) {
    prune(x, s, root, "", unknown, 0);
}

fn record(unknown: &mut Unknown, path: &str, key: &str) {
    if let Some(u) = unknown.as_mut() {
        u.push(join(path, key));
    }
}

fn prune(x: &mut Value, s: Option<&Node>, embedded: bool, path: &str, unknown: &mut Unknown, depth: usize) {
    if depth > MAX_DEPTH {
        return;
    }
    if let Some(n) = s
        && (n.preserve_unknown || n.opaque)
    {
        skip_prune(x, n, embedded, path, unknown, depth);
        return;
    }
    match x {
        Value::Object(map) => {
            let Some(n) = s else {
                for k in map.keys() {
                    record(unknown, path, k);
                }
                map.clear();
                return;
            };
            let embedded = embedded || n.embedded;
            map.retain(|k, v| {
                if embedded && META_FIELDS.contains(&k.as_str()) {
                    return true;
                }
                match n.field(k) {
                    Some(child) => {
                        prune(v, child, false, &join(path, k), unknown, depth + 1);
                        true
                    }
                    None => {
                        if !META_FIELDS.contains(&k.as_str()) || !path.is_empty() {
                            record(unknown, path, k);
                        }
                        false
                    }
                }
            });
        }
        Value::Array(items) => {
            let item = s.and_then(|n| n.items.as_deref());
            for (i, v) in items.iter_mut().enumerate() {
                prune(v, item, false, &format!("{path}[{i}]"), unknown, depth + 1);
            }
        }
        _ => {}
    }
}

/// Below `x-kubernetes-preserve-unknown-fields`: unknown fields stay, known ones are pruned
/// by their schemas.
fn skip_prune(x: &mut Value, n: &Node, embedded: bool, path: &str, unknown: &mut Unknown, depth: usize) {
    if n.opaque || depth > MAX_DEPTH {
        return;
    }
    let embedded = embedded || n.embedded;
    match x {
        Value::Object(map) => {
            for (k, v) in map.iter_mut() {
                if embedded && META_FIELDS.contains(&k.as_str()) {
                    continue;
                }
                if let Some(child) = n.field(k) {
                    prune(v, child, false, &join(path, k), unknown, depth + 1);
                }
            }
        }
        Value::Array(items) => {
            if let Some(item) = n.items.as_deref() {
                for (i, v) in items.iter_mut().enumerate() {
                    skip_prune(v, item, false, &format!("{path}[{i}]"), unknown, depth + 1);
                }
            }
        }
        _ => {}
    }
}

/// Removes `null`s where the schema neither allows them nor defaults them.
pub(crate) fn prune_nulls(x: &mut Value, s: Option<&Node>, depth: usize) {
    if depth > MAX_DEPTH {
        return;
    }
    match x {
        Value::Object(map) => {
            map.retain(|k, v| {
                let schema = s.and_then(|n| n.field(k)).flatten();
                if v.is_null()
                    && let Some(sc) = schema
                    && !sc.nullable
                    && sc.default.is_none()
                    && !sc.opaque
                {
                    return false;
                }
                prune_nulls(v, schema, depth + 1);
                true
            });
        }
        Value::Array(items) => {
            let item = s.and_then(|n| n.items.as_deref());
            for v in items {
                prune_nulls(v, item, depth + 1);
            }
        }
        _ => {}
    }
}
