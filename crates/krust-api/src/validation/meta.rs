//! Object metadata (`ValidateObjectMeta`, `ValidateObjectMetaUpdate`), labels, annotations
//! and label selectors.

use serde_json::Value;

use super::names::{self, NameRule};
use super::util::{
    Errs, NEGATIVE, arr, each_invalid, entries, get, immutable, int, obj, s, str_entries, strs,
};
use crate::field_error::{FieldError, FieldPath};

/// Upper bound of all annotations of one object, keys plus values.
pub const TOTAL_ANNOTATION_SIZE_LIMIT: usize = 256 * 1024;

/// Finalizers every object may carry without a domain prefix (upstream's standard set,
/// including the CRD cleanup finalizer the API server adds itself).
const STANDARD_FINALIZERS: &[&str] = &[
    "kubernetes",
    "orphan",
    "foregroundDeletion",
    "customresourcecleanup.apiextensions.k8s.io",
];

/// Options of metadata validation.
#[derive(Debug, Clone, Copy)]
pub(crate) struct MetaOpts {
    /// How the name is checked.
    pub rule: NameRule,
    /// Built-in kinds also require finalizers without `/` to be standard ones.
    pub kube_finalizers: bool,
}

/// Labels: keys are qualified names, values label values; errors name the map itself.
pub fn validate_labels(labels: &Value, path: &FieldPath) -> Vec<FieldError> {
    let mut errs = Vec::new();
    let wrapper = serde_json::json!({ "l": labels });
    for (k, v) in str_entries(&wrapper, "l") {
        each_invalid(&mut errs, path.clone(), k, names::is_qualified_name(k));
        each_invalid(&mut errs, path.clone(), v, names::is_label_value(v));
    }
    errs
}

/// Annotations: keys are qualified names (case-insensitively), total size bounded.
pub fn validate_annotations(annotations: &Value, path: &FieldPath) -> Vec<FieldError> {
    let mut errs = Vec::new();
    let mut size = 0usize;
    let wrapper = serde_json::json!({ "a": annotations });
    for (k, v) in str_entries(&wrapper, "a") {
        each_invalid(
            &mut errs,
            path.clone(),
            k,
            names::is_qualified_name(&k.to_lowercase()),
        );
        size += k.len() + v.len();
    }
    if size > TOTAL_ANNOTATION_SIZE_LIMIT {
        errs.push(FieldError::too_long(path, TOTAL_ANNOTATION_SIZE_LIMIT));
    }
    errs
}

fn owner_references(errs: &mut Errs, meta: &Value, path: &FieldPath) {
    let refs = arr(meta, "ownerReferences");
    let mut first_controller = String::new();
    for r in refs {
        let api_version = s(r, "apiVersion");
        let version = match api_version.split('/').collect::<Vec<_>>().as_slice() {
            [v] => *v,
            [_, v] => *v,
            _ => "",
        };
        if version.is_empty() {
            errs.push(FieldError::invalid(
                path.child("apiVersion"),
                api_version,
                "version must not be empty",
            ));
        }
        let kind = s(r, "kind");
        if kind.is_empty() {
            errs.push(FieldError::invalid(
                path.child("kind"),
                kind,
                "kind must not be empty",
            ));
        }
        if s(r, "name").is_empty() {
            errs.push(FieldError::invalid(
                path.child("name"),
                "",
                "name must not be empty",
            ));
        }
        if s(r, "uid").is_empty() {
            errs.push(FieldError::invalid(
                path.child("uid"),
                "",
                "uid must not be empty",
            ));
        }
        if api_version == "v1" && kind == "Event" {
            errs.push(FieldError::invalid(
                path.clone(),
                r.clone(),
                "/v1, Kind=Event is disallowed from being an owner",
            ));
        }
        if r.get("controller").and_then(Value::as_bool) == Some(true) {
            let this = format!("{kind}/{}", s(r, "name"));
            if first_controller.is_empty() {
                first_controller = this;
            } else {
                errs.push(FieldError::invalid(
                    path.clone(),
                    Value::Array(refs.to_vec()),
                    format!(
                        "Only one reference can have Controller set to true. Found \"true\" in references for {first_controller} and {this}"
                    ),
                ));
            }
        }
    }
}

fn finalizers(errs: &mut Errs, meta: &Value, path: &FieldPath, kube: bool) {
    let list = strs(meta, "finalizers");
    for f in &list {
        each_invalid(errs, path.clone(), f, names::is_qualified_name(f));
    }
    if list.contains(&"orphan") && list.contains(&"foregroundDeletion") {
        errs.push(FieldError::invalid(
            path.clone(),
            Value::from(list.clone()),
            "finalizer orphan and foregroundDeletion cannot be both set",
        ));
    }
    if kube {
        for (i, f) in list.iter().enumerate() {
            if !f.contains('/') && !STANDARD_FINALIZERS.contains(f) {
                errs.push(FieldError::invalid(
                    path.index(i),
                    *f,
                    "name is neither a standard finalizer name nor is it fully qualified",
                ));
            }
        }
    }
}

/// `ValidateObjectMeta`: name (or generateName), namespace format, generation, labels,
/// annotations, owner references and finalizers.
pub(crate) fn object_meta(errs: &mut Errs, obj_v: &Value, opts: MetaOpts) {
    let path = FieldPath::new("metadata");
    let empty = Value::Null;
    let meta = get(obj_v, "metadata").unwrap_or(&empty);
    let generate_name = s(meta, "generateName");
    if !generate_name.is_empty() {
        each_invalid(
            errs,
            path.child("generateName"),
            generate_name,
            names::validate_name(opts.rule, generate_name, true),
        );
    }
    let name = s(meta, "name");
    // The server generates a name from `generateName` before storing; validation before
    // that step must not demand one.
    if name.is_empty() && generate_name.is_empty() {
        errs.push(FieldError::required(
            path.child("name"),
            "name or generateName is required",
        ));
    } else if !name.is_empty() {
        each_invalid(
            errs,
            path.child("name"),
            name,
            names::validate_name(opts.rule, name, false),
        );
    }
    let ns = s(meta, "namespace");
    if !ns.is_empty() {
        each_invalid(errs, path.child("namespace"), ns, names::is_dns1123_label(ns));
    }
    if let Some(g) = int(meta, "generation")
        && g < 0
    {
        errs.push(FieldError::invalid(path.child("generation"), g, NEGATIVE));
    }
    common(errs, meta, &path, opts.kube_finalizers);
}

fn common(errs: &mut Errs, meta: &Value, path: &FieldPath, kube: bool) {
    if let Some(l) = get(meta, "labels") {
        errs.extend(validate_labels(l, &path.child("labels")));
    }
    if let Some(a) = get(meta, "annotations") {
        errs.extend(validate_annotations(a, &path.child("annotations")));
    }
    owner_references(errs, meta, &path.child("ownerReferences"));
    finalizers(errs, meta, &path.child("finalizers"), kube);
}

/// `ValidateObjectMetaUpdate`: the identity fields may not change, finalizers may not be
/// added while deleting, and generation never decreases.
pub(crate) fn object_meta_update(errs: &mut Errs, new: &Value, old: &Value) {
    let path = FieldPath::new("metadata");
    let empty = Value::Null;
    let meta = get(new, "metadata").unwrap_or(&empty);
    let old_meta = get(old, "metadata").unwrap_or(&empty);
    if get(old_meta, "deletionTimestamp").is_some() {
        let old_f = strs(old_meta, "finalizers");
        let mut extra: Vec<&str> = strs(meta, "finalizers")
            .into_iter()
            .filter(|f| !old_f.contains(f))
            .collect();
        extra.sort_unstable();
        extra.dedup();
        if !extra.is_empty() {
            let quoted: Vec<String> = extra.iter().map(|f| format!("{f:?}")).collect();
            errs.push(FieldError::forbidden(
                path.child("finalizers"),
                format!(
                    "no new finalizers can be added if the object is being deleted, found new finalizers []string{{{}}}",
                    quoted.join(", ")
                ),
            ));
        }
    }
    if let (Some(n), Some(o)) = (int(meta, "generation"), int(old_meta, "generation"))
        && n < o
    {
        errs.push(FieldError::invalid(
            path.child("generation"),
            n,
            "must not be decremented",
        ));
    }
    for key in [
        "name",
        "namespace",
        "uid",
        "creationTimestamp",
        "deletionTimestamp",
        "deletionGracePeriodSeconds",
    ] {
        let norm = |m: &Value| match m.get(key) {
            Some(Value::String(x)) if x.is_empty() => None,
            other => other.filter(|v| !v.is_null()).cloned(),
        };
        let (n, o) = (norm(meta), norm(old_meta));
        // Upstream keeps the stored uid, timestamps and namespace when an update leaves
        // them out (`defaults::prepare_update` copies them); only a different value is an
        // error.
        if n.is_none() && key != "name" {
            continue;
        }
        immutable(errs, n.as_ref(), o.as_ref(), path.child(key));
    }
}

/// Metadata of an embedded template: only labels and annotations are checked, at
/// `<path>.labels` and `<path>.annotations` as upstream reports them.
pub(crate) fn template_labels_annotations(errs: &mut Errs, meta: Option<&Value>, path: &FieldPath) {
    let Some(meta) = meta else { return };
    if let Some(l) = get(meta, "labels") {
        errs.extend(validate_labels(l, &path.child("labels")));
    }
    if let Some(a) = get(meta, "annotations") {
        errs.extend(validate_annotations(a, &path.child("annotations")));
    }
}

/// `ValidateLabelSelector`.
pub fn validate_label_selector(sel: &Value, path: &FieldPath) -> Vec<FieldError> {
    let mut errs = Vec::new();
    if let Some(ml) = get(sel, "matchLabels") {
        errs.extend(validate_labels(ml, &path.child("matchLabels")));
    }
    for (i, e) in arr(sel, "matchExpressions").iter().enumerate() {
        let p = path.child("matchExpressions").index(i);
        let values = strs(e, "values");
        match s(e, "operator") {
            "In" | "NotIn" => {
                if values.is_empty() {
                    errs.push(FieldError::required(
                        p.child("values"),
                        "must be specified when `operator` is 'In' or 'NotIn'",
                    ));
                }
            }
            "Exists" | "DoesNotExist" => {
                if !values.is_empty() {
                    errs.push(FieldError::forbidden(
                        p.child("values"),
                        "may not be specified when `operator` is 'Exists' or 'DoesNotExist'",
                    ));
                }
            }
            op => errs.push(FieldError::invalid(
                p.child("operator"),
                op,
                "not a valid selector operator",
            )),
        }
        let key = s(e, "key");
        each_invalid(&mut errs, p.child("key"), key, names::is_qualified_name(key));
        for (j, v) in values.iter().enumerate() {
            each_invalid(&mut errs, p.child("values").index(j), v, names::is_label_value(v));
        }
    }
    errs
}

/// Whether a label selector has no requirements at all.
pub(crate) fn selector_is_empty(sel: &Value) -> bool {
    obj(sel, "matchLabels").is_none_or(|m| m.is_empty()) && arr(sel, "matchExpressions").is_empty()
}

/// Whether a (valid) label selector matches a label set; `None` when the selector cannot
/// be interpreted, in which case upstream skips the match check.
pub fn selector_matches(sel: &Value, labels: Option<&Value>) -> Option<bool> {
    let label = |k: &str| labels.and_then(|l| l.get(k)).and_then(Value::as_str);
    for (k, v) in entries(sel, "matchLabels") {
        if label(k) != Some(v.as_str()?) {
            return Some(false);
        }
    }
    for e in arr(sel, "matchExpressions") {
        let values = strs(e, "values");
        let got = label(s(e, "key"));
        let ok = match s(e, "operator") {
            "In" if !values.is_empty() => got.is_some_and(|g| values.contains(&g)),
            "NotIn" if !values.is_empty() => got.is_none_or(|g| !values.contains(&g)),
            "Exists" if values.is_empty() => got.is_some(),
            "DoesNotExist" if values.is_empty() => got.is_none(),
            _ => return None,
        };
        if !ok {
            return Some(false);
        }
    }
    Some(true)
}
