//! Which fields each built-in kind can be selected on, under which names, and their values
//! for a given object: upstream's field-label conversion functions and `ToSelectableFields`.
//!
//! Values are strings: booleans `"true"`/`"false"`, integers in decimal, missing fields `""`
//! (integers `"0"`, booleans `"false"`), as upstream's selectable field sets hold them.

use serde_json::Value;

/// How a kind's field labels are checked.
enum Labels {
    /// No kind-specific list: `metadata.name` and `metadata.namespace` only.
    Default,
    /// A kind-specific list of (accepted name, canonical name).
    Listed(&'static [(&'static str, &'static str)]),
}

const META: [(&str, &str); 2] = [
    ("metadata.name", "metadata.name"),
    ("metadata.namespace", "metadata.namespace"),
];

const POD: &[(&str, &str)] = &[
    META[0],
    META[1],
    ("spec.nodeName", "spec.nodeName"),
    ("spec.restartPolicy", "spec.restartPolicy"),
    ("spec.schedulerName", "spec.schedulerName"),
    ("spec.serviceAccountName", "spec.serviceAccountName"),
    ("spec.hostNetwork", "spec.hostNetwork"),
    ("status.phase", "status.phase"),
    ("status.podIP", "status.podIP"),
    ("status.podIPs", "status.podIPs"),
    ("status.nominatedNodeName", "status.nominatedNodeName"),
    // Old clients' name for spec.nodeName.
    ("spec.host", "spec.nodeName"),
];
const NODE: &[(&str, &str)] = &[META[0], ("spec.unschedulable", "spec.unschedulable")];
const REPLICAS: &[(&str, &str)] = &[META[0], META[1], ("status.replicas", "status.replicas")];
const JOB: &[(&str, &str)] = &[META[0], META[1], ("status.successful", "status.successful")];
const NAMESPACE: &[(&str, &str)] = &[META[0], ("status.phase", "status.phase")];
const SECRET: &[(&str, &str)] = &[META[0], META[1], ("type", "type")];
const SERVICE: &[(&str, &str)] = &[
    META[0],
    META[1],
    ("spec.clusterIP", "spec.clusterIP"),
    ("spec.type", "spec.type"),
];
const CSR: &[(&str, &str)] = &[META[0], ("spec.signerName", "spec.signerName")];
const EVENT: &[(&str, &str)] = &[
    META[0],
    META[1],
    ("involvedObject.kind", "involvedObject.kind"),
    ("involvedObject.namespace", "involvedObject.namespace"),
    ("involvedObject.name", "involvedObject.name"),
    ("involvedObject.uid", "involvedObject.uid"),
    ("involvedObject.apiVersion", "involvedObject.apiVersion"),
    ("involvedObject.resourceVersion", "involvedObject.resourceVersion"),
    ("involvedObject.fieldPath", "involvedObject.fieldPath"),
    ("reason", "reason"),
    ("reportingComponent", "reportingComponent"),
    ("source", "source"),
    ("type", "type"),
];
/// events.k8s.io names map onto the core Event's selectable fields.
const EVENTS_V1: &[(&str, &str)] = &[
    META[0],
    META[1],
    ("regarding.kind", "involvedObject.kind"),
    ("regarding.namespace", "involvedObject.namespace"),
    ("regarding.name", "involvedObject.name"),
    ("regarding.uid", "involvedObject.uid"),
    ("regarding.apiVersion", "involvedObject.apiVersion"),
    ("regarding.resourceVersion", "involvedObject.resourceVersion"),
    ("regarding.fieldPath", "involvedObject.fieldPath"),
    ("reason", "reason"),
    ("reportingController", "reportingComponent"),
    ("source", "source"),
    ("type", "type"),
];

fn labels_of(group: &str, kind: &str) -> Labels {
    match (group, kind) {
        ("", "Pod") => Labels::Listed(POD),
        ("", "Node") => Labels::Listed(NODE),
        ("", "ReplicationController") | ("apps", "ReplicaSet") => Labels::Listed(REPLICAS),
        ("", "Event") => Labels::Listed(EVENT),
        ("events.k8s.io", "Event") => Labels::Listed(EVENTS_V1),
        ("", "Namespace") => Labels::Listed(NAMESPACE),
        ("", "Secret") => Labels::Listed(SECRET),
        ("", "Service") => Labels::Listed(SERVICE),
        ("batch", "Job") => Labels::Listed(JOB),
        ("certificates.k8s.io", "CertificateSigningRequest") => Labels::Listed(CSR),
        _ => Labels::Default,
    }
}

/// Whether `field` can be used in a field selector on `group`/`kind`.
pub fn supported(group: &str, kind: &str, field: &str) -> bool {
    canonical_field(group, kind, field).is_ok()
}

/// The name under which [`field_set`] reports `field` for `group`/`kind`, or upstream's
/// error message when the kind cannot be selected on it.
pub fn canonical_field(group: &str, kind: &str, field: &str) -> Result<&'static str, String> {
    match labels_of(group, kind) {
        Labels::Default => META
            .iter()
            .find(|(name, _)| *name == field)
            .map(|(_, canonical)| *canonical)
            .ok_or_else(|| {
                format!(
                    "{field:?} is not a known field selector: only \"metadata.name\", \"metadata.namespace\""
                )
            }),
        Labels::Listed(list) => list
            .iter()
            .find(|(name, _)| *name == field)
            .map(|(_, canonical)| *canonical)
            .ok_or_else(|| format!("field label not supported: {field}")),
    }
}

fn at<'a>(v: &'a Value, path: &[&str]) -> Option<&'a Value> {
    path.iter().try_fold(v, |v, k| v.get(k))
}

fn text(v: &Value, path: &[&str]) -> String {
    at(v, path).and_then(Value::as_str).unwrap_or("").to_string()
}

fn int(v: &Value, path: &[&str]) -> String {
    at(v, path).and_then(Value::as_i64).unwrap_or(0).to_string()
}

fn boolean(v: &Value, path: &[&str]) -> String {
    at(v, path).and_then(Value::as_bool).unwrap_or(false).to_string()
}

/// Kinds without a namespace, whose field sets lack `metadata.namespace`.
fn cluster_scoped(group: &str, kind: &str) -> bool {
    matches!(
        (group, kind),
        ("", "Namespace" | "Node" | "PersistentVolume")
            | ("networking.k8s.io", "IngressClass")
            | ("rbac.authorization.k8s.io", "ClusterRole" | "ClusterRoleBinding")
            | ("storage.k8s.io", "StorageClass")
            | ("apiextensions.k8s.io", "CustomResourceDefinition")
            | ("scheduling.k8s.io", "PriorityClass")
            | ("authorization.k8s.io", "SelfSubjectAccessReview")
            | ("certificates.k8s.io", "CertificateSigningRequest")
    )
}

/// The first pod IP: `status.podIPs[0].ip`, else the legacy `status.podIP`.
pub(crate) fn pod_ip(pod: &Value) -> String {
    at(pod, &["status", "podIPs"])
        .and_then(|a| a.get(0))
        .and_then(|i| i.get("ip"))
        .and_then(Value::as_str)
        .filter(|s| !s.is_empty())
        .map_or_else(|| text(pod, &["status", "podIP"]), str::to_string)
}

/// The first of `names` present in `obj` (an Event may be in core or events.k8s.io shape).
fn first<'a>(obj: &'a Value, names: &[&str]) -> Option<&'a Value> {
    names.iter().find_map(|n| obj.get(n).filter(|v| !v.is_null()))
}

fn event_fields(obj: &Value, out: &mut Vec<(String, String)>) {
    let involved = first(obj, &["involvedObject", "regarding"])
        .cloned()
        .unwrap_or(Value::Null);
    for (field, key) in [
        ("kind", "kind"),
        ("namespace", "namespace"),
        ("name", "name"),
        ("uid", "uid"),
        ("apiVersion", "apiVersion"),
        ("resourceVersion", "resourceVersion"),
        ("fieldPath", "fieldPath"),
    ] {
        out.push((format!("involvedObject.{field}"), text(&involved, &[key])));
    }
    let reporting = first(obj, &["reportingComponent", "reportingController"])
        .and_then(Value::as_str)
        .unwrap_or("");
    let component = first(obj, &["source", "deprecatedSource"])
        .and_then(|s| s.get("component"))
        .and_then(Value::as_str)
        .unwrap_or("");
    let source = if component.is_empty() {
        reporting
    } else {
        component
    };
    out.push(("reason".into(), text(obj, &["reason"])));
    out.push(("reportingComponent".into(), reporting.to_string()));
    out.push(("source".into(), source.to_string()));
    out.push(("type".into(), text(obj, &["type"])));
}

/// The selectable fields of an object and their values (always `metadata.name`, plus
/// `metadata.namespace` for namespaced kinds, plus the kind's own, e.g. `spec.nodeName` for
/// pods). Names are the canonical ones of [`canonical_field`].
pub fn field_set(group: &str, kind: &str, obj: &Value) -> Vec<(String, String)> {
    let mut out = vec![("metadata.name".to_string(), text(obj, &["metadata", "name"]))];
    if !cluster_scoped(group, kind) {
        out.push((
            "metadata.namespace".to_string(),
            text(obj, &["metadata", "namespace"]),
        ));
    }
    let mut push = |k: &str, v: String| out.push((k.to_string(), v));
    match (group, kind) {
        ("", "Pod") => {
            push("spec.nodeName", text(obj, &["spec", "nodeName"]));
            push("spec.restartPolicy", text(obj, &["spec", "restartPolicy"]));
            push("spec.schedulerName", text(obj, &["spec", "schedulerName"]));
            push(
                "spec.serviceAccountName",
                text(obj, &["spec", "serviceAccountName"]),
            );
            push("spec.hostNetwork", boolean(obj, &["spec", "hostNetwork"]));
            push("status.phase", text(obj, &["status", "phase"]));
            push("status.podIP", pod_ip(obj));
            push(
                "status.nominatedNodeName",
                text(obj, &["status", "nominatedNodeName"]),
            );
        }
        ("", "Node") => push("spec.unschedulable", boolean(obj, &["spec", "unschedulable"])),
        ("", "ReplicationController") | ("apps", "ReplicaSet") => {
            push("status.replicas", int(obj, &["status", "replicas"]));
        }
        ("batch", "Job") => push("status.successful", int(obj, &["status", "succeeded"])),
        ("", "Namespace") => push("status.phase", text(obj, &["status", "phase"])),
        ("", "Secret") => push("type", text(obj, &["type"])),
        ("", "Service") => {
            let mut ip = text(obj, &["spec", "clusterIP"]);
            if ip.is_empty() {
                ip = obj
                    .get("spec")
                    .and_then(|s| s.get("clusterIPs"))
                    .and_then(|a| a.get(0))
                    .and_then(Value::as_str)
                    .unwrap_or("")
                    .to_string();
            }
            push("spec.clusterIP", ip);
            push("spec.type", text(obj, &["spec", "type"]));
        }
        ("certificates.k8s.io", "CertificateSigningRequest") => {
            push("spec.signerName", text(obj, &["spec", "signerName"]));
        }
        ("" | "events.k8s.io", "Event") => event_fields(obj, &mut out),
        _ => {}
    }
    out
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::fields::FieldSelector;

    fn get<'a>(set: &'a [(String, String)], k: &str) -> Option<&'a str> {
        set.iter().find(|(f, _)| f == k).map(|(_, v)| v.as_str())
    }

    #[test]
    fn support_lists() {
        assert!(supported("", "Pod", "spec.nodeName"));
        assert!(supported("", "Pod", "status.podIPs"));
        assert!(supported("", "Pod", "spec.hostNetwork"));
        assert!(!supported("", "Pod", "spec.containers"));
        assert!(supported("apps", "Deployment", "metadata.namespace"));
        assert!(!supported("apps", "Deployment", "status.replicas"));
        assert!(supported("apps", "ReplicaSet", "status.replicas"));
        assert!(supported("", "Node", "spec.unschedulable"));
        assert!(!supported("", "Node", "metadata.namespace"));
        assert!(!supported("", "Namespace", "metadata.namespace"));
        assert!(supported("", "Service", "spec.clusterIP"));
        assert!(supported("", "Secret", "type"));
        assert!(supported("batch", "Job", "status.successful"));
        assert!(supported("", "Event", "involvedObject.name"));
        assert!(!supported("", "Event", "regarding.name"));
        assert!(supported("events.k8s.io", "Event", "regarding.name"));
        assert!(supported("example.com", "Widget", "metadata.name"));
        assert_eq!(canonical_field("", "Pod", "spec.host"), Ok("spec.nodeName"));
        assert_eq!(
            canonical_field("events.k8s.io", "Event", "reportingController"),
            Ok("reportingComponent")
        );
        assert_eq!(
            canonical_field("", "Pod", "x"),
            Err("field label not supported: x".into())
        );
        assert_eq!(
            canonical_field("apps", "Deployment", "spec.replicas"),
            Err("\"spec.replicas\" is not a known field selector: only \"metadata.name\", \"metadata.namespace\"".into())
        );
    }

    #[test]
    fn pod_fields() {
        let pod = json!({
            "metadata": {"name": "p", "namespace": "ns"},
            "spec": {"nodeName": "n1", "restartPolicy": "Always", "schedulerName": "default-scheduler",
                     "serviceAccountName": "default"},
            "status": {"phase": "Running", "podIP": "10.0.0.9", "podIPs": [{"ip": "10.0.0.9"}, {"ip": "fd00::9"}]}
        });
        let set = field_set("", "Pod", &pod);
        assert_eq!(get(&set, "metadata.name"), Some("p"));
        assert_eq!(get(&set, "metadata.namespace"), Some("ns"));
        assert_eq!(get(&set, "spec.nodeName"), Some("n1"));
        assert_eq!(get(&set, "spec.hostNetwork"), Some("false"));
        assert_eq!(get(&set, "status.podIP"), Some("10.0.0.9"));
        assert_eq!(get(&set, "status.nominatedNodeName"), Some(""));
        let sel = FieldSelector::parse("spec.host=n1,status.phase!=Pending")
            .unwrap()
            .convert("", "Pod")
            .unwrap();
        assert_eq!(sel.to_string(), "spec.nodeName=n1,status.phase!=Pending");
        assert!(sel.matches(&set));
        let legacy = json!({"metadata": {"name": "q"}, "status": {"podIP": "10.1.1.1"}});
        assert_eq!(
            get(&field_set("", "Pod", &legacy), "status.podIP"),
            Some("10.1.1.1")
        );
    }

    #[test]
    fn other_kinds() {
        let node = json!({"metadata": {"name": "n"}, "spec": {"unschedulable": true}});
        let set = field_set("", "Node", &node);
        assert_eq!(set.len(), 2);
        assert_eq!(get(&set, "spec.unschedulable"), Some("true"));
        let rs = json!({"metadata": {"name": "r", "namespace": "d"}, "status": {"replicas": 3}});
        assert_eq!(
            get(&field_set("apps", "ReplicaSet", &rs), "status.replicas"),
            Some("3")
        );
        assert_eq!(
            get(
                &field_set("", "ReplicationController", &json!({})),
                "status.replicas"
            ),
            Some("0")
        );
        let job = json!({"status": {"succeeded": 1}});
        assert_eq!(
            get(&field_set("batch", "Job", &job), "status.successful"),
            Some("1")
        );
        let secret = json!({"type": "Opaque"});
        assert_eq!(get(&field_set("", "Secret", &secret), "type"), Some("Opaque"));
        let svc = json!({"spec": {"clusterIPs": ["10.96.0.1"], "type": "ClusterIP"}});
        let set = field_set("", "Service", &svc);
        assert_eq!(get(&set, "spec.clusterIP"), Some("10.96.0.1"));
        assert_eq!(get(&set, "spec.type"), Some("ClusterIP"));
        let ns = json!({"metadata": {"name": "default"}, "status": {"phase": "Active"}});
        assert_eq!(
            get(&field_set("", "Namespace", &ns), "status.phase"),
            Some("Active")
        );
        assert_eq!(get(&field_set("", "Namespace", &ns), "metadata.namespace"), None);
        let cm = json!({"metadata": {"name": "c", "namespace": "x"}});
        assert_eq!(field_set("", "ConfigMap", &cm).len(), 2);
    }

    #[test]
    fn event_fields_in_both_shapes() {
        let core = json!({
            "metadata": {"name": "e", "namespace": "default"},
            "involvedObject": {"kind": "Pod", "name": "web", "namespace": "default", "uid": "u1", "apiVersion": "v1",
                               "fieldPath": "spec.containers{web}"},
            "reason": "Pulled", "type": "Normal", "reportingComponent": "kubelet", "source": {}
        });
        let set = field_set("", "Event", &core);
        assert_eq!(get(&set, "involvedObject.kind"), Some("Pod"));
        assert_eq!(
            get(&set, "involvedObject.fieldPath"),
            Some("spec.containers{web}")
        );
        assert_eq!(get(&set, "involvedObject.resourceVersion"), Some(""));
        assert_eq!(get(&set, "source"), Some("kubelet"));
        assert_eq!(get(&set, "reportingComponent"), Some("kubelet"));
        let v1 = json!({
            "metadata": {"name": "e", "namespace": "default"},
            "regarding": {"kind": "Pod", "name": "web"},
            "reason": "Pulled", "type": "Normal", "reportingController": "kubelet",
            "deprecatedSource": {"component": "legacy"}
        });
        let set = field_set("events.k8s.io", "Event", &v1);
        assert_eq!(get(&set, "involvedObject.name"), Some("web"));
        assert_eq!(get(&set, "source"), Some("legacy"));
        let sel = FieldSelector::parse("regarding.kind=Pod,regarding.name=web")
            .unwrap()
            .convert("events.k8s.io", "Event")
            .unwrap();
        assert!(sel.matches(&field_set("", "Event", &core)));
        assert!(
            FieldSelector::parse("regarding.kind=Pod")
                .unwrap()
                .convert("", "Event")
                .is_err()
        );
    }
}
