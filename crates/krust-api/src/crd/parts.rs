//! CRD fields around the schema: printer columns, scale subresource paths, selectable
//! fields, conversion, stored versions, API approval of protected groups, and names, with
//! upstream's field paths (its internal type's, e.g. `spec.conversion.webhookClientConfig`)
//! and wording.

use serde_json::Value;

use super::fieldpath;
use super::model::Node;
use crate::field_error::{FieldError, FieldPath};
use crate::validation::names;

type Errs = Vec<FieldError>;

fn s<'a>(v: &'a Value, k: &str) -> &'a str {
    v.get(k).and_then(Value::as_str).unwrap_or("")
}

fn strs(v: Option<&Value>) -> Vec<&str> {
    v.and_then(Value::as_array)
        .map(|a| a.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default()
}

/// `validateSimpleJSONPath`.
fn simple_json_path(errs: &mut Errs, path: FieldPath, p: &str) -> bool {
    let msg = if p.is_empty() {
        "must not be empty"
    } else if !p.starts_with('.') {
        "must be a simple json path starting with ."
    } else {
        return true;
    };
    errs.push(FieldError::invalid(path, p, msg));
    false
}

/// One `additionalPrinterColumns` entry.
pub(crate) fn column(errs: &mut Errs, col: &Value, path: &FieldPath) {
    const TYPES: &str = "boolean,date,integer,number,string";
    const FORMATS: &str = "byte,date,date-time,double,float,int32,int64,password";
    if s(col, "name").is_empty() {
        errs.push(FieldError::required(path.child("name"), ""));
    }
    match s(col, "type") {
        "" => errs.push(FieldError::required(
            path.child("type"),
            format!("must be one of {TYPES}"),
        )),
        t if !TYPES.split(',').any(|x| x == t) => {
            errs.push(FieldError::invalid(
                path.child("type"),
                t,
                format!("must be one of {TYPES}"),
            ));
        }
        _ => {}
    }
    let f = s(col, "format");
    if !f.is_empty() && !FORMATS.split(',').any(|x| x == f) {
        errs.push(FieldError::invalid(
            path.child("format"),
            f,
            format!("must be one of {FORMATS}"),
        ));
    }
    match s(col, "jsonPath") {
        "" => errs.push(FieldError::required(path.child("JSONPath"), "")),
        p => {
            simple_json_path(errs, path.child("JSONPath"), p);
        }
    }
}

/// `subresources`: the scale paths point under `.spec` / `.status`.
pub(crate) fn subresources(errs: &mut Errs, sub: Option<&Value>, path: &FieldPath) {
    let Some(scale) = sub.and_then(|x| x.get("scale")).filter(|x| !x.is_null()) else {
        return;
    };
    for (key, prefix, msg) in [
        ("specReplicasPath", ".spec.", "should be a json path under .spec"),
        (
            "statusReplicasPath",
            ".status.",
            "should be a json path under .status",
        ),
    ] {
        let p = s(scale, key);
        let fp = path.child(&format!("scale.{key}"));
        if p.is_empty() {
            errs.push(FieldError::required(fp, ""));
        } else if simple_json_path(errs, fp.clone(), p) && !p.starts_with(prefix) {
            errs.push(FieldError::invalid(fp, p, msg));
        }
    }
    let lp = s(scale, "labelSelectorPath");
    if !lp.is_empty() {
        let fp = path.child("scale.labelSelectorPath");
        if simple_json_path(errs, fp.clone(), lp) && !lp.starts_with(".spec.") && !lp.starts_with(".status.")
        {
            errs.push(FieldError::invalid(
                fp,
                lp,
                "should be a json path under either .spec or .status",
            ));
        }
    }
}

/// `selectableFields` against the version's schema.
pub(crate) fn selectable_fields(
    errs: &mut Errs,
    fields: &[Value],
    schema: Option<&Node>,
    path: &FieldPath,
    missing_msg: &str,
) {
    if fields.is_empty() {
        return;
    }
    let Some(schema) = schema else {
        errs.push(FieldError::invalid(path.clone(), "", missing_msg));
        return;
    };
    let mut seen: Vec<String> = Vec::new();
    for (i, f) in fields.iter().enumerate() {
        let jp = s(f, "jsonPath");
        let fp = path.index(i).child("jsonPath");
        if jp.is_empty() {
            errs.push(FieldError::required(fp, ""));
            continue;
        }
        let (normalized, node) = match fieldpath::resolve(jp, schema, false) {
            Ok(x) => x,
            Err(e) => {
                errs.push(FieldError::invalid(fp, jp, format!("is an invalid path: {e}")));
                continue;
            }
        };
        if normalized.split(['.', '[']).next() == Some("metadata") {
            errs.push(FieldError::invalid(
                fp.clone(),
                jp,
                "must not point to fields in metadata",
            ));
        }
        if !matches!(node.ty.as_str(), "string" | "boolean" | "integer") {
            errs.push(FieldError::invalid(
                fp.clone(),
                jp,
                "must point to a field of type string, boolean or integer. Enum string fields and strings with formats are allowed.",
            ));
        }
        if seen.contains(&normalized) {
            errs.push(FieldError::duplicate(fp, jp));
        } else {
            seen.push(normalized);
        }
    }
    if seen.len() > 8 {
        errs.push(FieldError::too_many(path.clone(), seen.len(), 8));
    }
}

/// `ValidateCustomResourceDefinitionNames` (of `spec.names` and `status.acceptedNames`).
pub(crate) fn names(errs: &mut Errs, n: &Value, path: &FieldPath) {
    for key in ["plural", "singular"] {
        let v = s(n, key);
        if !v.is_empty() {
            let m = names::is_dns1035_label(v);
            if !m.is_empty() {
                errs.push(FieldError::invalid(path.child(key), v, m.join(",")));
            }
        }
    }
    for key in ["kind", "listKind"] {
        let v = s(n, key);
        if !v.is_empty() {
            let m = names::is_dns1035_label(&v.to_lowercase());
            if !m.is_empty() {
                errs.push(FieldError::invalid(
                    path.child(key),
                    v,
                    format!("may have mixed case, but should otherwise match: {}", m.join(",")),
                ));
            }
        }
    }
    for (i, short) in strs(n.get("shortNames")).into_iter().enumerate() {
        let m = names::is_dns1035_label(short);
        if !m.is_empty() {
            errs.push(FieldError::invalid(
                path.child("shortNames").index(i),
                short,
                m.join(","),
            ));
        }
    }
    if !s(n, "kind").is_empty() && s(n, "kind") == s(n, "listKind") {
        errs.push(FieldError::invalid(
            path.child("listKind"),
            s(n, "listKind"),
            "kind and listKind may not be the same",
        ));
    }
    for (i, c) in strs(n.get("categories")).into_iter().enumerate() {
        let m = names::is_dns1035_label(c);
        if !m.is_empty() {
            errs.push(FieldError::invalid(
                path.child("categories").index(i),
                c,
                m.join(","),
            ));
        }
    }
}

/// `ValidateCustomResourceDefinitionStoredVersions`.
pub(crate) fn stored_versions(errs: &mut Errs, stored: &[&str], versions: &[Value]) {
    let path = FieldPath::new("status").child("storedVersions");
    let value = Value::from(stored.iter().map(|v| Value::from(*v)).collect::<Vec<_>>());
    if stored.is_empty() {
        errs.push(FieldError::invalid(
            path,
            value,
            "must have at least one stored version",
        ));
        return;
    }
    let names: Vec<&str> = versions.iter().map(|v| s(v, "name")).collect();
    for v in versions {
        if v.get("storage").and_then(Value::as_bool) == Some(true) && !stored.contains(&s(v, "name")) {
            errs.push(FieldError::invalid(
                path.clone(),
                value.clone(),
                format!("must have the storage version {}", s(v, "name")),
            ));
        }
    }
    for (i, v) in stored.iter().enumerate() {
        if !names.contains(v) {
            errs.push(FieldError::invalid(
                path.index(i),
                *v,
                format!(
                    "missing from spec.versions; {v} was previously a storage version, and must remain in spec.versions until a storage migration ensures no data remains persisted in {v} and removes {v} from status.storedVersions"
                ),
            ));
        }
    }
}

const APPROVAL: &str = "api-approved.kubernetes.io";

/// The approval state of a protected group's CRD and the reason.
fn approval_state(annotations: Option<&Value>) -> (u8, String) {
    let a = annotations
        .and_then(|x| x.get(APPROVAL))
        .and_then(Value::as_str)
        .unwrap_or("");
    let url_ok = a.split_once("://").is_some_and(|(scheme, rest)| {
        !scheme.is_empty()
            && scheme
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || "+-.".contains(c))
            && !rest.is_empty()
            && !rest.starts_with('/')
    });
    if a.is_empty() {
        (
            3,
            format!(
                "protected groups must have approval annotation {APPROVAL:?}, see https://github.com/kubernetes/enhancements/pull/1111"
            ),
        )
    } else if a.starts_with("unapproved") {
        (2, format!("not approved: {a:?}"))
    } else if url_ok {
        (1, format!("approved in {a}"))
    } else {
        (
            0,
            format!(
                "protected groups must have approval annotation {APPROVAL:?} with either a URL or a reason starting with \"unapproved\", see https://github.com/kubernetes/enhancements/pull/1111"
            ),
        )
    }
}

/// Groups under `k8s.io` / `kubernetes.io` need the API approval annotation.
pub(crate) fn api_approval(errs: &mut Errs, crd: &Value, old: Option<&Value>) {
    let group = crd.pointer("/spec/group").and_then(Value::as_str).unwrap_or("");
    let protected = group == "k8s.io"
        || group.ends_with(".k8s.io")
        || group == "kubernetes.io"
        || group.ends_with(".kubernetes.io");
    if !protected {
        return;
    }
    let (state, reason) = approval_state(crd.pointer("/metadata/annotations"));
    if let Some(o) = old
        && approval_state(o.pointer("/metadata/annotations")).0 == state
    {
        return;
    }
    let path = FieldPath::new("metadata").child("annotations").key(APPROVAL);
    let value = crd
        .pointer("/metadata/annotations")
        .and_then(|a| a.get(APPROVAL))
        .cloned()
        .unwrap_or(Value::from(""));
    match state {
        3 => errs.push(FieldError::required(path, reason)),
        0 => errs.push(FieldError::invalid(path, value, reason)),
        _ => {}
    }
}

/// A version's `deprecationWarning`.
pub(crate) fn deprecation_warning(errs: &mut Errs, version: &Value, path: &FieldPath) {
    let Some(w) = version.get("deprecationWarning").and_then(Value::as_str) else {
        return;
    };
    let deprecated = version.get("deprecated").and_then(Value::as_bool) == Some(true);
    let mut msgs = Vec::new();
    if !deprecated {
        msgs.push("can only be set for deprecated versions".to_string());
    } else {
        if w.len() > 256 {
            msgs.push("must be <= 256 characters long".into());
        }
        if w.is_empty() {
            msgs.push("must not be an empty string".into());
        }
        if let Some((i, _)) = w.char_indices().find(|(_, c)| c.is_control()) {
            msgs.push(format!(
                "must only contain printable UTF-8 characters; non-printable character found at index {i}"
            ));
        }
    }
    for m in msgs {
        errs.push(FieldError::invalid(path.child("deprecationWarning"), w, m));
    }
}
