//! `default` values of a CRD schema must be valid values (upstream's `ValidateDefaults`):
//! pruned (no unknown fields), correct embedded metadata, accepted by the node's OpenAPI
//! validation and CEL rules. Defaults under `additionalProperties` are not followed, as
//! upstream.

use serde_json::Value;

use super::model::Node;
use super::objectmeta;
use super::openapi;
use super::prune;
use super::rules;
use super::util::MAX_DEPTH;
use crate::field_error::{FieldError, FieldPath};

/// Checks every default below `root` (a resource root); `require_pruned` is relaxed on
/// update when the old CRD already had unpruned defaults.
pub(crate) fn validate(root: &Node, raw: &Value, path: &FieldPath, require_pruned: bool) -> Vec<FieldError> {
    let mut errs = Vec::new();
    walk(root, raw, path, false, true, require_pruned, &mut errs, 0);
    errs
}

#[allow(clippy::too_many_arguments)]
fn walk(
    n: &Node,
    raw: &Value,
    path: &FieldPath,
    inside_meta: bool,
    resource_root: bool,
    require_pruned: bool,
    errs: &mut Vec<FieldError>,
    depth: usize,
) {
    if depth > MAX_DEPTH || n.opaque {
        return;
    }
    let embedded = resource_root || n.embedded;
    let inside_meta = inside_meta && !n.embedded;
    // The raw default: the compiled one is already pruned.
    if let Some(d) = raw.get("default").filter(|d| !d.is_null()) {
        let dp = path.child("default");
        if !inside_meta && require_pruned {
            let mut pruned = d.clone();
            prune::prune_value(&mut pruned, Some(n), embedded, &mut None);
            if &pruned != d {
                errs.push(FieldError::invalid(
                    dp.clone(),
                    d.clone(),
                    "must not have unknown fields",
                ));
            }
        }
        let mut coerced = d.clone();
        let mut unknown = Vec::new();
        if n.embedded
            && let Err(e) = objectmeta::coerce_embedded(&mut coerced, n, &dp, &mut unknown, 0)
        {
            errs.push(e);
        } else {
            let mut meta_errs = Vec::new();
            objectmeta::validate_embedded(d, n, &dp, &mut meta_errs, 0);
            if !meta_errs.is_empty() {
                errs.extend(meta_errs);
            } else {
                let schema_errs = openapi::validate(n, d, None, Some(dp.as_str()));
                if !schema_errs.is_empty() {
                    errs.extend(schema_errs);
                } else if n.has_rules() {
                    let mut cel_errs = Vec::new();
                    rules::validate(n, d, Some(d), &dp, false, &mut cel_errs);
                    if cel_errs.is_empty() {
                        rules::validate(n, d, None, &dp, false, &mut cel_errs);
                    }
                    errs.extend(cel_errs);
                }
            }
        }
    }
    if let (Some(items), Some(raw_items)) = (n.items.as_deref(), raw.get("items")) {
        walk(
            items,
            raw_items,
            &path.child("items"),
            inside_meta,
            false,
            require_pruned,
            errs,
            depth + 1,
        );
    }
    let raw_props = raw.get("properties");
    for (k, p) in &n.properties {
        let Some(rp) = raw_props.and_then(|x| x.get(k)) else {
            continue;
        };
        let meta = inside_meta || (embedded && matches!(k.as_str(), "metadata" | "apiVersion" | "kind"));
        walk(
            p,
            rp,
            &path.child("properties").key(k),
            meta,
            false,
            require_pruned,
            errs,
            depth + 1,
        );
    }
}
