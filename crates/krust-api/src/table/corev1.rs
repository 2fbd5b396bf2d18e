//! Rows of the core (`v1`) kinds other than pods and replication controllers.

use jiff::Timestamp;
use serde_json::Value;

use super::Column;
use super::util::{
    access_modes, age, at, boolean, deleting, int, list, load_balancer_ingress, map, name, quantity, s, text,
    text_or,
};
use crate::labels::format_labels;

pub(super) const SERVICE: &[Column] = &[
    Column::name(),
    Column::new(
        "Type",
        "string",
        "How the service is exposed: ClusterIP, NodePort, LoadBalancer or ExternalName.",
    ),
    Column::new(
        "Cluster-IP",
        "string",
        "The virtual IP clients inside the cluster reach the service on.",
    ),
    Column::new(
        "External-IP",
        "string",
        "Addresses the service is reachable on from outside the cluster.",
    ),
    Column::new(
        "Port(s)",
        "string",
        "Service ports, with node ports and protocols.",
    ),
    Column::age(),
    Column::wide(
        "Selector",
        "string",
        "Labels of the pods the service sends traffic to.",
    ),
];

/// The External-IP cell (never shortened: the server prints the wide form).
fn external_ip(svc: &Value) -> String {
    let external: Vec<&str> = list(svc, &["spec", "externalIPs"])
        .iter()
        .filter_map(Value::as_str)
        .collect();
    match text(svc, &["spec", "type"]) {
        "ClusterIP" | "NodePort" if !external.is_empty() => external.join(","),
        "ClusterIP" | "NodePort" => "<none>".to_string(),
        "LoadBalancer" => {
            let lb = load_balancer_ingress(list(svc, &["status", "loadBalancer", "ingress"]));
            let mut all: Vec<&str> = lb.split(',').filter(|p| !p.is_empty()).collect();
            all.extend(external);
            if all.is_empty() {
                "<pending>".to_string()
            } else {
                all.join(",")
            }
        }
        "ExternalName" => text(svc, &["spec", "externalName"]).to_string(),
        _ => "<unknown>".to_string(),
    }
}

/// `80/TCP`, `80:30080/TCP`, comma-joined; `<none>` without ports.
fn service_ports(svc: &Value) -> String {
    let ports: Vec<String> = list(svc, &["spec", "ports"])
        .iter()
        .map(|p| {
            let port = int(p, &["port"]);
            let protocol = text_or(p, &["protocol"], "TCP");
            match int(p, &["nodePort"]) {
                n if n > 0 => format!("{port}:{n}/{protocol}"),
                _ => format!("{port}/{protocol}"),
            }
        })
        .collect();
    if ports.is_empty() {
        "<none>".to_string()
    } else {
        ports.join(",")
    }
}

pub(super) fn service(svc: &Value, now: Timestamp) -> Vec<Value> {
    let cluster_ip = list(svc, &["spec", "clusterIPs"])
        .first()
        .and_then(Value::as_str)
        .or_else(|| Some(text(svc, &["spec", "clusterIP"])))
        .filter(|ip| !ip.is_empty())
        .unwrap_or("<none>");
    vec![
        name(svc),
        s(text(svc, &["spec", "type"])),
        s(cluster_ip),
        s(external_ip(svc)),
        s(service_ports(svc)),
        age(svc, now),
        s(format_labels(map(svc, &["spec", "selector"]))),
    ]
}

pub(super) const NODE: &[Column] = &[
    Column::name(),
    Column::new(
        "Status",
        "string",
        "Whether the node is Ready, and whether scheduling on it is disabled.",
    ),
    Column::new(
        "Roles",
        "string",
        "Roles from the node's node-role.kubernetes.io/<role> labels.",
    ),
    Column::age(),
    Column::new("Version", "string", "Version of the kubelet on the node."),
    Column::wide("Internal-IP", "string", "The node's first internal address."),
    Column::wide("External-IP", "string", "The node's first external address."),
    Column::wide("OS-Image", "string", "The operating system the node reports."),
    Column::wide("Kernel-Version", "string", "The kernel version the node reports."),
    Column::wide(
        "Container-Runtime",
        "string",
        "The container runtime and its version.",
    ),
];

/// Sorted, unique roles from `node-role.kubernetes.io/<role>` and `kubernetes.io/role`.
fn node_roles(node: &Value) -> String {
    let mut roles: Vec<&str> = map(node, &["metadata", "labels"])
        .into_iter()
        .flatten()
        .filter_map(|(k, v)| match k.strip_prefix("node-role.kubernetes.io/") {
            Some(role) if !role.is_empty() => Some(role),
            Some(_) => None,
            None if k == "kubernetes.io/role" => v.as_str().filter(|v| !v.is_empty()),
            None => None,
        })
        .collect();
    roles.sort_unstable();
    roles.dedup();
    if roles.is_empty() {
        "<none>".to_string()
    } else {
        roles.join(",")
    }
}

fn node_address(node: &Value, kind: &str) -> String {
    list(node, &["status", "addresses"])
        .iter()
        .find(|a| text(a, &["type"]) == kind)
        .map_or_else(|| "<none>".to_string(), |a| text(a, &["address"]).to_string())
}

pub(super) fn node(node: &Value, now: Timestamp) -> Vec<Value> {
    let ready = list(node, &["status", "conditions"])
        .iter()
        .rfind(|c| text(c, &["type"]) == "Ready");
    let mut status = match ready {
        Some(c) if text(c, &["status"]) == "True" => "Ready".to_string(),
        Some(_) => "NotReady".to_string(),
        None => "Unknown".to_string(),
    };
    if boolean(node, &["spec", "unschedulable"]) {
        status.push_str(",SchedulingDisabled");
    }
    let info = |k: &str| text_or(node, &["status", "nodeInfo", k], "<unknown>");
    vec![
        name(node),
        s(status),
        s(node_roles(node)),
        age(node, now),
        s(text(node, &["status", "nodeInfo", "kubeletVersion"])),
        s(node_address(node, "InternalIP")),
        s(node_address(node, "ExternalIP")),
        s(info("osImage")),
        s(info("kernelVersion")),
        s(info("containerRuntimeVersion")),
    ]
}

pub(super) const NAMESPACE: &[Column] = &[
    Column::name(),
    Column::new(
        "Status",
        "string",
        "Active, or Terminating while the namespace is being deleted.",
    ),
    Column::age(),
];

pub(super) fn namespace(ns: &Value, now: Timestamp) -> Vec<Value> {
    vec![name(ns), s(text(ns, &["status", "phase"])), age(ns, now)]
}

pub(super) const CONFIG_MAP: &[Column] = &[
    Column::name(),
    Column::new("Data", "string", "Number of keys, text and binary."),
    Column::age(),
];

fn key_count(obj: &Value, field: &str) -> usize {
    map(obj, &[field]).map_or(0, |m| m.len())
}

pub(super) fn config_map(cm: &Value, now: Timestamp) -> Vec<Value> {
    let keys = key_count(cm, "data") + key_count(cm, "binaryData");
    vec![name(cm), Value::from(keys), age(cm, now)]
}

pub(super) const SECRET: &[Column] = &[
    Column::name(),
    Column::new(
        "Type",
        "string",
        "The kind of secret, e.g. Opaque or kubernetes.io/tls.",
    ),
    Column::new("Data", "string", "Number of keys."),
    Column::age(),
];

pub(super) fn secret(secret: &Value, now: Timestamp) -> Vec<Value> {
    vec![
        name(secret),
        s(text(secret, &["type"])),
        Value::from(key_count(secret, "data")),
        age(secret, now),
    ]
}

pub(super) const SERVICE_ACCOUNT: &[Column] = &[
    Column::name(),
    Column::new("Secrets", "string", "Number of secrets listed on the account."),
    Column::age(),
];

pub(super) fn service_account(sa: &Value, now: Timestamp) -> Vec<Value> {
    vec![name(sa), Value::from(list(sa, &["secrets"]).len()), age(sa, now)]
}

pub(super) const ENDPOINTS: &[Column] = &[
    Column::name(),
    Column::new(
        "Endpoints",
        "string",
        "The first few address:port pairs the endpoints hold.",
    ),
    Column::age(),
];

/// `ip:port` pairs (at most three, then `+ N more...`); bare IPs for subsets without ports.
fn format_endpoints(ep: &Value) -> String {
    const MAX: usize = 3;
    let subsets = list(ep, &["subsets"]);
    if subsets.is_empty() {
        return "<none>".to_string();
    }
    let mut shown: Vec<String> = Vec::new();
    let mut count = 0;
    let mut more = false;
    for subset in subsets {
        let addresses = list(subset, &["addresses"]);
        let ports = list(subset, &["ports"]);
        if ports.is_empty() {
            count += addresses.len();
            for a in addresses {
                if shown.len() == MAX {
                    more = true;
                    break;
                }
                shown.push(text(a, &["ip"]).to_string());
            }
            continue;
        }
        for port in ports {
            count += addresses.len();
            for a in addresses {
                if shown.len() == MAX {
                    more = true;
                    break;
                }
                let ip = text(a, &["ip"]);
                let port = int(port, &["port"]);
                shown.push(if ip.contains(':') {
                    format!("[{ip}]:{port}")
                } else {
                    format!("{ip}:{port}")
                });
            }
        }
    }
    let joined = shown.join(",");
    if more {
        format!("{joined} + {} more...", count.saturating_sub(MAX))
    } else {
        joined
    }
}

pub(super) fn endpoints(ep: &Value, now: Timestamp) -> Vec<Value> {
    vec![name(ep), s(format_endpoints(ep)), age(ep, now)]
}

pub(super) const PERSISTENT_VOLUME: &[Column] = &[
    Column::name(),
    Column::new("Capacity", "string", "Storage size of the volume."),
    Column::new(
        "Access Modes",
        "string",
        "How the volume can be mounted: RWO, ROX, RWX, RWOP.",
    ),
    Column::new(
        "Reclaim Policy",
        "string",
        "What happens to the volume when its claim is released.",
    ),
    Column::new(
        "Status",
        "string",
        "Available, Bound, Released or Failed (Terminating while deleted).",
    ),
    Column::new(
        "Claim",
        "string",
        "The claim bound to the volume, as namespace/name.",
    ),
    Column::new("StorageClass", "string", "Storage class of the volume."),
    Column::new(
        "VolumeAttributesClass",
        "string",
        "Volume attributes class of the volume.",
    ),
    Column::new("Reason", "string", "Why the volume is in its current phase."),
    Column::age(),
    Column::wide("VolumeMode", "string", "Filesystem or Block."),
];

const BETA_STORAGE_CLASS: &str = "volume.beta.kubernetes.io/storage-class";

/// The storage class: the legacy annotation when present, else `spec.storageClassName`.
fn storage_class(obj: &Value) -> String {
    match at(obj, &["metadata", "annotations", BETA_STORAGE_CLASS]).and_then(Value::as_str) {
        Some(class) => class.to_string(),
        None => text(obj, &["spec", "storageClassName"]).to_string(),
    }
}

pub(super) fn persistent_volume(pv: &Value, now: Timestamp) -> Vec<Value> {
    let claim = match at(pv, &["spec", "claimRef"]).filter(|c| c.is_object()) {
        Some(c) => format!("{}/{}", text(c, &["namespace"]), text(c, &["name"])),
        None => String::new(),
    };
    let phase = if deleting(pv) {
        "Terminating"
    } else {
        text(pv, &["status", "phase"])
    };
    vec![
        name(pv),
        s(quantity(at(pv, &["spec", "capacity", "storage"]), "0")),
        s(access_modes(list(pv, &["spec", "accessModes"]))),
        s(text(pv, &["spec", "persistentVolumeReclaimPolicy"])),
        s(phase),
        s(claim),
        s(storage_class(pv)),
        s(text_or(pv, &["spec", "volumeAttributesClassName"], "<unset>")),
        s(text(pv, &["status", "reason"])),
        age(pv, now),
        s(text_or(pv, &["spec", "volumeMode"], "<unset>")),
    ]
}

pub(super) const PERSISTENT_VOLUME_CLAIM: &[Column] = &[
    Column::name(),
    Column::new(
        "Status",
        "string",
        "Pending, Bound or Lost (Terminating while deleted).",
    ),
    Column::new("Volume", "string", "The volume bound to the claim."),
    Column::new("Capacity", "string", "Storage size of the bound volume."),
    Column::new("Access Modes", "string", "How the bound volume can be mounted."),
    Column::new("StorageClass", "string", "Storage class the claim asks for."),
    Column::new(
        "VolumeAttributesClass",
        "string",
        "Volume attributes class the claim asks for.",
    ),
    Column::age(),
    Column::wide("VolumeMode", "string", "Filesystem or Block."),
];

pub(super) fn persistent_volume_claim(pvc: &Value, now: Timestamp) -> Vec<Value> {
    let phase = if deleting(pvc) {
        "Terminating"
    } else {
        text(pvc, &["status", "phase"])
    };
    let volume = text(pvc, &["spec", "volumeName"]);
    let (capacity, modes) = if volume.is_empty() {
        (String::new(), String::new())
    } else {
        (
            quantity(at(pvc, &["status", "capacity", "storage"]), "0"),
            access_modes(list(pvc, &["status", "accessModes"])),
        )
    };
    let class = match at(pvc, &["metadata", "annotations", BETA_STORAGE_CLASS]).and_then(Value::as_str) {
        Some(class) => class,
        None => text(pvc, &["spec", "storageClassName"]),
    };
    vec![
        name(pvc),
        s(phase),
        s(volume),
        s(capacity),
        s(modes),
        s(class),
        s(text_or(pvc, &["spec", "volumeAttributesClassName"], "<unset>")),
        age(pvc, now),
        s(text_or(pvc, &["spec", "volumeMode"], "<unset>")),
    ]
}

pub(super) const RESOURCE_QUOTA: &[Column] = &[
    Column::name(),
    Column::new(
        "Request",
        "string",
        "Used out of hard limits for requests and object counts.",
    ),
    Column::new(
        "Limit",
        "string",
        "Used out of hard limits for limits.* resources.",
    ),
    Column::age(),
];

pub(super) fn resource_quota(quota: &Value, now: Timestamp) -> Vec<Value> {
    let mut requests = Vec::new();
    let mut limits = Vec::new();
    if let Some(hard) = map(quota, &["status", "hard"]) {
        let mut names: Vec<&String> = hard.keys().collect();
        names.sort();
        for resource in names {
            let used = quantity(at(quota, &["status", "used", resource]), "0");
            let limit = quantity(hard.get(resource.as_str()), "0");
            let entry = format!("{resource}: {used}/{limit}");
            match resource.split_once('.') {
                Some(("limits", _)) => limits.push(entry),
                _ => requests.push(entry),
            }
        }
    }
    vec![
        name(quota),
        s(requests.join(", ")),
        s(limits.join(", ")),
        age(quota, now),
    ]
}
