//! `metadata` of custom resources and of the resources they embed
//! (`x-kubernetes-embedded-resource`): upstream decodes it into an `ObjectMeta`, which drops
//! unknown fields, refuses values of the wrong type and omits empty ones; and it validates
//! embedded `apiVersion`, `kind` and `metadata` as it validates any object's.

use serde_json::{Map, Value};

use super::model::Node;
use super::util::MAX_DEPTH;
use crate::field_error::{FieldError, FieldPath};
use crate::validation::names;

/// The Go type of an ObjectMeta field, for decoding.
#[derive(Clone, Copy)]
enum Kind {
    Str,
    Int,
    Time,
    StrMap,
    StrList,
    OwnerRefs,
    ManagedFields,
}

const FIELDS: &[(&str, Kind)] = &[
    ("name", Kind::Str),
    ("generateName", Kind::Str),
    ("namespace", Kind::Str),
    ("selfLink", Kind::Str),
    ("uid", Kind::Str),
    ("resourceVersion", Kind::Str),
    ("generation", Kind::Int),
    ("creationTimestamp", Kind::Time),
    ("deletionTimestamp", Kind::Time),
    ("deletionGracePeriodSeconds", Kind::Int),
    ("labels", Kind::StrMap),
    ("annotations", Kind::StrMap),
    ("ownerReferences", Kind::OwnerRefs),
    ("finalizers", Kind::StrList),
    ("managedFields", Kind::ManagedFields),
];

const OWNER_REF_FIELDS: &[(&str, bool)] = &[
    ("apiVersion", false),
    ("kind", false),
    ("name", false),
    ("uid", false),
    ("controller", true),
    ("blockOwnerDeletion", true),
];

const MANAGED_FIELDS: &[&str] = &[
    "manager",
    "operation",
    "apiVersion",
    "time",
    "fieldsType",
    "fieldsV1",
    "subresource",
];

fn json_kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "bool",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    }
}

fn unmarshal_error(v: &Value, field: &str, go_type: &str) -> String {
    format!(
        "json: cannot unmarshal {} into Go struct field ObjectMeta.{field} of type {go_type}",
        json_kind(v)
    )
}

/// True for what Go's `omitempty` leaves out when ObjectMeta is written back.
fn is_empty(v: &Value) -> bool {
    match v {
        Value::Null => true,
        Value::String(s) => s.is_empty(),
        Value::Number(n) => n.as_f64() == Some(0.0),
        Value::Array(a) => a.is_empty(),
        Value::Object(o) => o.is_empty(),
        Value::Bool(_) => false,
    }
}

/// Decodes `metadata` like a round trip through ObjectMeta: unknown fields are dropped (their
/// paths, under `prefix`, go to `unknown`), empty ones omitted; a wrong type is an error
/// worded like Go's JSON decoder.
pub(crate) fn coerce_meta(meta: &mut Value, prefix: &str, unknown: &mut Vec<String>) -> Result<(), String> {
    if meta.is_null() {
        *meta = Value::Object(Map::new());
        return Ok(());
    }
    let Value::Object(m) = meta else {
        return Err(format!(
            "json: cannot unmarshal {} into Go value of type v1.ObjectMeta",
            json_kind(meta)
        ));
    };
    let mut error = None;
    m.retain(|k, v| {
        let Some((_, kind)) = FIELDS.iter().find(|(f, _)| f == k) else {
            unknown.push(format!("{prefix}.{k}"));
            return false;
        };
        if v.is_null() {
            return false;
        }
        if let Err(e) = check(*kind, k, v, &format!("{prefix}.{k}"), unknown) {
            error.get_or_insert(e);
        }
        !is_empty(v)
    });
    error.map_or(Ok(()), Err)
}

fn check(
    kind: Kind,
    field: &str,
    v: &mut Value,
    path: &str,
    unknown: &mut Vec<String>,
) -> Result<(), String> {
    match kind {
        Kind::Str if !v.is_string() => Err(unmarshal_error(v, field, "string")),
        Kind::Int if v.as_i64().is_none() => Err(unmarshal_error(v, field, "int64")),
        Kind::Time => match v.as_str() {
            Some(t) if t.parse::<jiff::Timestamp>().is_ok() => Ok(()),
            Some(t) => Err(format!(
                "parsing time {t:?} as \"2006-01-02T15:04:05Z07:00\": cannot parse"
            )),
            None => Err(unmarshal_error(v, field, "string")),
        },
        Kind::StrMap => match v {
            Value::Object(m) => match m.values().find(|x| !x.is_string() && !x.is_null()) {
                Some(bad) => Err(unmarshal_error(bad, field, "string")),
                None => {
                    m.retain(|_, x| !x.is_null());
                    Ok(())
                }
            },
            other => Err(unmarshal_error(other, field, "map[string]string")),
        },
        Kind::StrList => match v {
            Value::Array(a) => match a.iter().find(|x| !x.is_string()) {
                Some(bad) => Err(unmarshal_error(bad, field, "string")),
                None => Ok(()),
            },
            other => Err(unmarshal_error(other, field, "[]string")),
        },
        Kind::OwnerRefs => items(v, field, "[]v1.OwnerReference", |i, item| {
            let Value::Object(r) = item else {
                return Err(unmarshal_error(item, field, "v1.OwnerReference"));
            };
            let mut err = None;
            r.retain(|k, x| match OWNER_REF_FIELDS.iter().find(|(f, _)| f == k) {
                None => {
                    unknown.push(format!("{path}[{i}].{k}"));
                    false
                }
                Some((_, is_bool)) => {
                    let ok = x.is_null() || if *is_bool { x.is_boolean() } else { x.is_string() };
                    if !ok {
                        let ty = if *is_bool { "bool" } else { "string" };
                        err.get_or_insert(unmarshal_error(x, field, ty));
                    }
                    !x.is_null()
                }
            });
            err.map_or(Ok(()), Err)
        }),
        Kind::ManagedFields => items(v, field, "[]v1.ManagedFieldsEntry", |i, item| {
            let Value::Object(r) = item else {
                return Err(unmarshal_error(item, field, "v1.ManagedFieldsEntry"));
            };
            r.retain(|k, x| {
                if MANAGED_FIELDS.contains(&k.as_str()) {
                    !x.is_null()
                } else {
                    unknown.push(format!("{path}[{i}].{k}"));
                    false
                }
            });
            Ok(())
        }),
        _ => Ok(()),
    }
}

fn items(
    v: &mut Value,
    field: &str,
    go_type: &str,
    mut each: impl FnMut(usize, &mut Value) -> Result<(), String>,
) -> Result<(), String> {
    let Value::Array(a) = v else {
        return Err(unmarshal_error(v, field, go_type));
    };
    for (i, item) in a.iter_mut().enumerate() {
        each(i, item)?;
    }
    Ok(())
}

/// `schemaobjectmeta.Coerce` below the root: embedded resources' `apiVersion`/`kind` must be
/// strings and their `metadata` is decoded as ObjectMeta.
pub(crate) fn coerce_embedded(
    x: &mut Value,
    s: &Node,
    path: &FieldPath,
    unknown: &mut Vec<String>,
    depth: usize,
) -> Result<(), FieldError> {
    if depth > MAX_DEPTH || s.opaque {
        return Ok(());
    }
    match x {
        Value::Object(map) => {
            if s.embedded {
                for k in ["apiVersion", "kind"] {
                    if let Some(v) = map.get(k)
                        && !v.is_string()
                    {
                        return Err(FieldError::invalid(path.child(k), v.clone(), "must be a string"));
                    }
                }
                if let Some(meta) = map.get_mut("metadata") {
                    let original = meta.clone();
                    let prefix = path.child("metadata");
                    if let Err(e) = coerce_meta(meta, prefix.as_str(), unknown) {
                        return Err(FieldError::invalid(prefix, original, e));
                    }
                }
            }
            for (k, v) in map.iter_mut() {
                if s.embedded && k == "metadata" {
                    continue;
                }
                if let Some(p) = s.properties.get(k) {
                    coerce_embedded(v, p, &path.child(k), unknown, depth + 1)?;
                } else if let Some(a) = s.additional_schema() {
                    coerce_embedded(v, a, &path.key(k), unknown, depth + 1)?;
                }
            }
        }
        Value::Array(items) => {
            if let Some(item) = s.items.as_deref() {
                for (i, v) in items.iter_mut().enumerate() {
                    coerce_embedded(v, item, &path.index(i), unknown, depth + 1)?;
                }
            }
        }
        _ => {}
    }
    Ok(())
}

/// `schemaobjectmeta.Validate` below the root: embedded resources need `apiVersion` and
/// `kind`, and their metadata is validated as any object's (names as path segments).
pub(crate) fn validate_embedded(
    x: &Value,
    s: &Node,
    path: &FieldPath,
    errs: &mut Vec<FieldError>,
    depth: usize,
) {
    if depth > MAX_DEPTH || s.opaque {
        return;
    }
    match x {
        Value::Object(map) => {
            if s.embedded {
                embedded_resource(map, path, errs);
            }
            for (k, v) in map {
                if let Some(p) = s.properties.get(k) {
                    validate_embedded(v, p, &path.child(k), errs, depth + 1);
                } else if let Some(a) = s.additional_schema() {
                    validate_embedded(v, a, &path.key(k), errs, depth + 1);
                }
            }
        }
        Value::Array(items) => {
            if let Some(item) = s.items.as_deref() {
                for (i, v) in items.iter().enumerate() {
                    validate_embedded(v, item, &path.index(i), errs, depth + 1);
                }
            }
        }
        _ => {}
    }
}

fn embedded_resource(x: &Map<String, Value>, path: &FieldPath, errs: &mut Vec<FieldError>) {
    if !x.contains_key("apiVersion") {
        errs.push(FieldError::required(path.child("apiVersion"), ""));
    }
    if !x.contains_key("kind") {
        errs.push(FieldError::required(path.child("kind"), ""));
    }
    for (k, v) in x {
        match k.as_str() {
            "apiVersion" => match v.as_str() {
                None => errs.push(FieldError::invalid(path.child(k), v.clone(), "must be a string")),
                Some("") => errs.push(FieldError::invalid(path.child(k), "", "must not be empty")),
                Some(av) if av.matches('/').count() > 1 => errs.push(FieldError::invalid(
                    path.child(k),
                    av,
                    format!("unexpected GroupVersion string: {av}"),
                )),
                Some(_) => {}
            },
            "kind" => match v.as_str() {
                None => errs.push(FieldError::invalid(path.child(k), v.clone(), "must be a string")),
                Some("") => errs.push(FieldError::invalid(path.child(k), "", "must not be empty")),
                Some(kind) => {
                    let msgs = names::is_dns1035_label(&kind.to_lowercase());
                    if !msgs.is_empty() {
                        errs.push(FieldError::invalid(
                            path.child(k),
                            kind,
                            format!(
                                "may have mixed case, but should otherwise match: {}",
                                msgs.join(",")
                            ),
                        ));
                    }
                }
            },
            "metadata" => {
                let mut meta = v.clone();
                let mut ignored = Vec::new();
                if let Err(e) = coerce_meta(&mut meta, "metadata", &mut ignored) {
                    errs.push(FieldError::invalid(path.child("metadata"), v.clone(), e));
                    continue;
                }
                if meta.get("name").and_then(Value::as_str).unwrap_or("").is_empty()
                    && let Some(m) = meta.as_object_mut()
                {
                    // Upstream validates with a placeholder when the name is unset.
                    m.insert("name".into(), Value::from("fakename"));
                }
                errs.extend(crate::validation::crd::embedded_object_meta(&meta, path));
            }
            _ => {}
        }
    }
}
