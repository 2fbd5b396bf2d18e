//! Core (`v1`) defaults other than pods: Service, Namespace, Secret, volumes and claims,
//! Endpoints, LimitRange, Node and ResourceQuota.

use base64::Engine;
use serde_json::{Value, json};

use super::pod;
use super::util::{
    Obj, child, child_or_insert, is_blank, is_unset, is_zero, items, resource_list, set_default,
    set_default_str, str_of,
};

fn root(obj: &mut Value) -> Option<&mut Obj> {
    obj.as_object_mut()
}

/// `SetDefaults_Service`, plus the clusterIP/clusterIPs normalisation upstream's strategy
/// does before validation (each is filled from the other). IP families and the cluster IP
/// itself are left to the allocator.
pub(crate) fn service(obj: &mut Value) {
    let Some(spec) = root(obj).and_then(|o| child(o, "spec")) else {
        return;
    };
    set_default_str(spec, "sessionAffinity", "None");
    match str_of(spec, "sessionAffinity") {
        "None" => {
            spec.remove("sessionAffinityConfig");
        }
        "ClientIP" => {
            let has_timeout = spec
                .get("sessionAffinityConfig")
                .and_then(|c| c.get("clientIP"))
                .and_then(|c| c.get("timeoutSeconds"))
                .is_some_and(|t| !t.is_null());
            if !has_timeout {
                spec.insert(
                    "sessionAffinityConfig".into(),
                    json!({"clientIP": {"timeoutSeconds": 10800}}),
                );
            }
        }
        _ => {}
    }
    set_default_str(spec, "type", "ClusterIP");
    for p in items(spec, "ports") {
        set_default_str(p, "protocol", "TCP");
        if (is_zero(p, "targetPort") || is_blank(p, "targetPort"))
            && let Some(port) = p.get("port").cloned()
        {
            p.insert("targetPort".into(), port);
        }
    }
    let ty = str_of(spec, "type").to_string();
    let has_external_ips = spec
        .get("externalIPs")
        .and_then(Value::as_array)
        .is_some_and(|a| !a.is_empty());
    let externally_accessible =
        ty == "LoadBalancer" || ty == "NodePort" || (ty == "ClusterIP" && has_external_ips);
    if externally_accessible {
        set_default_str(spec, "externalTrafficPolicy", "Cluster");
    }
    if matches!(ty.as_str(), "NodePort" | "LoadBalancer" | "ClusterIP") {
        set_default(spec, "internalTrafficPolicy", "Cluster");
    }
    if ty == "LoadBalancer" {
        set_default(spec, "allocateLoadBalancerNodePorts", true);
    }
    // Keep clusterIP and clusterIPs in step, as upstream's strategy does on every write.
    let ip = str_of(spec, "clusterIP").to_string();
    let ips_empty = spec
        .get("clusterIPs")
        .and_then(Value::as_array)
        .is_none_or(|a| a.is_empty());
    if !ip.is_empty() && ips_empty {
        spec.insert("clusterIPs".into(), json!([ip]));
    } else if ip.is_empty()
        && !ips_empty
        && let Some(first) = spec.get("clusterIPs").and_then(|a| a.get(0)).cloned()
    {
        spec.insert("clusterIP".into(), first);
    }
    if ty == "LoadBalancer"
        && let Some(lb) = root(obj)
            .and_then(|o| child(o, "status"))
            .and_then(|s| child(s, "loadBalancer"))
    {
        for ing in items(lb, "ingress") {
            if !is_blank(ing, "ip") {
                set_default(ing, "ipMode", "VIP");
            }
        }
    }
}

/// `SetDefaults_Namespace` (the `kubernetes.io/metadata.name` label) and the status phase.
pub(crate) fn namespace(obj: &mut Value) {
    let name = obj
        .pointer("/metadata/name")
        .and_then(Value::as_str)
        .unwrap_or("")
        .to_string();
    let Some(o) = root(obj) else { return };
    if !name.is_empty()
        && let Some(labels) = child_or_insert(o, "metadata").and_then(|m| child_or_insert(m, "labels"))
    {
        labels.insert("kubernetes.io/metadata.name".into(), name.into());
    }
    if let Some(status) = child(o, "status") {
        set_default_str(status, "phase", "Active");
    }
}

/// `SetDefaults_Secret`, plus folding `stringData` into `data` (base64-encoded, overriding
/// keys of `data`) as upstream's conversion does, so `stringData` is never stored.
pub(crate) fn secret(obj: &mut Value) {
    let Some(o) = root(obj) else { return };
    set_default_str(o, "type", "Opaque");
    if let Some(Value::Object(string_data)) = o.remove("stringData")
        && let Some(data) = child_or_insert(o, "data")
    {
        let engine = base64::engine::general_purpose::STANDARD;
        for (k, v) in string_data {
            let text = match v {
                Value::String(s) => s,
                other => other.to_string(),
            };
            data.insert(k, engine.encode(text.as_bytes()).into());
        }
    }
}

/// `SetDefaults_PersistentVolume` and its source defaults.
pub(crate) fn persistent_volume(obj: &mut Value) {
    let Some(o) = root(obj) else { return };
    if let Some(spec) = child(o, "spec") {
        set_default_str(spec, "persistentVolumeReclaimPolicy", "Retain");
        set_default(spec, "volumeMode", "Filesystem");
        resource_list(spec, "capacity");
        pod::volume_sources(spec);
    }
    if let Some(status) = child_or_insert(o, "status") {
        set_default_str(status, "phase", "Pending");
    }
}

/// `SetDefaults_PersistentVolumeClaim` and its spec defaults.
pub(crate) fn persistent_volume_claim(obj: &mut Value) {
    let Some(o) = root(obj) else { return };
    if let Some(spec) = child(o, "spec") {
        pod::pvc_spec(spec);
    }
    if let Some(status) = child_or_insert(o, "status") {
        set_default_str(status, "phase", "Pending");
        resource_list(status, "capacity");
        resource_list(status, "allocatedResources");
    }
}

/// `SetDefaults_Endpoints`: port protocols.
pub(crate) fn endpoints(obj: &mut Value) {
    let Some(o) = root(obj) else { return };
    for ss in items(o, "subsets") {
        for p in items(ss, "ports") {
            set_default_str(p, "protocol", "TCP");
        }
    }
}

/// `SetDefaults_LimitRangeItem`: container limits default to the max, requests to the
/// default limit, then to the min.
pub(crate) fn limit_range(obj: &mut Value) {
    let Some(spec) = root(obj).and_then(|o| child(o, "spec")) else {
        return;
    };
    for item in items(spec, "limits") {
        for key in ["max", "min", "default", "defaultRequest", "maxLimitRequestRatio"] {
            resource_list(item, key);
        }
        if str_of(item, "type") != "Container" {
            continue;
        }
        let get = |item: &Obj, k: &str| {
            item.get(k)
                .and_then(Value::as_object)
                .cloned()
                .unwrap_or_default()
        };
        let max = get(item, "max");
        let min = get(item, "min");
        let mut default = get(item, "default");
        for (k, v) in max {
            default.entry(k).or_insert(v);
        }
        let mut default_request = get(item, "defaultRequest");
        for (k, v) in default.iter().chain(min.iter()) {
            default_request.entry(k.clone()).or_insert_with(|| v.clone());
        }
        item.insert("default".into(), Value::Object(default));
        item.insert("defaultRequest".into(), Value::Object(default_request));
    }
}

/// `SetDefaults_NodeStatus`: allocatable defaults to capacity.
pub(crate) fn node(obj: &mut Value) {
    let Some(status) = root(obj).and_then(|o| child(o, "status")) else {
        return;
    };
    resource_list(status, "capacity");
    resource_list(status, "allocatable");
    if is_unset(status, "allocatable")
        && let Some(cap) = status.get("capacity").cloned()
        && cap.is_object()
    {
        status.insert("allocatable".into(), cap);
    }
}

/// ResourceQuota: quantities rounded and canonical.
pub(crate) fn resource_quota(obj: &mut Value) {
    let Some(o) = root(obj) else { return };
    if let Some(spec) = child(o, "spec") {
        resource_list(spec, "hard");
    }
    if let Some(status) = child(o, "status") {
        resource_list(status, "hard");
        resource_list(status, "used");
    }
}
