//! CustomResourceDefinitions: the API server serves the resources a CRD defines as soon as
//! it is accepted — registry entries (so discovery, routing and tables follow), a watch
//! cache, schemas for validation, pruning and OpenAPI — and keeps the CRD's status
//! (NamesAccepted, Established, acceptedNames, storedVersions) as upstream's
//! apiextensions-apiserver does. Deleting a CRD deletes its objects first.

use std::collections::HashMap;
use std::sync::Arc;

use krust_api::registry::{ALL_VERBS, CustomInfo, PrinterColumn, ResourceDef, ScalePaths, Subresource};
use serde_json::{Value, json};
use tokio_util::sync::CancellationToken;

use crate::{
    cache::{CacheSpec, WatchKind},
    meta,
    state::{State, Written},
};

/// The finalizer that holds a CRD until its objects are gone.
pub const CLEANUP_FINALIZER: &str = "customresourcecleanup.apiextensions.k8s.io";

const STATUS_VERBS: &[&str] = &["get", "patch", "update"];

fn s<'a>(v: &'a Value, path: &str) -> &'a str {
    v.pointer(path).and_then(Value::as_str).unwrap_or("")
}

/// The component schema name of a custom kind (upstream reverses the group: `com.example`).
pub fn schema_name(group: &str, version: &str, kind: &str) -> String {
    let reversed: Vec<&str> = group.split('.').rev().collect();
    format!("{}.{version}.{kind}", reversed.join("."))
}

/// The versions a CRD serves, in its order.
fn versions(crd: &Value) -> Vec<&Value> {
    crd.pointer("/spec/versions")
        .and_then(Value::as_array)
        .map(|v| {
            v.iter()
                .filter(|v| v.get("served").and_then(Value::as_bool) == Some(true))
                .collect()
        })
        .unwrap_or_default()
}

fn storage_version(crd: &Value) -> String {
    crd.pointer("/spec/versions")
        .and_then(Value::as_array)
        .and_then(|vs| {
            vs.iter()
                .find(|v| v.get("storage").and_then(Value::as_bool) == Some(true))
        })
        .and_then(|v| v.get("name"))
        .and_then(Value::as_str)
        .unwrap_or("")
        .to_string()
}

fn strings(v: Option<&Value>) -> Vec<String> {
    v.and_then(Value::as_array)
        .map(|a| a.iter().filter_map(Value::as_str).map(str::to_string).collect())
        .unwrap_or_default()
}

/// The resources a CRD defines, one per served version.
pub fn resources(crd: &Value) -> Vec<ResourceDef> {
    let group = s(crd, "/spec/group").to_string();
    let kind = s(crd, "/spec/names/kind").to_string();
    let plural = s(crd, "/spec/names/plural").to_string();
    let singular = match s(crd, "/spec/names/singular") {
        "" => kind.to_lowercase(),
        other => other.to_string(),
    };
    let namespaced = s(crd, "/spec/scope") != "Cluster";
    let storage = storage_version(crd);
    versions(crd)
        .into_iter()
        .map(|v| {
            let version = s(v, "/name").to_string();
            let mut subresources = Vec::new();
            if v.pointer("/subresources/status").is_some() {
                subresources.push(Subresource {
                    name: "status",
                    group: "",
                    version: "",
                    kind: "",
                    verbs: STATUS_VERBS,
                });
            }
            let scale = v.pointer("/subresources/scale").map(|sc| ScalePaths {
                spec_replicas: s(sc, "/specReplicasPath").to_string(),
                status_replicas: s(sc, "/statusReplicasPath").to_string(),
                label_selector: sc
                    .get("labelSelectorPath")
                    .and_then(Value::as_str)
                    .map(str::to_string),
            });
            if scale.is_some() {
                subresources.push(Subresource {
                    name: "scale",
                    group: "autoscaling",
                    version: "v1",
                    kind: "Scale",
                    verbs: STATUS_VERBS,
                });
            }
            let columns = v
                .get("additionalPrinterColumns")
                .and_then(Value::as_array)
                .map(|cols| {
                    cols.iter()
                        .map(|c| PrinterColumn {
                            name: s(c, "/name").to_string(),
                            type_: s(c, "/type").to_string(),
                            format: s(c, "/format").to_string(),
                            description: s(c, "/description").to_string(),
                            priority: c.get("priority").and_then(Value::as_i64).unwrap_or(0),
                            json_path: s(c, "/jsonPath").to_string(),
                        })
                        .collect()
                })
                .unwrap_or_default();
            ResourceDef {
                group: group.clone(),
                version: version.clone(),
                kind: kind.clone(),
                plural: plural.clone(),
                singular: singular.clone(),
                namespaced,
                verbs: ALL_VERBS.to_vec(),
                short_names: strings(crd.pointer("/spec/names/shortNames")),
                categories: strings(crd.pointer("/spec/names/categories")),
                subresources,
                storage_group: group.clone(),
                storage_plural: plural.clone(),
                storage_version: storage.clone(),
                schema: Some(schema_name(&group, &version, &kind)),
                ephemeral: false,
                custom: Some(CustomInfo {
                    columns,
                    scale,
                    crd: s(crd, "/metadata/name").to_string(),
                }),
            }
        })
        .collect()
}

/// The OpenAPI component schema of a served version: its `openAPIV3Schema` with
/// apiVersion, kind and metadata described and the GVK extension kubectl looks for.
pub fn component_schema(crd: &Value, version: &Value) -> Value {
    let group = s(crd, "/spec/group");
    let kind = s(crd, "/spec/names/kind");
    let mut schema = version
        .pointer("/schema/openAPIV3Schema")
        .cloned()
        .unwrap_or_else(|| json!({"type": "object", "x-kubernetes-preserve-unknown-fields": true}));
    if let Some(m) = schema.as_object_mut() {
        let props = m.entry("properties").or_insert_with(|| json!({}));
        if let Some(p) = props.as_object_mut() {
            p.insert("apiVersion".into(), json!({"type": "string", "description": "APIVersion defines the versioned schema of this representation of an object."}));
            p.insert("kind".into(), json!({"type": "string", "description": "Kind is a string value representing the REST resource this object represents."}));
            p.insert(
                "metadata".into(),
                json!({"$ref": "#/components/schemas/io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta"}),
            );
        }
        m.entry("type").or_insert_with(|| json!("object"));
        m.insert(
            "x-kubernetes-group-version-kind".into(),
            json!([{"group": group, "version": s(version, "/name"), "kind": kind}]),
        );
    }
    schema
}

/// True when the CRD is marked for deletion.
fn terminating(crd: &Value) -> bool {
    crd.pointer("/metadata/deletionTimestamp")
        .is_some_and(|t| !t.is_null())
}

/// Registers (or re-registers) everything a CRD serves.
async fn serve(state: &State, crd: &Value) -> Result<(), String> {
    let name = s(crd, "/metadata/name").to_string();
    let defs = resources(crd);
    if let Some(first) = defs.first() {
        let spec = CacheSpec {
            prefix: first.storage_prefix(),
            group: first.group.clone(),
            kind: first.kind.clone(),
            namespaced: first.namespaced,
        };
        state
            .cache
            .add_loaded(state.store.as_ref(), spec)
            .await
            .map_err(|e| e.to_string())?;
    }
    let mut schemas = HashMap::new();
    let mut compiled = HashMap::new();
    for v in versions(crd) {
        let key = (
            s(crd, "/spec/group").to_string(),
            s(v, "/name").to_string(),
            s(crd, "/spec/names/kind").to_string(),
        );
        schemas.insert(key.clone(), Arc::new(component_schema(crd, v)));
        // Compiled from the raw schema: `component_schema` replaces metadata with a $ref.
        let raw = v
            .pointer("/schema/openAPIV3Schema")
            .cloned()
            .unwrap_or_else(|| json!({"type": "object", "x-kubernetes-preserve-unknown-fields": true}));
        compiled.insert(key, Arc::new(krust_api::crd::CompiledSchema::new(&raw)));
    }
    {
        let mut reg = state.registry.write();
        if let Some(old) = state.crd_served.write().insert(
            name.clone(),
            (
                s(crd, "/spec/group").to_string(),
                s(crd, "/spec/names/plural").to_string(),
            ),
        ) {
            reg.remove(&old.0, &old.1);
        }
        for d in defs {
            reg.upsert(d);
        }
    }
    state
        .crd_schemas
        .write()
        .retain(|(g, _, k), _| !(g == s(crd, "/spec/group") && k == s(crd, "/spec/names/kind")));
    state.crd_schemas.write().extend(schemas);
    state
        .crd_compiled
        .write()
        .retain(|(g, _, k), _| !(g == s(crd, "/spec/group") && k == s(crd, "/spec/names/kind")));
    state.crd_compiled.write().extend(compiled);
    state.openapi.invalidate();
    Ok(())
}

/// Stops serving what a deleted CRD served.
fn unserve(state: &State, crd_name: &str) {
    if let Some((group, plural)) = state.crd_served.write().remove(crd_name) {
        let kind = state
            .registry
            .read()
            .all()
            .iter()
            .find(|r| r.group == group && r.plural == plural)
            .map(|r| r.kind.clone());
        state.registry.write().remove(&group, &plural);
        if let Some(kind) = kind {
            state
                .crd_schemas
                .write()
                .retain(|(g, _, k), _| !(*g == group && *k == kind));
            state
                .crd_compiled
                .write()
                .retain(|(g, _, k), _| !(*g == group && *k == kind));
        }
        state.openapi.invalidate();
    }
}

/// Whether another CRD or a built-in resource already uses the names.
fn names_conflict(state: &State, crd: &Value) -> Option<String> {
    let group = s(crd, "/spec/group");
    let plural = s(crd, "/spec/names/plural");
    let me = s(crd, "/metadata/name");
    let reg = state.registry.read();
    reg.all()
        .iter()
        .find(|r| r.group == group && r.plural == plural && r.custom.as_ref().is_none_or(|c| c.crd != me))
        .map(|_| format!("\"{plural}\" is already in use"))
}

fn condition(ty: &str, status: bool, reason: &str, message: &str, now: &str) -> Value {
    json!({"type": ty, "status": if status { "True" } else { "False" }, "reason": reason, "message": message, "lastTransitionTime": now})
}

/// The status a CRD should have.
fn desired_status(crd: &Value, conflict: Option<&str>) -> Value {
    let now = meta::now_rfc3339();
    let old = crd.get("status").cloned().unwrap_or(json!({}));
    let keep_time = |ty: &str, status: &str| -> Option<String> {
        old.get("conditions")?
            .as_array()?
            .iter()
            .find(|c| {
                c.get("type").and_then(Value::as_str) == Some(ty)
                    && c.get("status").and_then(Value::as_str) == Some(status)
            })?
            .get("lastTransitionTime")?
            .as_str()
            .map(str::to_string)
    };
    let mut names = crd.pointer("/spec/names").cloned().unwrap_or(json!({}));
    if let Some(n) = names.as_object_mut() {
        let kind = n.get("kind").and_then(Value::as_str).unwrap_or("").to_string();
        n.entry("singular").or_insert_with(|| json!(kind.to_lowercase()));
        n.entry("listKind")
            .or_insert_with(|| json!(format!("{kind}List")));
    }
    let mut conditions = Vec::new();
    let mut stored = strings(old.get("storedVersions"));
    match conflict {
        Some(msg) => {
            let t = keep_time("NamesAccepted", "False").unwrap_or_else(|| now.clone());
            conditions.push(condition("NamesAccepted", false, "AlreadyInUse", msg, &t));
            conditions.push(condition(
                "Established",
                false,
                "NotAccepted",
                "not all names are accepted",
                &t,
            ));
        }
        None => {
            let t1 = keep_time("NamesAccepted", "True").unwrap_or_else(|| now.clone());
            let t2 = keep_time("Established", "True").unwrap_or_else(|| now.clone());
            conditions.push(condition(
                "NamesAccepted",
                true,
                "NoConflicts",
                "no conflicts found",
                &t1,
            ));
            conditions.push(condition(
                "Established",
                true,
                "InitialNamesAccepted",
                "the initial names have been accepted",
                &t2,
            ));
            let sv = storage_version(crd);
            if !sv.is_empty() && !stored.contains(&sv) {
                stored.push(sv);
            }
        }
    }
    if terminating(crd) {
        conditions.push(condition(
            "Terminating",
            true,
            "InstanceDeletionInProgress",
            "CustomResource deletion is in progress",
            &now,
        ));
    }
    json!({"conditions": conditions, "acceptedNames": if conflict.is_some() { old.get("acceptedNames").cloned().unwrap_or(json!({"kind": "", "plural": ""})) } else { names }, "storedVersions": stored})
}

/// Writes the CRD's status if it differs (as the apiextensions controllers do).
async fn write_status(state: &State, key: &str, crd: &Value, status: Value) {
    if crd.get("status") == Some(&status) {
        return;
    }
    let Ok(Some(cur)) = state.read(key).await else {
        return;
    };
    let mut new = cur.value.clone();
    if let Some(m) = new.as_object_mut() {
        m.insert("status".into(), status);
    }
    if let Written::Conflict = state
        .replace(key, cur.rv, &cur.value, &new)
        .await
        .unwrap_or(Written::Conflict)
    {
        tracing::debug!(key, "CRD status write lost a race; the next event retries");
    }
}

/// Deletes the objects of a terminating CRD; returns true once none are left.
async fn cleanup(state: &State, def: &ResourceDef) -> bool {
    let prefix = def.storage_prefix();
    let Ok(resp) = state
        .store
        .range(krust_store::RangeRequest {
            start: prefix.clone(),
            end: krust_store::prefix_end(&prefix),
            revision: None,
            limit: None,
        })
        .await
    else {
        return false;
    };
    let mut left = 0;
    for kv in resp.kvs {
        let Ok(cur) = crate::state::decode_kv(&kv) else {
            continue;
        };
        let has_finalizers = cur
            .value
            .pointer("/metadata/finalizers")
            .and_then(Value::as_array)
            .is_some_and(|f| !f.is_empty());
        if !has_finalizers {
            let _ = state.remove(&kv.key, cur.rv, &cur.value).await;
            continue;
        }
        left += 1;
        if cur.value.pointer("/metadata/deletionTimestamp").is_none() {
            let mut marked = cur.value.clone();
            if let Some(m) = meta::meta_mut(&mut marked) {
                m.insert("deletionTimestamp".into(), json!(meta::now_rfc3339()));
                m.insert("deletionGracePeriodSeconds".into(), json!(0));
            }
            let _ = state.replace(&kv.key, cur.rv, &cur.value, &marked).await;
        }
    }
    left == 0
}

/// Brings one CRD's serving and status in line with the object.
async fn sync(state: &State, key: &str, crd: &Value) {
    let conflict = names_conflict(state, crd);
    if conflict.is_none()
        && let Err(e) = serve(state, crd).await
    {
        tracing::warn!(key, error = %e, "serving a CRD failed; will retry");
        return;
    }
    write_status(state, key, crd, desired_status(crd, conflict.as_deref())).await;
    if conflict.is_none() {
        crate::aggregator::reconcile_locals(state).await;
    }
    if terminating(crd) {
        let defs = resources(crd);
        let done = match defs.first() {
            Some(d) => cleanup(state, d).await,
            None => true,
        };
        if done && let Ok(Some(cur)) = state.read(key).await {
            let mut new = cur.value.clone();
            if let Some(f) = new
                .pointer_mut("/metadata/finalizers")
                .and_then(Value::as_array_mut)
            {
                f.retain(|x| x != CLEANUP_FINALIZER);
            }
            let _ = if meta::ready_to_delete(&new) {
                state.remove(key, cur.rv, &cur.value).await
            } else {
                state.replace(key, cur.rv, &cur.value, &new).await
            };
        }
    }
}

/// Serves every existing CRD (before the server reports ready).
pub async fn load(state: &State) {
    let Some(cache) = crd_cache(state) else { return };
    for obj in cache.list(&Default::default(), None, 0).items {
        if let Ok(v) = serde_json::from_slice::<Value>(&obj.stored) {
            sync(state, &obj.key, &v).await;
        }
    }
}

fn crd_cache(state: &State) -> Option<Arc<crate::cache::ResourceCache>> {
    let def = state.find("apiextensions.k8s.io", "v1", "customresourcedefinitions")?;
    state.cache.resource(&def.storage_prefix())
}

/// Follows CRD changes until shutdown; terminating CRDs are revisited until their objects
/// are gone.
pub async fn run(state: Arc<State>, shutdown: CancellationToken) {
    let Some(cache) = crd_cache(&state) else { return };
    loop {
        let sub = match cache.subscribe(Some(state.cache.revision())) {
            Ok(s) => s,
            Err(_) => {
                tokio::time::sleep(std::time::Duration::from_millis(200)).await;
                continue;
            }
        };
        let mut live = sub.live;
        let mut tick = tokio::time::interval(std::time::Duration::from_secs(2));
        loop {
            tokio::select! {
                _ = shutdown.cancelled() => return,
                _ = tick.tick() => {
                    // Terminating CRDs wait on their objects' finalizers.
                    for obj in cache.list(&Default::default(), None, 0).items {
                        if let Ok(v) = serde_json::from_slice::<Value>(&obj.stored)
                            && terminating(&v) { sync(&state, &obj.key, &v).await; }
                    }
                }
                ev = live.recv() => match ev {
                    Ok(ev) => {
                        let name = ev.object.name.clone();
                        if ev.kind == WatchKind::Deleted {
                            unserve(&state, &name);
                            crate::aggregator::reconcile_locals(&state).await;
                        } else if let Ok(v) = serde_json::from_slice::<Value>(&ev.object.stored) {
                            sync(&state, &ev.object.key, &v).await;
                        }
                    }
                    Err(_) => break,
                },
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn crd() -> Value {
        json!({"metadata": {"name": "widgets.example.com"}, "spec": {"group": "example.com", "scope": "Namespaced",
            "names": {"kind": "Widget", "plural": "widgets", "shortNames": ["wd"], "categories": ["all"]},
            "versions": [
                {"name": "v1", "served": true, "storage": true,
                 "schema": {"openAPIV3Schema": {"type": "object", "properties": {"spec": {"type": "object"}}}},
                 "subresources": {"status": {}, "scale": {"specReplicasPath": ".spec.replicas", "statusReplicasPath": ".status.replicas"}},
                 "additionalPrinterColumns": [{"name": "Size", "type": "integer", "jsonPath": ".spec.size"}]},
                {"name": "v1beta1", "served": true, "storage": false},
                {"name": "v1alpha1", "served": false, "storage": false}]}})
    }

    #[test]
    fn resources_per_served_version() {
        let defs = resources(&crd());
        assert_eq!(defs.len(), 2);
        let v1 = &defs[0];
        assert_eq!(
            (v1.group.as_str(), v1.plural.as_str(), v1.singular.as_str()),
            ("example.com", "widgets", "widget")
        );
        assert_eq!(v1.storage_prefix(), "/registry/example.com/widgets/");
        assert!(v1.has_subresource("status") && v1.has_subresource("scale"));
        assert_eq!(v1.custom.as_ref().unwrap().columns[0].json_path, ".spec.size");
        assert_eq!(defs[1].storage_version, "v1");
        assert!(!defs[1].has_subresource("status"));
        assert_eq!(
            schema_name("example.com", "v1", "Widget"),
            "com.example.v1.Widget"
        );
    }

    #[test]
    fn status_conditions() {
        let st = desired_status(&crd(), None);
        assert_eq!(st["conditions"][1]["type"], "Established");
        assert_eq!(st["conditions"][1]["status"], "True");
        assert_eq!(st["storedVersions"], json!(["v1"]));
        assert_eq!(st["acceptedNames"]["listKind"], "WidgetList");
        let bad = desired_status(&crd(), Some("\"widgets\" is already in use"));
        assert_eq!(bad["conditions"][0]["reason"], "AlreadyInUse");
    }
}
