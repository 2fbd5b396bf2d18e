//! Rows of workload controllers, Jobs and CronJobs.

use serde_json::json;

use super::{ago, row};
use crate::table::columns;

fn headers(group: &str, kind: &str) -> Vec<(&'static str, &'static str, u8)> {
    columns(group, kind)
        .iter()
        .map(|c| (c.name, c.type_, c.priority))
        .collect()
}

fn template() -> serde_json::Value {
    json!({"metadata": {"labels": {"app": "web"}},
           "spec": {"containers": [{"name": "web", "image": "nginx:1.27"}, {"name": "log", "image": "busybox"}]}})
}

#[test]
fn deployment() {
    assert_eq!(
        headers("apps", "Deployment"),
        vec![
            ("Name", "string", 0),
            ("Ready", "string", 0),
            ("Up-to-date", "string", 0),
            ("Available", "string", 0),
            ("Age", "string", 0),
            ("Containers", "string", 1),
            ("Images", "string", 1),
            ("Selector", "string", 1)
        ]
    );
    let d = json!({
        "metadata": {"name": "web", "creationTimestamp": ago(3 * 86_400)},
        "spec": {"replicas": 3, "selector": {"matchLabels": {"app": "web"}}, "template": template()},
        "status": {"replicas": 3, "readyReplicas": 2, "updatedReplicas": 3, "availableReplicas": 2}
    });
    assert_eq!(
        row("apps", "Deployment", &d),
        json!([
            "web",
            "2/3",
            3,
            2,
            "3d",
            "web,log",
            "nginx:1.27,busybox",
            "app=web"
        ])
    );
    // Fresh object: defaults to one replica, nothing ready; a bad selector prints <invalid>.
    let d = json!({"metadata": {"name": "x"}, "spec": {"selector": {"matchExpressions": [{"key": "a", "operator": "Gt"}]}}});
    assert_eq!(
        row("apps", "Deployment", &d),
        json!(["x", "0/1", 0, 0, "<unknown>", "", "", "<invalid>"])
    );
}

#[test]
fn replica_set_and_replication_controller() {
    let rs = json!({
        "metadata": {"name": "web-7d", "creationTimestamp": ago(90)},
        "spec": {"replicas": 2, "selector": {"matchLabels": {"app": "web", "pod-template-hash": "7d"}}, "template": template()},
        "status": {"replicas": 2, "readyReplicas": 1}
    });
    assert_eq!(
        row("apps", "ReplicaSet", &rs),
        json!([
            "web-7d",
            2,
            2,
            1,
            "90s",
            "web,log",
            "nginx:1.27,busybox",
            "app=web,pod-template-hash=7d"
        ])
    );
    assert_eq!(headers("apps", "ReplicaSet")[1], ("Desired", "integer", 0));
    let rc = json!({
        "metadata": {"name": "rc", "creationTimestamp": ago(60)},
        "spec": {"replicas": 0, "selector": {"app": "web"}},
        "status": {"replicas": 0}
    });
    assert_eq!(
        row("", "ReplicationController", &rc),
        json!(["rc", 0, 0, 0, "60s", "", "", "app=web"])
    );
    let rc = json!({"metadata": {"name": "rc"}, "spec": {}});
    assert_eq!(row("", "ReplicationController", &rc)[7], json!("<none>"));
}

#[test]
fn stateful_set_daemon_set_revisions() {
    let sts = json!({
        "metadata": {"name": "db", "creationTimestamp": ago(7200)},
        "spec": {"replicas": 3, "selector": {"matchLabels": {"app": "db"}}, "template": template()},
        "status": {"readyReplicas": 3}
    });
    assert_eq!(
        row("apps", "StatefulSet", &sts),
        json!(["db", "3/3", "120m", "web,log", "nginx:1.27,busybox"])
    );
    let ds = json!({
        "metadata": {"name": "agent", "creationTimestamp": ago(86_400)},
        "spec": {"selector": {"matchLabels": {"app": "agent"}},
                 "template": {"spec": {"nodeSelector": {"kubernetes.io/os": "linux"},
                                       "containers": [{"name": "agent", "image": "agent:1"}]}}},
        "status": {"desiredNumberScheduled": 2, "currentNumberScheduled": 2, "numberReady": 1,
                   "updatedNumberScheduled": 2, "numberAvailable": 1}
    });
    assert_eq!(
        row("apps", "DaemonSet", &ds),
        json!([
            "agent",
            2,
            2,
            1,
            2,
            1,
            "kubernetes.io/os=linux",
            "24h",
            "agent",
            "agent:1",
            "app=agent"
        ])
    );
    let cr = json!({
        "metadata": {"name": "db-5c", "creationTimestamp": ago(30),
                     "ownerReferences": [{"apiVersion": "apps/v1", "kind": "StatefulSet", "name": "db", "controller": true}]},
        "revision": 2
    });
    assert_eq!(
        row("apps", "ControllerRevision", &cr),
        json!(["db-5c", "statefulset.apps/db", 2, "30s"])
    );
    let orphan = json!({"metadata": {"name": "x"}, "revision": 1});
    assert_eq!(row("apps", "ControllerRevision", &orphan)[1], json!("<none>"));
    let core_owner = json!({"metadata": {"name": "x", "ownerReferences": [{"apiVersion": "v1", "kind": "Pod", "name": "p", "controller": true}]}});
    assert_eq!(row("apps", "ControllerRevision", &core_owner)[1], json!("pod/p"));
}

#[test]
fn jobs() {
    assert_eq!(headers("batch", "Job")[1], ("Status", "string", 0));
    let job = json!({
        "metadata": {"name": "pi", "creationTimestamp": ago(600)},
        "spec": {"completions": 1, "parallelism": 1, "selector": {"matchLabels": {"batch.kubernetes.io/controller-uid": "u1"}},
                 "template": {"spec": {"containers": [{"name": "pi", "image": "perl"}]}}},
        "status": {"succeeded": 1, "startTime": ago(600), "completionTime": ago(570),
                   "conditions": [{"type": "SuccessCriteriaMet", "status": "True"}, {"type": "Complete", "status": "True"}]}
    });
    assert_eq!(
        row("batch", "Job", &job),
        json!([
            "pi",
            "Complete",
            "1/1",
            "30s",
            "10m",
            "pi",
            "perl",
            "batch.kubernetes.io/controller-uid=u1"
        ])
    );
    let running =
        json!({"metadata": {"name": "w"}, "spec": {"parallelism": 3}, "status": {"startTime": ago(200)}});
    assert_eq!(
        row("batch", "Job", &running),
        json!(["w", "Running", "0/1 of 3", "3m20s", "<unknown>", "", "", "<none>"])
    );
    let fresh = json!({"metadata": {"name": "f"}, "spec": {}});
    assert_eq!(
        row("batch", "Job", &fresh).as_array().unwrap()[1..4],
        [json!("Running"), json!("0/1"), json!("")]
    );
    let status = |conds: serde_json::Value, deleting: bool| {
        let mut j = json!({"metadata": {"name": "j"}, "status": {"conditions": conds}});
        if deleting {
            j["metadata"]["deletionTimestamp"] = json!(ago(1));
        }
        row("batch", "Job", &j)[1].clone()
    };
    assert_eq!(
        status(json!([{"type": "Failed", "status": "True"}]), false),
        json!("Failed")
    );
    assert_eq!(
        status(json!([{"type": "Suspended", "status": "True"}]), false),
        json!("Suspended")
    );
    assert_eq!(
        status(json!([{"type": "Suspended", "status": "True"}]), true),
        json!("Terminating")
    );
    assert_eq!(
        status(json!([{"type": "FailureTarget", "status": "True"}]), false),
        json!("FailureTarget")
    );
    assert_eq!(
        status(json!([{"type": "Complete", "status": "False"}]), false),
        json!("Running")
    );
}

#[test]
fn cron_jobs() {
    let cj = json!({
        "metadata": {"name": "nightly", "creationTimestamp": ago(3 * 3600)},
        "spec": {"schedule": "0 3 * * *", "suspend": false,
                 "jobTemplate": {"spec": {"template": {"spec": {"containers": [{"name": "c", "image": "busybox"}]}}}}},
        "status": {"active": [{"name": "nightly-1"}], "lastScheduleTime": ago(3600)}
    });
    assert_eq!(
        row("batch", "CronJob", &cj),
        json!([
            "nightly",
            "0 3 * * *",
            "<none>",
            "False",
            1,
            "60m",
            "3h",
            "c",
            "busybox",
            "<none>"
        ])
    );
    let cj = json!({"metadata": {"name": "x"}, "spec": {"schedule": "@hourly", "timeZone": "Etc/UTC", "suspend": true}});
    assert_eq!(
        row("batch", "CronJob", &cj).as_array().unwrap()[1..6],
        [
            json!("@hourly"),
            json!("Etc/UTC"),
            json!("True"),
            json!(0),
            json!("<none>")
        ]
    );
    assert_eq!(columns("batch", "CronJob")[3].type_, "boolean");
}
