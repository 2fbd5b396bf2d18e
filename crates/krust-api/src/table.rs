//! `Table` columns and cells for each built-in kind, matching upstream's server-side printers
//! (what `kubectl get` shows): the same column names, types and priorities, and the same
//! cell text, e.g. a pod's `Init:0/1`, `CrashLoopBackOff` or `3 (5m ago)` restarts.
//!
//! Cells always include the `-o wide` columns (priority 1), as upstream's server does;
//! kubectl hides them unless asked. Kinds without a printer (Roles, LimitRanges, CRDs,
//! custom resources…) get upstream's default table: Name and Created At.
//!
//! Cells are JSON strings, integers or booleans; kubectl prints them as they are. Ages are
//! computed against the caller's `now` with [`human_duration`].

mod apps;
mod batch;
mod corev1;
mod event;
mod network;
mod other;
mod pod;
mod util;

use jiff::Timestamp;
use serde_json::Value;

/// One `TableColumnDefinition`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Column {
    /// Header, e.g. `Name`, `Ready`.
    pub name: &'static str,
    /// OpenAPI type: `string`, `integer`, `date`, ...
    pub type_: &'static str,
    /// Format: `name` for the name column, else usually empty.
    pub format: &'static str,
    /// What the column shows.
    pub description: &'static str,
    /// 0 = always shown, 1 = only with `-o wide`.
    pub priority: u8,
}

impl Column {
    /// The `Name` column every printer starts with (format `name`, which kubectl uses to
    /// find the object's name in a row).
    pub const fn name() -> Self {
        Self {
            name: "Name",
            type_: "string",
            format: "name",
            description: "Name of the object, unique among its kind in its namespace.",
            priority: 0,
        }
    }

    /// An always-shown column.
    pub const fn new(name: &'static str, type_: &'static str, description: &'static str) -> Self {
        Self {
            name,
            type_,
            format: "",
            description,
            priority: 0,
        }
    }

    /// A column shown only with `-o wide`.
    pub const fn wide(name: &'static str, type_: &'static str, description: &'static str) -> Self {
        Self {
            name,
            type_,
            format: "",
            description,
            priority: 1,
        }
    }

    /// The `Age` column.
    pub const fn age() -> Self {
        Self::new("Age", "string", "Time since the object was created.")
    }
}

type CellFn = fn(&Value, Timestamp) -> Vec<Value>;

/// The printer of a kind: its columns and how to fill a row.
fn printer(group: &str, kind: &str) -> Option<(&'static [Column], CellFn)> {
    Some(match (group, kind) {
        ("", "Pod") => (pod::COLUMNS, pod::cells),
        ("", "Service") => (corev1::SERVICE, corev1::service),
        ("", "Node") => (corev1::NODE, corev1::node),
        ("", "Namespace") => (corev1::NAMESPACE, corev1::namespace),
        ("", "ConfigMap") => (corev1::CONFIG_MAP, corev1::config_map),
        ("", "Secret") => (corev1::SECRET, corev1::secret),
        ("", "ServiceAccount") => (corev1::SERVICE_ACCOUNT, corev1::service_account),
        ("", "Endpoints") => (corev1::ENDPOINTS, corev1::endpoints),
        ("", "PersistentVolume") => (corev1::PERSISTENT_VOLUME, corev1::persistent_volume),
        ("", "PersistentVolumeClaim") => (corev1::PERSISTENT_VOLUME_CLAIM, corev1::persistent_volume_claim),
        ("", "ResourceQuota") => (corev1::RESOURCE_QUOTA, corev1::resource_quota),
        ("", "ReplicationController") => (apps::REPLICATION_CONTROLLER, apps::replication_controller),
        ("" | "events.k8s.io", "Event") => (event::COLUMNS, event::cells),
        ("apps", "Deployment") => (apps::DEPLOYMENT, apps::deployment),
        ("apps", "ReplicaSet") => (apps::REPLICA_SET, apps::replica_set),
        ("apps", "StatefulSet") => (apps::STATEFUL_SET, apps::stateful_set),
        ("apps", "DaemonSet") => (apps::DAEMON_SET, apps::daemon_set),
        ("apps", "ControllerRevision") => (apps::CONTROLLER_REVISION, apps::controller_revision),
        ("batch", "Job") => (batch::JOB, batch::job),
        ("batch", "CronJob") => (batch::CRON_JOB, batch::cron_job),
        ("autoscaling", "HorizontalPodAutoscaler") => (other::HPA, other::hpa),
        ("autoscaling", "Scale") => (other::SCALE, other::scale),
        ("networking.k8s.io", "Ingress") => (network::INGRESS, network::ingress),
        ("networking.k8s.io", "IngressClass") => (network::INGRESS_CLASS, network::ingress_class),
        ("networking.k8s.io", "NetworkPolicy") => (network::NETWORK_POLICY, network::network_policy),
        ("discovery.k8s.io", "EndpointSlice") => (network::ENDPOINT_SLICE, network::endpoint_slice),
        ("policy", "PodDisruptionBudget") => (other::PDB, other::pdb),
        ("rbac.authorization.k8s.io", "RoleBinding") => (other::ROLE_BINDING, other::role_binding),
        ("rbac.authorization.k8s.io", "ClusterRoleBinding") => {
            (other::CLUSTER_ROLE_BINDING, other::role_binding)
        }
        ("storage.k8s.io", "StorageClass") => (other::STORAGE_CLASS, other::storage_class),
        ("scheduling.k8s.io", "PriorityClass") => (other::PRIORITY_CLASS, other::priority_class),
        ("coordination.k8s.io", "Lease") => (other::LEASE, other::lease),
        ("certificates.k8s.io", "CertificateSigningRequest") => (other::CSR, other::csr),
        ("apiregistration.k8s.io", "APIService") => (other::API_SERVICE, other::api_service),
        _ => return None,
    })
}

/// Whether `group`/`kind` has its own printer (otherwise the default Name/Created At table).
pub fn has_printer(group: &str, kind: &str) -> bool {
    printer(group, kind).is_some()
}

/// The columns for `group`/`kind` (a default Name/Created At set for kinds with no printer).
pub fn columns(group: &str, kind: &str) -> Vec<Column> {
    printer(group, kind)
        .map_or(util::DEFAULT_COLUMNS, |(cols, _)| cols)
        .to_vec()
}

/// The cells of one row, in the order of `columns`; `now` computes ages like `5m`.
pub fn cells(group: &str, kind: &str, obj: &Value, now: Timestamp) -> Vec<Value> {
    match printer(group, kind) {
        Some((_, fill)) => fill(obj, now),
        None => util::default_cells(obj),
    }
}

/// The `conditions` of a row (`TableRowCondition`s): a finished pod is marked `Completed`,
/// which lets clients dim it. Empty for everything else.
pub fn row_conditions(group: &str, kind: &str, obj: &Value) -> Vec<Value> {
    if (group, kind) != ("", "Pod") {
        return Vec::new();
    }
    let (reason, message) = match util::text(obj, &["status", "phase"]) {
        "Succeeded" => ("Succeeded", "All containers of the pod finished successfully."),
        "Failed" => ("Failed", "The pod finished and at least one container failed."),
        _ => return Vec::new(),
    };
    vec![serde_json::json!({"type": "Completed", "status": "True", "reason": reason, "message": message})]
}

/// A duration as kubectl shows ages: `45s`, `2m30s`, `15m`, `3h20m`, `10h`, `3d4h`, `20d`,
/// `2y30d`, `9y`. Precision drops as durations grow (about two significant figures);
/// slightly negative durations (clock skew up to a second) print `0s`, larger ones
/// `<invalid>`.
pub fn human_duration(secs: i64) -> String {
    if secs < -1 {
        return "<invalid>".to_string();
    }
    if secs < 0 {
        return "0s".to_string();
    }
    if secs < 120 {
        return format!("{secs}s");
    }
    let minutes = secs / 60;
    if minutes < 10 {
        let s = secs % 60;
        return if s == 0 {
            format!("{minutes}m")
        } else {
            format!("{minutes}m{s}s")
        };
    }
    if minutes < 180 {
        return format!("{minutes}m");
    }
    let hours = secs / 3600;
    if hours < 8 {
        let m = minutes % 60;
        return if m == 0 {
            format!("{hours}h")
        } else {
            format!("{hours}h{m}m")
        };
    }
    if hours < 48 {
        return format!("{hours}h");
    }
    let days = hours / 24;
    if hours < 24 * 8 {
        let h = hours % 24;
        return if h == 0 {
            format!("{days}d")
        } else {
            format!("{days}d{h}h")
        };
    }
    if hours < 24 * 365 * 2 {
        return format!("{days}d");
    }
    let years = days / 365;
    if hours < 24 * 365 * 8 {
        let d = days % 365;
        return if d == 0 {
            format!("{years}y")
        } else {
            format!("{years}y{d}d")
        };
    }
    format!("{years}y")
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests;
