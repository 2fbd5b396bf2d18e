//! Objects every cluster starts with: the namespaces default, kube-system, kube-public and
//! kube-node-lease, the two system PriorityClasses, the default StorageClass `local-path`
//! (as k3s ships), the `kube-dns` Service reserving the cluster DNS address, and the
//! `kubernetes` Service with its Endpoints and EndpointSlice
//! pointing at this API server (kept current at every start).

use krust_api::{ApiError, defaults};
use serde_json::{Value, json};

use crate::{meta, services, state::State};

/// Namespaces created at first start.
pub const SYSTEM_NAMESPACES: &[&str] = &["default", "kube-system", "kube-public", "kube-node-lease"];

/// (group, plural, object, keep it current) of every system object.
fn system_objects(state: &State) -> Vec<(&'static str, &'static str, Value, bool)> {
    let mut out: Vec<(&str, &str, Value, bool)> = SYSTEM_NAMESPACES
        .iter()
        .map(|ns| {
            let obj = json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": ns,
                "labels": {"kubernetes.io/metadata.name": ns}}});
            ("", "namespaces", obj, false)
        })
        .collect();
    for (name, value, what) in [
        (
            "system-node-critical",
            2_000_001_000,
            "pods a node cannot do without",
        ),
        (
            "system-cluster-critical",
            2_000_000_000,
            "pods the cluster cannot do without; they may move to other nodes",
        ),
    ] {
        let obj = json!({"apiVersion": "scheduling.k8s.io/v1", "kind": "PriorityClass",
            "metadata": {"name": name}, "value": value, "globalDefault": false,
            "description": format!("Priority of {what}.")});
        out.push(("scheduling.k8s.io", "priorityclasses", obj, false));
    }
    out.push(("storage.k8s.io", "storageclasses", default_storage_class(), false));
    let (ip, port) = state.advertise;
    let kubernetes_ip = state.service_ranges.kubernetes_ip().to_string();
    out.push((
        "",
        "services",
        json!({"apiVersion": "v1", "kind": "Service",
            "metadata": {"name": "kubernetes", "namespace": "default",
                "labels": {"component": "apiserver", "provider": "kubernetes"}},
            "spec": {"type": "ClusterIP", "clusterIP": kubernetes_ip, "sessionAffinity": "None",
                "ports": [{"name": "https", "port": 443, "protocol": "TCP", "targetPort": port}]}}),
        false,
    ));
    // The cluster DNS, answered by every node agent itself (no pods, so no selector):
    // created so its address is reserved and clients that look for it find it.
    out.push((
        "",
        "services",
        json!({"apiVersion": "v1", "kind": "Service",
            "metadata": {"name": "kube-dns", "namespace": "kube-system",
                "labels": {"k8s-app": "kube-dns", "kubernetes.io/cluster-service": "true",
                    "kubernetes.io/name": "krust-dns"}},
            "spec": {"type": "ClusterIP", "clusterIP": state.service_ranges.dns_ip().to_string(),
                "ports": [{"name": "dns", "port": 53, "protocol": "UDP", "targetPort": 53},
                    {"name": "dns-tcp", "port": 53, "protocol": "TCP", "targetPort": 53}]}}),
        false,
    ));
    out.push((
        "",
        "endpoints",
        json!({"apiVersion": "v1", "kind": "Endpoints",
            "metadata": {"name": "kubernetes", "namespace": "default",
                "labels": {"endpointslice.kubernetes.io/skip-mirror": "true"}},
            "subsets": [{"addresses": [{"ip": ip.to_string()}],
                "ports": [{"name": "https", "port": port, "protocol": "TCP"}]}]}),
        true,
    ));
    out.push((
        "discovery.k8s.io",
        "endpointslices",
        json!({"apiVersion": "discovery.k8s.io/v1", "kind": "EndpointSlice",
            "metadata": {"name": "kubernetes", "namespace": "default",
                "labels": {"kubernetes.io/service-name": "kubernetes"}},
            "addressType": if ip.is_ipv4() { "IPv4" } else { "IPv6" },
            "endpoints": [{"addresses": [ip.to_string()], "conditions": {"ready": true}}],
            "ports": [{"name": "https", "port": port, "protocol": "TCP"}]}),
        true,
    ));
    if let Some(fp) = &state.front_proxy {
        // What aggregated API servers read to trust this server's proxied requests.
        out.push((
            "",
            "configmaps",
            json!({"apiVersion": "v1", "kind": "ConfigMap",
            "metadata": {"name": "extension-apiserver-authentication", "namespace": "kube-system"},
            "data": {
                "client-ca-file": fp.client_ca_pem,
                "requestheader-client-ca-file": fp.request_header_ca_pem,
                "requestheader-allowed-names": format!("[\"{}\"]", fp.client_name),
                "requestheader-username-headers": "[\"X-Remote-User\"]",
                "requestheader-group-headers": "[\"X-Remote-Group\"]",
                "requestheader-extra-headers-prefix": "[\"X-Remote-Extra-\"]",
            }}),
            true,
        ));
    }
    out
}

/// The default StorageClass, served by the controller manager's built-in local-path
/// provisioner. Created when absent at every start, as k3s re-applies its manifest; a
/// user who wants another default removes the annotation instead of deleting it.
fn default_storage_class() -> Value {
    json!({"apiVersion": "storage.k8s.io/v1", "kind": "StorageClass",
        "metadata": {"name": "local-path",
            "annotations": {"storageclass.kubernetes.io/is-default-class": "true"}},
        "provisioner": "rancher.io/local-path",
        "reclaimPolicy": "Delete",
        "volumeBindingMode": "WaitForFirstConsumer"})
}

/// Creates the system objects that do not exist yet; the `kubernetes` endpoints are also
/// corrected when this server's address or port changed.
pub async fn ensure_system_objects(state: &State) -> Result<(), ApiError> {
    for (group, plural, mut obj, keep_current) in system_objects(state) {
        let def = state
            .find(group, "v1", plural)
            .ok_or_else(|| ApiError::internal(format!("{plural} not registered")))?;
        let name = meta::meta_str(&obj, "name").unwrap_or("").to_string();
        let ns = meta::meta_str(&obj, "namespace").map(str::to_string);
        let key = def.key(ns.as_deref(), &name);
        if let Some(cur) = state.read(&key).await? {
            if keep_current {
                refresh(state, &key, cur, &obj).await?;
            }
            continue;
        }
        meta::prepare_create(&def, ns.as_deref(), &mut obj)?;
        defaults::apply(&def.group, &def.kind, &mut obj);
        defaults::prepare_create(&def.group, &def.kind, &mut obj);
        if def.kind == "Service" {
            let used = state.used_service_values().await?;
            services::allocate(&state.service_ranges, &mut obj, None, &used).map_err(|e| {
                ApiError::internal(format!(
                    "allocating the kubernetes Service: {}",
                    krust_api::field_error::join(&e)
                ))
            })?;
        }
        state.create(&key, &obj).await?;
        tracing::info!(kind = %def.kind, %name, "created system object");
    }
    Ok(())
}

/// Rewrites the content fields of an existing object when they differ from `want`.
async fn refresh(state: &State, key: &str, cur: crate::state::Current, want: &Value) -> Result<(), ApiError> {
    let mut new = cur.value.clone();
    let mut changed = false;
    for field in ["subsets", "endpoints", "ports", "addressType", "data"] {
        if let Some(v) = want.get(field)
            && new.get(field) != Some(v)
        {
            if let Some(m) = new.as_object_mut() {
                m.insert(field.into(), v.clone());
            }
            changed = true;
        }
    }
    if changed {
        let _ = state.replace(key, cur.rv, &cur.value, &new).await?;
        tracing::info!(key, "updated the kubernetes endpoints to this server's address");
    }
    Ok(())
}
