//! Rows of the remaining kinds with printers: HorizontalPodAutoscalers (v2 and v1 shapes),
//! Scale, PodDisruptionBudgets, role bindings, StorageClasses, PriorityClasses and Leases.

use jiff::Timestamp;
use serde_json::Value;

use super::Column;
use super::util::{age, at, boolean, int, int_or_string, list, name, quantity, s, text, text_or};

pub(super) const HPA: &[Column] = &[
    Column::name(),
    Column::new("Reference", "string", "The scaled object, as Kind/name."),
    Column::new(
        "Targets",
        "string",
        "Current out of target value for each metric.",
    ),
    Column::new(
        "MinPods",
        "string",
        "Fewest replicas the autoscaler may scale to.",
    ),
    Column::new("MaxPods", "string", "Most replicas the autoscaler may scale to."),
    Column::new("Replicas", "string", "Replicas the target has now."),
    Column::age(),
];

/// A quantity in a metric, `<nil>` when absent (as upstream prints a missing one).
fn qty(v: &Value, path: &[&str]) -> String {
    quantity(at(v, path), "<nil>")
}

/// `name: current/target` or `current/target` per metric, at most two, `<none>` for none.
fn hpa_targets(specs: &[Value], statuses: &[Value]) -> String {
    const MAX: usize = 2;
    if specs.is_empty() {
        return "<none>".to_string();
    }
    let mut shown: Vec<String> = Vec::new();
    for (i, spec) in specs.iter().enumerate() {
        let status = statuses.get(i).unwrap_or(&Value::Null);
        // The status of this metric, under the given source key, if present.
        let current = |source: &str| status.get(source).filter(|v| v.is_object());
        let entry = match text(spec, &["type"]) {
            source @ ("External" | "Object") => {
                let key = if source == "External" {
                    "external"
                } else {
                    "object"
                };
                let target = at(spec, &[key, "target"]).unwrap_or(&Value::Null);
                if at(target, &["averageValue"]).is_some_and(|v| !v.is_null()) {
                    let now = current(key)
                        .filter(|c| at(c, &["current", "averageValue"]).is_some_and(|v| !v.is_null()))
                        .map_or_else(
                            || "<unknown>".to_string(),
                            |c| qty(c, &["current", "averageValue"]),
                        );
                    format!("{now}/{} (avg)", qty(target, &["averageValue"]))
                } else {
                    let now = current(key)
                        .map_or_else(|| "<unknown>".to_string(), |c| qty(c, &["current", "value"]));
                    format!("{now}/{}", qty(target, &["value"]))
                }
            }
            "Pods" => {
                let now = current("pods").map_or_else(
                    || "<unknown>".to_string(),
                    |c| qty(c, &["current", "averageValue"]),
                );
                format!("{now}/{}", qty(spec, &["pods", "target", "averageValue"]))
            }
            source @ ("Resource" | "ContainerResource") => {
                let key = if source == "Resource" {
                    "resource"
                } else {
                    "containerResource"
                };
                let metric = spec.get(key).unwrap_or(&Value::Null);
                let resource = text(metric, &["name"]);
                let target = metric.get("target").unwrap_or(&Value::Null);
                if at(target, &["averageValue"]).is_some_and(|v| !v.is_null()) {
                    let now = current(key).map_or_else(
                        || "<unknown>".to_string(),
                        |c| qty(c, &["current", "averageValue"]),
                    );
                    format!("{resource}: {now}/{}", qty(target, &["averageValue"]))
                } else {
                    let now = current(key)
                        .and_then(|c| at(c, &["current", "averageUtilization"]))
                        .and_then(Value::as_i64)
                        .map_or_else(|| "<unknown>".to_string(), |u| format!("{u}%"));
                    let goal = at(target, &["averageUtilization"])
                        .and_then(Value::as_i64)
                        .map_or_else(|| "<auto>".to_string(), |u| format!("{u}%"));
                    format!("{resource}: {now}/{goal}")
                }
            }
            _ => "<unknown type>".to_string(),
        };
        shown.push(entry);
    }
    let count = shown.len();
    shown.truncate(MAX);
    let joined = shown.join(", ");
    if count > MAX {
        format!("{joined} + {} more...", count - MAX)
    } else {
        joined
    }
}

/// An autoscaling/v1 object's single CPU target, in the v2 metric shape.
fn v1_metrics(hpa: &Value) -> (Vec<Value>, Vec<Value>) {
    let Some(target) = at(hpa, &["spec", "targetCPUUtilizationPercentage"]).and_then(Value::as_i64) else {
        return (Vec::new(), Vec::new());
    };
    let spec = serde_json::json!({"type": "Resource",
        "resource": {"name": "cpu", "target": {"type": "Utilization", "averageUtilization": target}}});
    let status = match at(hpa, &["status", "currentCPUUtilizationPercentage"]).and_then(Value::as_i64) {
        Some(current) => vec![serde_json::json!({"type": "Resource",
            "resource": {"name": "cpu", "current": {"averageUtilization": current}}})],
        None => Vec::new(),
    };
    (vec![spec], status)
}

pub(super) fn hpa(hpa: &Value, now: Timestamp) -> Vec<Value> {
    let targets = if at(hpa, &["spec", "metrics"]).is_some_and(Value::is_array) {
        hpa_targets(
            list(hpa, &["spec", "metrics"]),
            list(hpa, &["status", "currentMetrics"]),
        )
    } else {
        let (specs, statuses) = v1_metrics(hpa);
        hpa_targets(&specs, &statuses)
    };
    let reference = format!(
        "{}/{}",
        text(hpa, &["spec", "scaleTargetRef", "kind"]),
        text(hpa, &["spec", "scaleTargetRef", "name"])
    );
    let min = at(hpa, &["spec", "minReplicas"])
        .and_then(Value::as_i64)
        .map_or_else(|| "<unset>".to_string(), |m| m.to_string());
    vec![
        name(hpa),
        s(reference),
        s(targets),
        s(min),
        Value::from(int(hpa, &["spec", "maxReplicas"])),
        Value::from(int(hpa, &["status", "currentReplicas"])),
        age(hpa, now),
    ]
}

pub(super) const SCALE: &[Column] = &[
    Column {
        format: "",
        ..Column::name()
    },
    Column::new("Desired", "integer", "Replicas asked for."),
    Column::new("Available", "integer", "Replicas observed."),
    Column::age(),
];

pub(super) fn scale(scale: &Value, now: Timestamp) -> Vec<Value> {
    vec![
        name(scale),
        Value::from(int(scale, &["spec", "replicas"])),
        Value::from(int(scale, &["status", "replicas"])),
        age(scale, now),
    ]
}

pub(super) const PDB: &[Column] = &[
    Column::name(),
    Column::new(
        "Min Available",
        "string",
        "Pods that must stay available during voluntary disruptions.",
    ),
    Column::new(
        "Max Unavailable",
        "string",
        "Pods that may be unavailable during voluntary disruptions.",
    ),
    Column::new(
        "Allowed Disruptions",
        "integer",
        "Pods that may be evicted right now.",
    ),
    Column::age(),
];

pub(super) fn pdb(pdb: &Value, now: Timestamp) -> Vec<Value> {
    let bound = |k: &str| int_or_string(at(pdb, &["spec", k])).unwrap_or_else(|| "N/A".to_string());
    vec![
        name(pdb),
        s(bound("minAvailable")),
        s(bound("maxUnavailable")),
        Value::from(int(pdb, &["status", "disruptionsAllowed"])),
        age(pdb, now),
    ]
}

pub(super) const ROLE_BINDING: &[Column] = &[
    Column::name(),
    Column::new("Role", "string", "The role granted, as Kind/name."),
    Column::age(),
    Column::wide("Users", "string", "Users the role is granted to."),
    Column::wide("Groups", "string", "Groups the role is granted to."),
    Column::wide(
        "ServiceAccounts",
        "string",
        "Service accounts the role is granted to, as namespace/name.",
    ),
];

pub(super) const CLUSTER_ROLE_BINDING: &[Column] = ROLE_BINDING;

pub(super) fn role_binding(rb: &Value, now: Timestamp) -> Vec<Value> {
    let (mut users, mut groups, mut accounts) = (Vec::new(), Vec::new(), Vec::new());
    for subject in list(rb, &["subjects"]) {
        let subject_name = text(subject, &["name"]);
        match text(subject, &["kind"]) {
            "ServiceAccount" => accounts.push(format!("{}/{subject_name}", text(subject, &["namespace"]))),
            "User" => users.push(subject_name.to_string()),
            "Group" => groups.push(subject_name.to_string()),
            _ => {}
        }
    }
    vec![
        name(rb),
        s(format!(
            "{}/{}",
            text(rb, &["roleRef", "kind"]),
            text(rb, &["roleRef", "name"])
        )),
        age(rb, now),
        s(users.join(", ")),
        s(groups.join(", ")),
        s(accounts.join(", ")),
    ]
}

pub(super) const STORAGE_CLASS: &[Column] = &[
    Column::name(),
    Column::new(
        "Provisioner",
        "string",
        "The volume plugin that provisions volumes of this class.",
    ),
    Column::new(
        "ReclaimPolicy",
        "string",
        "What happens to provisioned volumes when released.",
    ),
    Column::new(
        "VolumeBindingMode",
        "string",
        "When volumes are provisioned and bound.",
    ),
    Column::new(
        "AllowVolumeExpansion",
        "string",
        "Whether claims of this class may grow.",
    ),
    Column::age(),
];

const DEFAULT_CLASS: [&str; 2] = [
    "storageclass.kubernetes.io/is-default-class",
    "storageclass.beta.kubernetes.io/is-default-class",
];

pub(super) fn storage_class(sc: &Value, now: Timestamp) -> Vec<Value> {
    let is_default = DEFAULT_CLASS
        .iter()
        .any(|k| at(sc, &["metadata", "annotations", k]).and_then(Value::as_str) == Some("true"));
    let mut class = text(sc, &["metadata", "name"]).to_string();
    if is_default {
        class.push_str(" (default)");
    }
    vec![
        s(class),
        s(text(sc, &["provisioner"])),
        s(text_or(sc, &["reclaimPolicy"], "Delete")),
        s(text_or(sc, &["volumeBindingMode"], "Immediate")),
        Value::Bool(boolean(sc, &["allowVolumeExpansion"])),
        age(sc, now),
    ]
}

pub(super) const PRIORITY_CLASS: &[Column] = &[
    Column::name(),
    Column::new("Value", "integer", "The priority given to pods of this class."),
    Column::new(
        "Global-Default",
        "boolean",
        "Whether pods without a class get this one.",
    ),
    Column::age(),
    Column::new(
        "PreemptionPolicy",
        "string",
        "Whether pods of this class may preempt lower-priority pods.",
    ),
];

pub(super) fn priority_class(pc: &Value, now: Timestamp) -> Vec<Value> {
    vec![
        name(pc),
        Value::from(int(pc, &["value"])),
        Value::Bool(boolean(pc, &["globalDefault"])),
        age(pc, now),
        s(text(pc, &["preemptionPolicy"])),
    ]
}

pub(super) const LEASE: &[Column] = &[
    Column::name(),
    Column::new("Holder", "string", "Who holds the lease now."),
    Column::age(),
];

pub(super) fn lease(lease: &Value, now: Timestamp) -> Vec<Value> {
    vec![
        name(lease),
        s(text(lease, &["spec", "holderIdentity"])),
        age(lease, now),
    ]
}

pub(super) const API_SERVICE: &[Column] = &[
    Column::name(),
    Column::new(
        "Service",
        "string",
        "The service that serves this group and version, or Local for the API server itself.",
    ),
    Column::new(
        "Available",
        "string",
        "Whether the group and version can be reached, with the reason when not.",
    ),
    Column::age(),
];

/// Upstream prints `namespace/name` of the backing service (or `Local`), and
/// `Available` as the condition's status, followed by its reason when not True.
pub(super) fn api_service(svc: &Value, now: Timestamp) -> Vec<Value> {
    let service = match at(svc, &["spec", "service"]).filter(|v| !v.is_null()) {
        Some(s) => format!("{}/{}", text(s, &["namespace"]), text(s, &["name"])),
        None => "Local".to_string(),
    };
    let available = list(svc, &["status", "conditions"])
        .iter()
        .find(|c| text(c, &["type"]) == "Available")
        .map_or_else(
            || "Unknown".to_string(),
            |c| match text(c, &["status"]) {
                "True" => "True".to_string(),
                st => format!("{st} ({})", text(c, &["reason"])),
            },
        );
    vec![name(svc), s(service), s(available), age(svc, now)]
}

pub(super) const CSR: &[Column] = &[
    Column::name(),
    Column::age(),
    Column::new("SignerName", "string", "The signer the request is addressed to."),
    Column::new("Requestor", "string", "Who made the request."),
    Column::new(
        "RequestedDuration",
        "string",
        "The validity the request asks for.",
    ),
    Column::new(
        "Condition",
        "string",
        "Approved or Denied, Failed, Issued; Pending when undecided.",
    ),
];

pub(super) fn csr(csr: &Value, now: Timestamp) -> Vec<Value> {
    let mut conditions: Vec<String> = list(csr, &["status", "conditions"])
        .iter()
        .filter(|c| text(c, &["status"]) == "True")
        .map(|c| text(c, &["type"]).to_string())
        .filter(|t| !t.is_empty())
        .collect();
    if !text(csr, &["status", "certificate"]).is_empty() {
        conditions.push("Issued".into());
    }
    let condition = if conditions.is_empty() {
        "Pending".to_string()
    } else {
        conditions.join(",")
    };
    let requested = match int(csr, &["spec", "expirationSeconds"]) {
        0 => "<none>".to_string(),
        secs => super::human_duration(secs),
    };
    vec![
        name(csr),
        age(csr, now),
        s(text(csr, &["spec", "signerName"])),
        s(text(csr, &["spec", "username"])),
        s(requested),
        s(condition),
    ]
}
