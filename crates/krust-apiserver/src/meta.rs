//! Server-managed metadata: what the API server sets on create and carries over on update
//! (uid, creationTimestamp, generation, deletion fields), as upstream's `BeforeCreate` and
//! `BeforeUpdate` do.

use krust_api::{ApiError, FieldError, registry::ResourceDef};
use rand::Rng;
use serde_json::{Map, Value};

/// Current time as upstream serializes `metav1.Time` (seconds precision, UTC).
pub fn now_rfc3339() -> String {
    jiff::Timestamp::now().strftime("%Y-%m-%dT%H:%M:%SZ").to_string()
}

/// Returns `obj.metadata` as a mutable map, creating it if needed.
pub fn meta_mut(obj: &mut Value) -> Option<&mut Map<String, Value>> {
    let map = obj.as_object_mut()?;
    let meta = map.entry("metadata").or_insert_with(|| Value::Object(Map::new()));
    if !meta.is_object() {
        *meta = Value::Object(Map::new());
    }
    meta.as_object_mut()
}

/// A string field of `metadata`.
pub fn meta_str<'a>(obj: &'a Value, field: &str) -> Option<&'a str> {
    obj.get("metadata")?.get(field)?.as_str()
}

const NAME_CHARS: &[u8] = b"bcdfghjklmnpqrstvwxz2456789";

/// The suffix upstream appends to `generateName`.
pub fn random_suffix() -> String {
    let mut rng = rand::rng();
    (0..5)
        .map(|_| NAME_CHARS[rng.random_range(0..NAME_CHARS.len())] as char)
        .collect()
}

/// Prepares metadata of a new object: namespace from the path, name from generateName,
/// uid, creationTimestamp, generation; clears fields clients may not set on create.
pub fn prepare_create(def: &ResourceDef, path_ns: Option<&str>, obj: &mut Value) -> Result<(), ApiError> {
    let namespaced = def.namespaced;
    let Some(meta) = meta_mut(obj) else {
        return Err(ApiError::bad_request("the object must be a JSON object"));
    };
    if meta
        .get("resourceVersion")
        .and_then(Value::as_str)
        .is_some_and(|s| !s.is_empty())
    {
        return Err(ApiError::bad_request(
            "resourceVersion should not be set on objects to be created",
        ));
    }
    if namespaced {
        let body_ns = meta.get("namespace").and_then(Value::as_str).unwrap_or("");
        match path_ns {
            Some(ns) if body_ns.is_empty() || body_ns == ns => {
                meta.insert("namespace".into(), Value::String(ns.to_string()));
            }
            Some(_) => {
                return Err(ApiError::bad_request(
                    "the namespace of the provided object does not match the namespace sent on the request",
                ));
            }
            None => {
                return Err(ApiError::bad_request(
                    "a namespace must be given in the request path for a namespaced resource",
                ));
            }
        }
    } else {
        meta.remove("namespace");
    }
    let name = meta.get("name").and_then(Value::as_str).unwrap_or("").to_string();
    let gen_name = meta
        .get("generateName")
        .and_then(Value::as_str)
        .unwrap_or("")
        .to_string();
    if name.is_empty() && !gen_name.is_empty() {
        meta.insert(
            "name".into(),
            Value::String(format!("{gen_name}{}", random_suffix())),
        );
    }
    meta.insert("uid".into(), Value::String(uuid::Uuid::new_v4().to_string()));
    meta.insert("creationTimestamp".into(), Value::String(now_rfc3339()));
    for f in ["deletionTimestamp", "deletionGracePeriodSeconds", "selfLink"] {
        meta.remove(f);
    }
    if def.custom.is_some() || krust_api::defaults::tracks_generation(&def.storage_group, &def.kind) {
        meta.insert("generation".into(), Value::from(1));
    } else {
        meta.remove("generation");
    }
    Ok(())
}

/// The part of an object a generation counts: everything but metadata and status (as a
/// sorted map, so key order never counts as a change).
fn spec_part(obj: &Value) -> std::collections::BTreeMap<&String, &Value> {
    obj.as_object()
        .map(|m| {
            m.iter()
                .filter(|(k, _)| !matches!(k.as_str(), "metadata" | "status" | "apiVersion" | "kind"))
                .collect()
        })
        .unwrap_or_default()
}

/// Carries server-managed metadata from `old` into `new` on update and bumps the
/// generation when the spec changed. Returns field errors for forbidden changes.
pub fn prepare_update(def: &ResourceDef, old: &Value, new: &mut Value) -> Result<(), ApiError> {
    let old_meta = old
        .get("metadata")
        .and_then(Value::as_object)
        .cloned()
        .unwrap_or_default();
    let spec_changed = spec_part(old) != spec_part(new);
    let Some(meta) = meta_mut(new) else {
        return Err(ApiError::bad_request("the object must be a JSON object"));
    };
    if let Some(uid) = meta.get("uid").and_then(Value::as_str).filter(|u| !u.is_empty()) {
        let old_uid = old_meta.get("uid").and_then(Value::as_str).unwrap_or("");
        if uid != old_uid {
            let name = old_meta.get("name").and_then(Value::as_str).unwrap_or("");
            return Err(ApiError::conflict(
                def.target(),
                name,
                &format!("Precondition failed: UID in precondition: {uid}, UID in object meta: {old_uid}"),
            ));
        }
    }
    for f in [
        "uid",
        "creationTimestamp",
        "deletionTimestamp",
        "deletionGracePeriodSeconds",
        "generation",
        "namespace",
        "name",
    ] {
        match old_meta.get(f) {
            Some(v) => {
                meta.insert(f.into(), v.clone());
            }
            None => {
                meta.remove(f);
            }
        }
    }
    meta.remove("selfLink");
    if let Some(g) = meta.get("generation").and_then(Value::as_i64)
        && spec_changed
    {
        meta.insert("generation".into(), Value::from(g + 1));
    }
    let deleting = old_meta.get("deletionTimestamp").is_some();
    if deleting {
        let old_f: Vec<&Value> = old_meta
            .get("finalizers")
            .and_then(Value::as_array)
            .map(|a| a.iter().collect())
            .unwrap_or_default();
        let new_f = meta
            .get("finalizers")
            .and_then(Value::as_array)
            .cloned()
            .unwrap_or_default();
        if new_f.iter().any(|f| !old_f.contains(&f)) {
            let name = old_meta.get("name").and_then(Value::as_str).unwrap_or("");
            return Err(ApiError::invalid(
                def.target(),
                name,
                &[FieldError::forbidden(
                    "metadata.finalizers",
                    "no new finalizers can be added if the object is being deleted",
                )],
            ));
        }
    }
    Ok(())
}

/// Whether the object is marked for deletion and has no finalizers left (for a Namespace,
/// also none in `spec.finalizers`: the namespace controller empties it first).
pub fn ready_to_delete(obj: &Value) -> bool {
    let Some(meta) = obj.get("metadata") else {
        return false;
    };
    let namespace_held = obj.get("kind").and_then(Value::as_str) == Some("Namespace")
        && obj.get("apiVersion").and_then(Value::as_str) == Some("v1")
        && obj
            .pointer("/spec/finalizers")
            .and_then(Value::as_array)
            .is_some_and(|f| !f.is_empty());
    meta.get("deletionTimestamp").is_some_and(|t| !t.is_null())
        && !namespace_held
        && meta
            .get("finalizers")
            .and_then(Value::as_array)
            .is_none_or(|f| f.is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;
    use krust_api::registry::{Registry, built_in};
    use serde_json::json;

    fn def(plural: &str, group: &str) -> ResourceDef {
        Registry::new(built_in())
            .find(group, "v1", plural)
            .cloned()
            .unwrap()
    }

    #[test]
    fn create_sets_server_fields() {
        let d = def("deployments", "apps");
        let mut obj = json!({"metadata": {"generateName": "web-", "selfLink": "x"}, "spec": {}});
        prepare_create(&d, Some("default"), &mut obj).unwrap();
        let name = obj["metadata"]["name"].as_str().unwrap();
        assert!(name.starts_with("web-") && name.len() == 9);
        assert_eq!(obj["metadata"]["namespace"], "default");
        assert_eq!(obj["metadata"]["generation"], 1);
        assert!(obj["metadata"]["uid"].as_str().unwrap().len() == 36);
        assert!(obj["metadata"].get("selfLink").is_none());
        let mut bad = json!({"metadata": {"name": "x", "namespace": "other"}});
        assert_eq!(
            prepare_create(&d, Some("default"), &mut bad).unwrap_err().code,
            400
        );
        let mut rv = json!({"metadata": {"name": "x", "resourceVersion": "5"}});
        assert_eq!(
            prepare_create(&d, Some("default"), &mut rv).unwrap_err().code,
            400
        );
    }

    #[test]
    fn update_bumps_generation_on_spec_change_only() {
        let d = def("deployments", "apps");
        let old = json!({"metadata": {"name": "x", "uid": "u", "generation": 3, "creationTimestamp": "t"}, "spec": {"replicas": 1}, "status": {"a": 1}});
        let mut same = json!({"metadata": {"name": "x", "labels": {"a": "b"}}, "spec": {"replicas": 1}, "status": {"a": 2}});
        prepare_update(&d, &old, &mut same).unwrap();
        assert_eq!(same["metadata"]["generation"], 3);
        assert_eq!(same["metadata"]["uid"], "u");
        let mut changed = json!({"metadata": {"name": "x"}, "spec": {"replicas": 2}});
        prepare_update(&d, &old, &mut changed).unwrap();
        assert_eq!(changed["metadata"]["generation"], 4);
        let mut wrong_uid = json!({"metadata": {"name": "x", "uid": "v"}});
        assert_eq!(prepare_update(&d, &old, &mut wrong_uid).unwrap_err().code, 409);
    }

    #[test]
    fn no_new_finalizers_while_deleting() {
        let d = def("configmaps", "");
        let old = json!({"metadata": {"name": "x", "deletionTimestamp": "t", "finalizers": ["a"]}});
        let mut new = json!({"metadata": {"name": "x", "finalizers": ["a", "b"]}});
        assert_eq!(prepare_update(&d, &old, &mut new).unwrap_err().code, 422);
        let mut fewer = json!({"metadata": {"name": "x", "finalizers": []}});
        prepare_update(&d, &old, &mut fewer).unwrap();
        assert!(ready_to_delete(&fewer));
    }
}
