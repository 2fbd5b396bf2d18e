//! The "empty object" a creation is compared against.
//!
//! Upstream compares a new built-in object with the zero value of its Go type, in which
//! structs held by value (`metadata`, `spec`, `status`, a pod template, a deployment
//! strategy) already exist, empty. Creating such an object therefore does not add those
//! maps themselves, and Update entries show `"f:spec": {…}` without `".": {}`, while
//! pointer structs and every map of a custom resource do get `".": {}`. Slices without
//! `omitempty` (a pod's `containers`) are `null` there, so they are not added either.
//! Stored objects are compared with those structs filled in (`fill`), as upstream's typed
//! objects always have them.

#[cfg(test)]
use std::borrow::Cow;

use serde_json::{Map, Value};

use super::typed::{Ty, component};
use crate::schema::SchemaNode;

/// Struct fields held by value in built-in kinds' specs (schema, properties).
const VALUE_STRUCTS: &[(&str, &[&str])] = &[
    (
        "io.k8s.api.apps.v1.DaemonSetSpec",
        &["template", "updateStrategy"],
    ),
    ("io.k8s.api.apps.v1.DeploymentSpec", &["strategy", "template"]),
    ("io.k8s.api.apps.v1.ReplicaSetSpec", &["template"]),
    (
        "io.k8s.api.apps.v1.StatefulSetSpec",
        &["template", "updateStrategy"],
    ),
    ("io.k8s.api.batch.v1.CronJobSpec", &["jobTemplate"]),
    ("io.k8s.api.batch.v1.JobSpec", &["template"]),
    ("io.k8s.api.batch.v1.JobTemplateSpec", &["metadata", "spec"]),
    ("io.k8s.api.core.v1.PodTemplateSpec", &["metadata", "spec"]),
];

/// Granular lists a zero object holds as `null` (schema, properties).
const NULL_FIELDS: &[(&str, &[&str])] = &[("io.k8s.api.core.v1.PodSpec", &["containers"])];

fn fields_of(table: &[(&'static str, &'static [&'static str])], name: &str) -> &'static [&'static str] {
    table
        .iter()
        .find(|(schema, _)| *schema == name)
        .map(|(_, fields)| *fields)
        .unwrap_or_default()
}

/// The zero object of the type: `{}`, plus the by-value structs of a built-in kind (one
/// whose `spec`/`status` are references to named schemas, which CRD schemas never are).
pub(crate) fn zero_object(ty: Ty<'_>) -> Value {
    let mut out = Map::new();
    if let Ty::Root(Some(root)) = ty {
        for field in ["metadata", "spec", "status"] {
            if let Some(prop) = root.property(field)
                && component(&prop).is_some()
            {
                out.insert(field.into(), zero_struct(&prop, 0));
            }
        }
    }
    Value::Object(out)
}

fn zero_struct(node: &SchemaNode<'_>, depth: usize) -> Value {
    let mut out = Map::new();
    let name = component(node).unwrap_or_default();
    if depth < 8 {
        for field in fields_of(VALUE_STRUCTS, name) {
            if let Some(prop) = node.property(field) {
                out.insert((*field).into(), zero_struct(&prop, depth + 1));
            }
        }
    }
    for field in fields_of(NULL_FIELDS, name) {
        out.insert((*field).into(), Value::Null);
    }
    Value::Object(out)
}

/// `v` with the structs of `zero` added where `v` lacks them (or has `null`), the way a
/// typed Go object always holds them. Only used to compare; the objects are not changed.
#[cfg(test)]
pub(crate) fn fill<'v>(v: &'v Value, zero: &Value) -> Cow<'v, Value> {
    let (Value::Object(map), Value::Object(zmap)) = (v, zero) else {
        return Cow::Borrowed(v);
    };
    if zmap.is_empty() {
        return Cow::Borrowed(v);
    }
    let mut out = map.clone();
    for (key, zv) in zmap {
        let filled = match map.get(key) {
            None | Some(Value::Null) => zv.clone(),
            Some(existing) => fill(existing, zv).into_owned(),
        };
        out.insert(key.clone(), filled);
    }
    Cow::Owned(Value::Object(out))
}
