//! Tests of the table printers: durations, the shape of every kind's rows, and pod rows.
//! Other kinds' cells are in the submodules.

mod corev1;
mod kinds;
mod workloads;

use jiff::Timestamp;
use serde_json::{Value, json};

use super::*;

/// The fixed "now" of every test.
fn now() -> Timestamp {
    "2025-01-01T12:00:00Z".parse().unwrap()
}

/// A timestamp `secs` before [`now`], as an API object holds it.
fn ago(secs: i64) -> String {
    Timestamp::from_second(now().as_second() - secs)
        .unwrap()
        .to_string()
}

/// One row, checked to have as many cells as the kind has columns.
fn row(group: &str, kind: &str, obj: &Value) -> Value {
    let cells = cells(group, kind, obj, now());
    assert_eq!(cells.len(), columns(group, kind).len(), "{group}/{kind}");
    Value::Array(cells)
}

#[test]
fn human_durations() {
    let cases: &[(i64, &str)] = &[
        (-5, "<invalid>"),
        (-2, "<invalid>"),
        (-1, "0s"),
        (0, "0s"),
        (45, "45s"),
        (119, "119s"),
        (120, "2m"),
        (150, "2m30s"),
        (599, "9m59s"),
        (600, "10m"),
        (10_799, "179m"),
        (10_800, "3h"),
        (12_000, "3h20m"),
        (28_799, "7h59m"),
        (28_800, "8h"),
        (47 * 3600 + 59 * 60, "47h"),
        (48 * 3600, "2d"),
        (76 * 3600, "3d4h"),
        (191 * 3600, "7d23h"),
        (8 * 86_400, "8d"),
        (729 * 86_400, "729d"),
        (730 * 86_400, "2y"),
        (760 * 86_400, "2y30d"),
        (8 * 365 * 86_400, "8y"),
        (20 * 365 * 86_400, "20y"),
    ];
    for (secs, want) in cases {
        assert_eq!(human_duration(*secs), *want, "{secs}s");
    }
}

/// Every built-in kind: header shape, and rows of empty or malformed objects that neither
/// panic nor change length.
#[test]
fn every_kind_has_consistent_rows() {
    let odd = [
        json!({}),
        json!(null),
        json!(42),
        json!({"metadata": "x", "spec": [], "status": "y"}),
        json!({"spec": {"containers": "x", "ports": [1, null], "rules": {}, "metrics": [{"type": 3}]},
               "status": {"conditions": [{}], "containerStatuses": [{"state": []}]}}),
    ];
    for def in crate::registry::built_in() {
        let cols = columns(&def.group, &def.kind);
        assert!(!cols.is_empty());
        assert!(
            cols.iter().filter(|c| c.format == "name").count() <= 1,
            "{}",
            def.kind
        );
        assert!(cols.iter().all(|c| c.priority <= 1 && !c.description.is_empty()));
        if def.kind != "Event" {
            assert_eq!(cols[0].name, "Name", "{}", def.kind);
        }
        for obj in &odd {
            row(&def.group, &def.kind, obj);
        }
    }
}

#[test]
fn default_table_for_kinds_without_printer() {
    for (group, kind) in [
        ("rbac.authorization.k8s.io", "Role"),
        ("rbac.authorization.k8s.io", "ClusterRole"),
        ("", "LimitRange"),
        ("apiextensions.k8s.io", "CustomResourceDefinition"),
        ("example.com", "Pod"),
    ] {
        assert!(!has_printer(group, kind));
        let cols = columns(group, kind);
        let names: Vec<(&str, &str)> = cols.iter().map(|c| (c.name, c.type_)).collect();
        assert_eq!(names, vec![("Name", "string"), ("Created At", "date")]);
    }
    let role = json!({"metadata": {"name": "r", "creationTimestamp": "2024-05-06T07:08:09Z"}});
    assert_eq!(
        row("rbac.authorization.k8s.io", "Role", &role),
        json!(["r", "2024-05-06T07:08:09Z"])
    );
    assert_eq!(
        row("", "LimitRange", &json!({"metadata": {"name": "l"}})),
        json!(["l", "0001-01-01T00:00:00Z"])
    );
}

#[test]
fn ages_and_unknown() {
    let cm = json!({"metadata": {"name": "c", "creationTimestamp": ago(300)}});
    assert_eq!(row("", "ConfigMap", &cm), json!(["c", 0, "5m"]));
    let cm = json!({"metadata": {"name": "c"}});
    assert_eq!(row("", "ConfigMap", &cm), json!(["c", 0, "<unknown>"]));
    let cm = json!({"metadata": {"name": "c", "creationTimestamp": "garbage"}});
    assert_eq!(row("", "ConfigMap", &cm)[2], json!("<unknown>"));
}

#[test]
fn pod_columns() {
    let names: Vec<(&str, u8)> = columns("", "Pod").iter().map(|c| (c.name, c.priority)).collect();
    assert_eq!(
        names,
        vec![
            ("Name", 0),
            ("Ready", 0),
            ("Status", 0),
            ("Restarts", 0),
            ("Age", 0),
            ("IP", 1),
            ("Node", 1),
            ("Nominated Node", 1),
            ("Readiness Gates", 1)
        ]
    );
    assert_eq!(columns("", "Pod")[0].format, "name");
}

fn pod(containers: &[&str], status: Value) -> Value {
    let containers: Vec<Value> = containers
        .iter()
        .map(|n| json!({"name": n, "image": "img"}))
        .collect();
    json!({
        "metadata": {"name": "p", "namespace": "default", "creationTimestamp": ago(600)},
        "spec": {"containers": containers, "nodeName": "n1"},
        "status": status
    })
}

fn running(name: &str, ready: bool) -> Value {
    json!({"name": name, "ready": ready, "restartCount": 0, "state": {"running": {"startedAt": ago(500)}}})
}

fn waiting(name: &str, reason: &str) -> Value {
    json!({"name": name, "ready": false, "restartCount": 0, "state": {"waiting": {"reason": reason}}})
}

fn status_of(p: &Value) -> String {
    cells("", "Pod", p, now())[2].as_str().unwrap().to_string()
}

#[test]
fn pod_running() {
    let p = pod(
        &["web"],
        json!({"phase": "Running", "podIP": "10.0.0.5", "podIPs": [{"ip": "10.0.0.5"}],
               "containerStatuses": [running("web", true)],
               "conditions": [{"type": "Ready", "status": "True"}]}),
    );
    assert_eq!(
        row("", "Pod", &p),
        json!([
            "p", "1/1", "Running", "0", "10m", "10.0.0.5", "n1", "<none>", "<none>"
        ])
    );
    assert!(row_conditions("", "Pod", &p).is_empty());
}

#[test]
fn pod_pending_and_waiting() {
    let p = json!({"metadata": {"name": "p"}, "spec": {"containers": [{"name": "a"}]}, "status": {"phase": "Pending"}});
    assert_eq!(
        row("", "Pod", &p),
        json!([
            "p",
            "0/1",
            "Pending",
            "0",
            "<unknown>",
            "<none>",
            "<none>",
            "<none>",
            "<none>"
        ])
    );
    let p = pod(
        &["web"],
        json!({"phase": "Pending", "containerStatuses": [waiting("web", "ContainerCreating")]}),
    );
    assert_eq!(status_of(&p), "ContainerCreating");
    let p = pod(
        &["web"],
        json!({"phase": "Pending", "containerStatuses": [waiting("web", "ErrImagePull")]}),
    );
    assert_eq!(status_of(&p), "ErrImagePull");
    let p = pod(
        &["a", "b"],
        json!({"phase": "Pending",
        "containerStatuses": [waiting("a", "ImagePullBackOff"), running("b", true)]}),
    );
    // Statuses are read last to first; the first container's reason wins.
    assert_eq!(status_of(&p), "ImagePullBackOff");
    assert_eq!(cells("", "Pod", &p, now())[1], json!("1/2"));
}

#[test]
fn pod_restarts_show_the_last_one() {
    let mut crashing = waiting("web", "CrashLoopBackOff");
    crashing["restartCount"] = json!(3);
    crashing["lastState"] = json!({"terminated": {"exitCode": 1, "reason": "Error", "finishedAt": ago(300)}});
    let p = pod(
        &["web"],
        json!({"phase": "Running", "containerStatuses": [crashing]}),
    );
    let cells = cells("", "Pod", &p, now());
    assert_eq!(cells[2], json!("CrashLoopBackOff"));
    assert_eq!(cells[3], json!("3 (5m ago)"));
    // Restarts without a recorded termination time print just the count.
    let mut restarted = running("web", true);
    restarted["restartCount"] = json!(2);
    let p = pod(
        &["web"],
        json!({"phase": "Running", "containerStatuses": [restarted]}),
    );
    assert_eq!(super::cells("", "Pod", &p, now())[3], json!("2"));
}

#[test]
fn pod_init_containers() {
    let mut p = pod(&["web"], json!({"phase": "Pending"}));
    p["spec"]["initContainers"] = json!([{"name": "i1"}, {"name": "i2"}]);
    let with = |statuses: Value| {
        let mut p = p.clone();
        p["status"]["initContainerStatuses"] = statuses;
        p["status"]["containerStatuses"] = json!([waiting("web", "PodInitializing")]);
        status_of(&p)
    };
    assert_eq!(
        with(json!([running("i1", false), waiting("i2", "PodInitializing")])),
        "Init:0/2"
    );
    let done = json!({"name": "i1", "state": {"terminated": {"exitCode": 0, "reason": "Completed"}}});
    assert_eq!(with(json!([done.clone(), running("i2", false)])), "Init:1/2");
    assert_eq!(
        with(json!([waiting("i1", "CrashLoopBackOff")])),
        "Init:CrashLoopBackOff"
    );
    assert_eq!(
        with(json!([{"name": "i1", "state": {"terminated": {"exitCode": 2, "reason": "Error"}}}])),
        "Init:Error"
    );
    assert_eq!(
        with(json!([{"name": "i1", "state": {"terminated": {"exitCode": 3}}}])),
        "Init:ExitCode:3"
    );
    assert_eq!(
        with(json!([{"name": "i1", "state": {"terminated": {"exitCode": 137, "signal": 9}}}])),
        "Init:Signal:9"
    );
    // All init containers done: the main containers decide.
    assert_eq!(with(json!([done.clone(), done])), "PodInitializing");
}

#[test]
fn pod_init_restarts_count_while_initializing() {
    let mut p = pod(&["web"], json!({"phase": "Pending"}));
    p["spec"]["initContainers"] = json!([{"name": "i1"}]);
    let mut init = waiting("i1", "CrashLoopBackOff");
    init["restartCount"] = json!(4);
    init["lastState"] = json!({"terminated": {"exitCode": 1, "finishedAt": ago(90)}});
    p["status"]["initContainerStatuses"] = json!([init]);
    let cells = cells("", "Pod", &p, now());
    assert_eq!(cells[2], json!("Init:CrashLoopBackOff"));
    assert_eq!(cells[3], json!("4 (90s ago)"));
}

#[test]
fn pod_sidecars_count_as_containers() {
    let mut p = pod(
        &["web"],
        json!({"phase": "Running", "containerStatuses": [running("web", true)],
               "conditions": [{"type": "Initialized", "status": "True"}, {"type": "Ready", "status": "True"}]}),
    );
    p["spec"]["initContainers"] = json!([{"name": "proxy", "restartPolicy": "Always"}]);
    let mut side = running("proxy", true);
    side["started"] = json!(true);
    side["restartCount"] = json!(1);
    side["lastState"] = json!({"terminated": {"exitCode": 1, "finishedAt": ago(120)}});
    p["status"]["initContainerStatuses"] = json!([side]);
    let cells = cells("", "Pod", &p, now());
    assert_eq!(cells[1], json!("2/2"));
    assert_eq!(cells[2], json!("Running"));
    assert_eq!(cells[3], json!("1 (2m ago)"));
}

#[test]
fn pod_completed_and_failed() {
    let done = json!({"name": "job", "restartCount": 0,
        "state": {"terminated": {"exitCode": 0, "reason": "Completed", "finishedAt": ago(60)}}});
    let p = pod(
        &["job"],
        json!({"phase": "Succeeded", "containerStatuses": [done.clone()]}),
    );
    assert_eq!(status_of(&p), "Completed");
    assert_eq!(row_conditions("", "Pod", &p)[0]["type"], json!("Completed"));
    assert_eq!(row_conditions("", "Pod", &p)[0]["reason"], json!("Succeeded"));
    let failed = json!({"name": "job", "state": {"terminated": {"exitCode": 137}}});
    let p = pod(
        &["job"],
        json!({"phase": "Failed", "containerStatuses": [failed]}),
    );
    assert_eq!(status_of(&p), "ExitCode:137");
    assert_eq!(row_conditions("", "Pod", &p)[0]["reason"], json!("Failed"));
    let p = pod(&["job"], json!({"phase": "Failed", "reason": "Evicted"}));
    assert_eq!(status_of(&p), "Evicted");
    // One container finished, another still serving: Running if the pod is Ready.
    let both = |ready: &str| {
        pod(
            &["a", "b"],
            json!({"phase": "Running", "containerStatuses": [running("a", true), done.clone()],
            "conditions": [{"type": "Ready", "status": ready}]}),
        )
    };
    assert_eq!(status_of(&both("True")), "Running");
    assert_eq!(status_of(&both("False")), "NotReady");
}

#[test]
fn pod_deletion_and_gates() {
    let mut p = pod(
        &["web"],
        json!({"phase": "Running", "containerStatuses": [running("web", true)]}),
    );
    p["metadata"]["deletionTimestamp"] = json!(ago(5));
    assert_eq!(status_of(&p), "Terminating");
    p["status"]["reason"] = json!("NodeLost");
    assert_eq!(status_of(&p), "Unknown");
    let mut done = pod(&["web"], json!({"phase": "Succeeded"}));
    done["metadata"]["deletionTimestamp"] = json!(ago(5));
    assert_eq!(status_of(&done), "Succeeded");
    let gated = pod(
        &["web"],
        json!({"phase": "Pending",
        "conditions": [{"type": "PodScheduled", "status": "False", "reason": "SchedulingGated"}]}),
    );
    assert_eq!(status_of(&gated), "SchedulingGated");
}

#[test]
fn pod_wide_cells() {
    let mut p = pod(
        &["web"],
        json!({"phase": "Running", "podIPs": [{"ip": "fd00::5"}, {"ip": "10.0.0.5"}], "nominatedNodeName": "n2",
               "conditions": [{"type": "example.com/a", "status": "True"}, {"type": "example.com/b", "status": "False"}]}),
    );
    p["spec"]["readinessGates"] =
        json!([{"conditionType": "example.com/a"}, {"conditionType": "example.com/b"}]);
    let cells = cells("", "Pod", &p, now());
    assert_eq!(
        cells[5..],
        [json!("fd00::5"), json!("n1"), json!("n2"), json!("1/2")]
    );
}
