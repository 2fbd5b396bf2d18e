//! Rows of the workload controllers: Deployments, ReplicaSets, StatefulSets, DaemonSets,
//! ControllerRevisions and (core) ReplicationControllers.

use jiff::Timestamp;
use serde_json::Value;

use super::Column;
use super::util::{age, at, containers, int, list, map, name, s, text};
use crate::labels::{Selector, format_label_selector, format_labels};

const CONTAINERS: Column = Column::wide("Containers", "string", "Container names in the pod template.");
const IMAGES: Column = Column::wide("Images", "string", "Container images in the pod template.");
const SELECTOR: Column = Column::wide("Selector", "string", "Label selector of the pods it manages.");

/// `spec.replicas`, which defaulting sets to 1 when omitted.
fn desired(obj: &Value) -> i64 {
    at(obj, &["spec", "replicas"])
        .and_then(Value::as_i64)
        .unwrap_or(1)
}

fn template_containers(obj: &Value) -> (Value, Value) {
    containers(list(obj, &["spec", "template", "spec", "containers"]))
}

pub(super) const DEPLOYMENT: &[Column] = &[
    Column::name(),
    Column::new("Ready", "string", "Ready pods out of desired replicas."),
    Column::new("Up-to-date", "string", "Pods running the latest pod template."),
    Column::new("Available", "string", "Pods ready for at least minReadySeconds."),
    Column::age(),
    CONTAINERS,
    IMAGES,
    SELECTOR,
];

pub(super) fn deployment(d: &Value, now: Timestamp) -> Vec<Value> {
    let (names, images) = template_containers(d);
    let selector = match Selector::from_label_selector(at(d, &["spec", "selector"]).unwrap_or(&Value::Null)) {
        Ok(sel) => sel.to_string(),
        Err(_) => "<invalid>".to_string(),
    };
    vec![
        name(d),
        s(format!("{}/{}", int(d, &["status", "readyReplicas"]), desired(d))),
        Value::from(int(d, &["status", "updatedReplicas"])),
        Value::from(int(d, &["status", "availableReplicas"])),
        age(d, now),
        names,
        images,
        s(selector),
    ]
}

pub(super) const REPLICA_SET: &[Column] = &[
    Column::name(),
    Column::new("Desired", "integer", "Replicas asked for."),
    Column::new("Current", "integer", "Replicas that exist."),
    Column::new("Ready", "integer", "Replicas that are ready."),
    Column::age(),
    CONTAINERS,
    IMAGES,
    SELECTOR,
];

pub(super) fn replica_set(rs: &Value, now: Timestamp) -> Vec<Value> {
    let (names, images) = template_containers(rs);
    vec![
        name(rs),
        Value::from(desired(rs)),
        Value::from(int(rs, &["status", "replicas"])),
        Value::from(int(rs, &["status", "readyReplicas"])),
        age(rs, now),
        names,
        images,
        s(format_label_selector(at(rs, &["spec", "selector"]))),
    ]
}

pub(super) const REPLICATION_CONTROLLER: &[Column] = REPLICA_SET;

pub(super) fn replication_controller(rc: &Value, now: Timestamp) -> Vec<Value> {
    let (names, images) = template_containers(rc);
    vec![
        name(rc),
        Value::from(desired(rc)),
        Value::from(int(rc, &["status", "replicas"])),
        Value::from(int(rc, &["status", "readyReplicas"])),
        age(rc, now),
        names,
        images,
        s(format_labels(map(rc, &["spec", "selector"]))),
    ]
}

pub(super) const STATEFUL_SET: &[Column] = &[
    Column::name(),
    Column::new("Ready", "string", "Ready pods out of desired replicas."),
    Column::age(),
    CONTAINERS,
    IMAGES,
];

pub(super) fn stateful_set(sts: &Value, now: Timestamp) -> Vec<Value> {
    let (names, images) = template_containers(sts);
    vec![
        name(sts),
        s(format!(
            "{}/{}",
            int(sts, &["status", "readyReplicas"]),
            desired(sts)
        )),
        age(sts, now),
        names,
        images,
    ]
}

pub(super) const DAEMON_SET: &[Column] = &[
    Column::name(),
    Column::new("Desired", "integer", "Nodes that should run the daemon pod."),
    Column::new("Current", "integer", "Nodes running at least one daemon pod."),
    Column::new("Ready", "integer", "Nodes whose daemon pod is ready."),
    Column::new("Up-to-date", "integer", "Nodes running the latest pod template."),
    Column::new("Available", "integer", "Nodes whose daemon pod is available."),
    Column::new(
        "Node Selector",
        "string",
        "Labels a node needs to run the daemon pod.",
    ),
    Column::age(),
    CONTAINERS,
    IMAGES,
    SELECTOR,
];

pub(super) fn daemon_set(ds: &Value, now: Timestamp) -> Vec<Value> {
    let (names, images) = template_containers(ds);
    let status = |k: &str| Value::from(int(ds, &["status", k]));
    vec![
        name(ds),
        status("desiredNumberScheduled"),
        status("currentNumberScheduled"),
        status("numberReady"),
        status("updatedNumberScheduled"),
        status("numberAvailable"),
        s(format_labels(map(
            ds,
            &["spec", "template", "spec", "nodeSelector"],
        ))),
        age(ds, now),
        names,
        images,
        s(format_label_selector(at(ds, &["spec", "selector"]))),
    ]
}

pub(super) const CONTROLLER_REVISION: &[Column] = &[
    Column::name(),
    Column::new(
        "Controller",
        "string",
        "The object that owns the revision, as kind.group/name.",
    ),
    Column::new("Revision", "string", "Revision number."),
    Column::age(),
];

pub(super) fn controller_revision(cr: &Value, now: Timestamp) -> Vec<Value> {
    let owner = list(cr, &["metadata", "ownerReferences"])
        .iter()
        .find(|o| at(o, &["controller"]).and_then(Value::as_bool) == Some(true));
    let controller = match owner {
        None => "<none>".to_string(),
        Some(o) => {
            let kind = text(o, &["kind"]);
            let group = match text(o, &["apiVersion"]).rsplit_once('/') {
                Some((group, _)) => group,
                None => "",
            };
            let group_kind = if group.is_empty() {
                kind.to_string()
            } else {
                format!("{kind}.{group}")
            };
            let owner_name = text(o, &["name"]);
            if group_kind.is_empty() {
                owner_name.to_string()
            } else {
                format!("{}/{owner_name}", group_kind.to_lowercase())
            }
        }
    };
    vec![
        name(cr),
        s(controller),
        Value::from(int(cr, &["revision"])),
        age(cr, now),
    ]
}
