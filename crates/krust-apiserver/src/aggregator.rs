//! API aggregation, as kube-aggregator does it: an APIService
//! (`apiregistration.k8s.io/v1`) with a `spec.service` hands its group/version to another
//! server. This server then proxies every request under `/apis/<group>/<version>` there,
//! lists the group in discovery with the resources the other server reports, and keeps the
//! APIService's `Available` condition current by fetching that server's discovery document.
//! APIServices without a service are "Local": one exists for each group/version this server
//! serves itself, so `kubectl get apiservices` shows the whole API as upstream does.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use parking_lot::RwLock;
use serde_json::{Value, json};
use tokio_util::sync::CancellationToken;

use crate::cache::WatchKind;
use crate::meta;
use crate::state::{State, Written};

pub mod proxy;

/// How often every remote APIService is checked again (upstream: every 30 s and on change).
const RECHECK: Duration = Duration::from_secs(10);

/// A group/version served by another server.
#[derive(Debug, Clone, PartialEq)]
pub struct Remote {
    /// The APIService's name (`v1beta1.metrics.k8s.io`).
    pub name: String,
    /// API group.
    pub group: String,
    /// API version.
    pub version: String,
    /// Namespace of the Service.
    pub namespace: String,
    /// Name of the Service.
    pub service: String,
    /// Port of the Service (443 unless given).
    pub port: u16,
    /// PEM CA bundle the other server's certificate must chain to.
    pub ca_bundle: Vec<u8>,
    /// `insecureSkipTLSVerify`.
    pub insecure: bool,
    /// Orders groups in discovery (higher first).
    pub group_priority: i64,
    /// Orders versions within a group (higher first).
    pub version_priority: i64,
}

impl Remote {
    /// The remote described by an APIService, if it names a service.
    pub fn from_object(obj: &Value) -> Option<Remote> {
        let spec = obj.get("spec")?;
        let svc = spec.get("service").filter(|s| !s.is_null())?;
        let text = |v: &Value, k: &str| v.get(k).and_then(Value::as_str).unwrap_or("").to_string();
        let ca_bundle = spec
            .get("caBundle")
            .and_then(Value::as_str)
            .and_then(|b| {
                use base64::Engine;
                base64::engine::general_purpose::STANDARD.decode(b).ok()
            })
            .unwrap_or_default();
        Some(Remote {
            name: text(obj.get("metadata")?, "name"),
            group: text(spec, "group"),
            version: text(spec, "version"),
            namespace: text(svc, "namespace"),
            service: text(svc, "name"),
            port: svc
                .get("port")
                .and_then(Value::as_u64)
                .and_then(|p| u16::try_from(p).ok())
                .unwrap_or(443),
            ca_bundle,
            insecure: spec
                .get("insecureSkipTLSVerify")
                .and_then(Value::as_bool)
                .unwrap_or(false),
            group_priority: spec
                .get("groupPriorityMinimum")
                .and_then(Value::as_i64)
                .unwrap_or(0),
            version_priority: spec.get("versionPriority").and_then(Value::as_i64).unwrap_or(0),
        })
    }
}

/// What the aggregator knows about one remote group/version.
#[derive(Debug, Clone)]
struct Entry {
    remote: Remote,
    /// The remote's `APIResourceList` from its last successful check.
    resources: Option<Value>,
}

/// The remote group/versions, by (group, version).
#[derive(Default)]
pub struct Aggregator {
    entries: RwLock<BTreeMap<(String, String), Entry>>,
}

impl Aggregator {
    /// The remote serving `group`/`version`, if one does.
    pub fn remote(&self, group: &str, version: &str) -> Option<Remote> {
        self.entries
            .read()
            .get(&(group.to_string(), version.to_string()))
            .map(|e| e.remote.clone())
    }

    /// Remote groups and their versions, highest priority first.
    pub fn groups(&self) -> Vec<(String, Vec<String>)> {
        let entries = self.entries.read();
        let mut by_group: BTreeMap<&str, Vec<&Remote>> = BTreeMap::new();
        for e in entries.values() {
            by_group.entry(&e.remote.group).or_default().push(&e.remote);
        }
        let mut groups: Vec<(i64, String, Vec<String>)> = by_group
            .into_iter()
            .map(|(g, mut rs)| {
                rs.sort_by_key(|r| std::cmp::Reverse(r.version_priority));
                let priority = rs.iter().map(|r| r.group_priority).max().unwrap_or(0);
                (
                    priority,
                    g.to_string(),
                    rs.iter().map(|r| r.version.clone()).collect(),
                )
            })
            .collect();
        groups.sort_by(|a, b| b.0.cmp(&a.0).then_with(|| a.1.cmp(&b.1)));
        groups.into_iter().map(|(_, g, vs)| (g, vs)).collect()
    }

    /// The last discovery document (`APIResourceList`) of `group`/`version`.
    pub fn resources(&self, group: &str, version: &str) -> Option<Value> {
        self.entries
            .read()
            .get(&(group.to_string(), version.to_string()))
            .and_then(|e| e.resources.clone())
    }

    fn upsert(&self, remote: Remote) {
        let key = (remote.group.clone(), remote.version.clone());
        let mut entries = self.entries.write();
        // A changed registration keeps nothing of the old one's discovery.
        match entries.get_mut(&key) {
            Some(e) if e.remote == remote => {}
            _ => {
                entries.retain(|_, e| e.remote.name != remote.name);
                entries.insert(
                    key,
                    Entry {
                        remote,
                        resources: None,
                    },
                );
            }
        }
    }

    fn remove_named(&self, name: &str) {
        self.entries.write().retain(|_, e| e.remote.name != name);
    }

    fn set_resources(&self, remote: &Remote, resources: Option<Value>) {
        if let Some(e) = self
            .entries
            .write()
            .get_mut(&(remote.group.clone(), remote.version.clone()))
            .filter(|e| e.remote == *remote)
        {
            e.resources = resources;
        }
    }

    fn all(&self) -> Vec<Remote> {
        self.entries.read().values().map(|e| e.remote.clone()).collect()
    }
}

/// Aggregated discovery entries (`APIGroupDiscovery`) for the remote groups whose
/// discovery is known; a remote that cannot be reached is listed `Stale`, as upstream.
pub fn aggregated_items(agg: &Aggregator) -> Vec<Value> {
    agg.groups()
        .into_iter()
        .map(|(group, versions)| {
            let vs: Vec<Value> = versions
                .iter()
                .map(|v| match agg.resources(&group, v) {
                    Some(list) => json!({"version": v, "resources": aggregated_resources(&group, v, &list), "freshness": "Current"}),
                    None => json!({"version": v, "resources": [], "freshness": "Stale"}),
                })
                .collect();
            json!({"metadata": {"name": group, "creationTimestamp": null}, "versions": vs})
        })
        .collect()
}

/// Converts an `APIResourceList` into aggregated discovery's resources, with
/// `parent/sub` entries folded into their parent's `subresources`.
fn aggregated_resources(group: &str, version: &str, list: &Value) -> Vec<Value> {
    let items = list
        .get("resources")
        .and_then(Value::as_array)
        .map(Vec::as_slice)
        .unwrap_or_default();
    let text = |v: &Value, k: &str| v.get(k).and_then(Value::as_str).unwrap_or("").to_string();
    let mut out: Vec<Value> = Vec::new();
    for r in items.iter().filter(|r| !text(r, "name").contains('/')) {
        let kind_group = r.get("group").and_then(Value::as_str).unwrap_or(group);
        let kind_version = r.get("version").and_then(Value::as_str).unwrap_or(version);
        let mut v = json!({
            "resource": text(r, "name"),
            "responseKind": {"group": kind_group, "version": kind_version, "kind": text(r, "kind")},
            "scope": if r.get("namespaced").and_then(Value::as_bool).unwrap_or(false) { "Namespaced" } else { "Cluster" },
            "singularResource": text(r, "singularName"),
            "verbs": r.get("verbs").cloned().unwrap_or(json!([])),
        });
        if let Some(m) = v.as_object_mut() {
            for key in ["shortNames", "categories"] {
                if let Some(list) = r.get(key).filter(|l| l.as_array().is_some_and(|a| !a.is_empty())) {
                    m.insert(key.into(), list.clone());
                }
            }
        }
        out.push(v);
    }
    for sub in items.iter().filter(|r| text(r, "name").contains('/')) {
        let name = text(sub, "name");
        let Some((parent, subresource)) = name.split_once('/') else {
            continue;
        };
        if let Some(p) = out.iter_mut().find(|p| p["resource"] == parent)
            && let Some(m) = p.as_object_mut()
        {
            let entry = json!({
                "subresource": subresource,
                "responseKind": {"group": sub.get("group").and_then(Value::as_str).unwrap_or(group),
                                 "version": sub.get("version").and_then(Value::as_str).unwrap_or(version),
                                 "kind": text(sub, "kind")},
                "verbs": sub.get("verbs").cloned().unwrap_or(json!([])),
            });
            match m.get_mut("subresources").and_then(Value::as_array_mut) {
                Some(list) => list.push(entry),
                None => {
                    m.insert("subresources".into(), json!([entry]));
                }
            }
        }
    }
    out
}

/// The `Available` condition an APIService should carry.
fn available_condition(status: bool, reason: &str, message: &str, old: &Value) -> Value {
    let status_text = if status { "True" } else { "False" };
    let since = old
        .pointer("/status/conditions")
        .and_then(Value::as_array)
        .and_then(|cs| {
            cs.iter()
                .find(|c| c["type"] == "Available" && c["status"] == status_text)
        })
        .and_then(|c| c.get("lastTransitionTime").cloned())
        .unwrap_or_else(|| json!(meta::now_rfc3339()));
    json!({"type": "Available", "status": status_text, "reason": reason, "message": message,
           "lastTransitionTime": since})
}

/// Writes the Available condition if it changed.
async fn write_condition(state: &State, key: &str, status: bool, reason: &str, message: &str) {
    let Ok(Some(cur)) = state.read(key).await else {
        return;
    };
    let cond = available_condition(status, reason, message, &cur.value);
    let same = cur
        .value
        .pointer("/status/conditions")
        .and_then(Value::as_array)
        .is_some_and(|cs| {
            cs.len() == 1
                && cs[0]["status"] == cond["status"]
                && cs[0]["reason"] == cond["reason"]
                && cs[0]["message"] == cond["message"]
        });
    if same {
        return;
    }
    let mut new = cur.value.clone();
    if let Some(m) = new.as_object_mut() {
        m.insert("status".into(), json!({"conditions": [cond]}));
    }
    if let Ok(Written::Conflict) = state.replace(key, cur.rv, &cur.value, &new).await {
        tracing::debug!(key, "APIService status write lost a race; the next check retries");
    }
}

/// Checks one remote: resolve its Service, fetch its discovery document, record the result.
async fn check(state: &State, key: &str, remote: &Remote) {
    let (ok, reason, message) = match proxy::discover(state, remote).await {
        Ok(list) => {
            state.aggregator.set_resources(remote, Some(list));
            (true, "Passed", "all checks passed".to_string())
        }
        Err(e) => {
            state.aggregator.set_resources(remote, None);
            (false, e.reason, e.message)
        }
    };
    write_condition(state, key, ok, reason, &message).await;
}

/// Takes an APIService (new or changed) into account.
async fn sync(state: &State, key: &str, obj: &Value) {
    match Remote::from_object(obj) {
        Some(remote) => {
            state.aggregator.upsert(remote.clone());
            check(state, key, &remote).await;
        }
        None => {
            if let Some(name) = meta::meta_str(obj, "name") {
                state.aggregator.remove_named(name);
            }
            write_condition(
                state,
                key,
                true,
                "Local",
                "Local APIServices are always available",
            )
            .await;
        }
    }
}

fn api_service_cache(state: &State) -> Option<Arc<crate::cache::ResourceCache>> {
    let def = state.find("apiregistration.k8s.io", "v1", "apiservices")?;
    state.cache.resource(&def.storage_prefix())
}

/// Follows APIService changes until shutdown, and re-checks every remote periodically.
pub async fn run(state: Arc<State>, shutdown: CancellationToken) {
    let Some(cache) = api_service_cache(&state) else {
        return;
    };
    loop {
        let sub = match cache.subscribe(Some(state.cache.revision())) {
            Ok(s) => s,
            Err(_) => {
                tokio::time::sleep(Duration::from_millis(200)).await;
                continue;
            }
        };
        for obj in cache.list(&Default::default(), None, 0).items {
            if let Ok(v) = serde_json::from_slice::<Value>(&obj.stored) {
                sync(&state, &obj.key, &v).await;
            }
        }
        let mut live = sub.live;
        let mut tick = tokio::time::interval(RECHECK);
        loop {
            tokio::select! {
                _ = shutdown.cancelled() => return,
                _ = tick.tick() => {
                    for remote in state.aggregator.all() {
                        if let Some(def) = state.find("apiregistration.k8s.io", "v1", "apiservices") {
                            check(&state, &def.key(None, &remote.name), &remote).await;
                        }
                    }
                }
                ev = live.recv() => match ev {
                    Ok(ev) if ev.kind == WatchKind::Deleted => state.aggregator.remove_named(&ev.object.name),
                    Ok(ev) => {
                        if let Ok(v) = serde_json::from_slice::<Value>(&ev.object.stored) {
                            sync(&state, &ev.object.key, &v).await;
                        }
                    }
                    Err(_) => break,
                },
            }
        }
    }
}

/// Label of the Local APIServices this server keeps in step with what it serves.
const AUTOMANAGED: &str = "kube-aggregator.kubernetes.io/automanaged";

/// Keeps one Local APIService per group/version served here (built-in and custom), and
/// removes the ones this server made for group/versions no longer served.
pub async fn reconcile_locals(state: &State) {
    let Some(def) = state.find("apiregistration.k8s.io", "v1", "apiservices") else {
        return;
    };
    let served: Vec<(String, String)> = state
        .registry
        .read()
        .groups()
        .into_iter()
        .flat_map(|(g, vs)| vs.into_iter().map(move |v| (g.clone(), v)))
        .collect();
    for (group, version) in &served {
        let mut obj = local_api_service(group, version);
        let name = format!("{version}.{group}");
        let key = def.key(None, &name);
        if matches!(state.read(&key).await, Ok(Some(_))) {
            continue;
        }
        if meta::prepare_create(&def, None, &mut obj).is_ok()
            && let Err(e) = state.create(&key, &obj).await
        {
            tracing::warn!(%name, error = %e.message, "registering a Local APIService failed");
        }
    }
    let Some(cache) = api_service_cache(state) else {
        return;
    };
    for obj in cache.list(&Default::default(), None, 0).items {
        let Ok(v) = serde_json::from_slice::<Value>(&obj.stored) else {
            continue;
        };
        let automanaged = v
            .pointer(&format!("/metadata/labels/{}", AUTOMANAGED.replace('/', "~1")))
            .is_some();
        let local = v.pointer("/spec/service").is_none_or(Value::is_null);
        let gv = (
            v.pointer("/spec/group")
                .and_then(Value::as_str)
                .unwrap_or("")
                .to_string(),
            v.pointer("/spec/version")
                .and_then(Value::as_str)
                .unwrap_or("")
                .to_string(),
        );
        if automanaged
            && local
            && !served.contains(&gv)
            && let Ok(Some(cur)) = state.read(&obj.key).await
        {
            let _ = state.remove(&obj.key, cur.rv, &cur.value).await;
        }
    }
}

/// The Local APIService of a group/version this server serves, with upstream's
/// priorities for the well-known groups.
pub fn local_api_service(group: &str, version: &str) -> Value {
    let (group_priority, version_priority) = match group {
        "" => (18000, 1),
        "apps" => (17800, 15),
        "events.k8s.io" => (17750, 15),
        "authentication.k8s.io" => (17700, 15),
        "authorization.k8s.io" => (17600, 15),
        "autoscaling" => (17500, if version == "v2" { 30 } else { 15 }),
        "batch" => (17400, 15),
        "certificates.k8s.io" => (17300, 15),
        "networking.k8s.io" => (17200, 15),
        "policy" => (17100, 15),
        "rbac.authorization.k8s.io" => (17000, 15),
        "storage.k8s.io" => (16800, 15),
        "apiextensions.k8s.io" => (16700, 15),
        "admissionregistration.k8s.io" => (16700, 15),
        "scheduling.k8s.io" => (16600, 15),
        "coordination.k8s.io" => (16500, 15),
        "discovery.k8s.io" => (16200, 15),
        "apiregistration.k8s.io" => (18000, 15),
        _ => (1000, 100),
    };
    json!({
        "apiVersion": "apiregistration.k8s.io/v1",
        "kind": "APIService",
        "metadata": {"name": format!("{version}.{group}"), "labels": {AUTOMANAGED: "onstart"}},
        "spec": {"group": group, "version": version, "groupPriorityMinimum": group_priority,
                 "versionPriority": version_priority},
    })
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn service(name: &str, group: &str, version: &str, gp: i64, vp: i64) -> Value {
        json!({"metadata": {"name": name}, "spec": {"group": group, "version": version,
            "groupPriorityMinimum": gp, "versionPriority": vp, "insecureSkipTLSVerify": true,
            "service": {"namespace": "ext", "name": "api", "port": 8443}}})
    }

    #[test]
    fn remotes_come_from_api_services_with_a_service() {
        let r = Remote::from_object(&service("v1.x.io", "x.io", "v1", 100, 10)).unwrap();
        assert_eq!(
            (r.namespace.as_str(), r.service.as_str(), r.port),
            ("ext", "api", 8443)
        );
        assert!(r.insecure);
        assert!(Remote::from_object(&local_api_service("apps", "v1")).is_none());
        assert_eq!(local_api_service("", "v1")["metadata"]["name"], "v1.");
    }

    #[test]
    fn groups_are_ordered_by_priority_and_versions_by_version_priority() {
        let agg = Aggregator::default();
        for s in [
            service("v1.low.io", "low.io", "v1", 100, 10),
            service("v1.high.io", "high.io", "v1", 2000, 10),
            service("v2.high.io", "high.io", "v2", 2000, 20),
        ] {
            agg.upsert(Remote::from_object(&s).unwrap());
        }
        assert_eq!(
            agg.groups(),
            vec![
                ("high.io".to_string(), vec!["v2".to_string(), "v1".to_string()]),
                ("low.io".to_string(), vec!["v1".to_string()]),
            ]
        );
        agg.remove_named("v1.low.io");
        assert!(agg.groups().iter().all(|(g, _)| g != "low.io"));
    }

    #[test]
    fn discovery_is_converted_to_aggregated_form() {
        let list = json!({"kind": "APIResourceList", "groupVersion": "metrics.k8s.io/v1beta1", "resources": [
            {"name": "pods", "singularName": "", "namespaced": true, "kind": "PodMetrics", "verbs": ["get", "list"]},
            {"name": "nodes", "singularName": "", "namespaced": false, "kind": "NodeMetrics", "verbs": ["get", "list"], "shortNames": ["nm"]},
            {"name": "nodes/status", "namespaced": false, "kind": "NodeMetrics", "verbs": ["get"]},
        ]});
        let out = aggregated_resources("metrics.k8s.io", "v1beta1", &list);
        assert_eq!(out.len(), 2);
        assert_eq!(out[0]["scope"], "Namespaced");
        assert_eq!(out[1]["shortNames"], json!(["nm"]));
        assert_eq!(out[1]["subresources"][0]["subresource"], "status");
        assert_eq!(out[1]["responseKind"]["group"], "metrics.k8s.io");
    }
}
