//! DaemonSets on simulated nodes: a pod per node (placed by the scheduler through node
//! affinity), tainted nodes skipped, a node joining later gets its pod, rolling updates
//! and rollback, and failed daemon pods replaced, with the real kubectl.

use std::time::Duration;

use krust_kubelet::{SimulatedConfig, SimulatedNodes};
use serde_json::json;
use tokio_util::sync::CancellationToken;

use super::support::*;

fn daemon_set(name: &str, image: &str, strategy: serde_json::Value) -> String {
    json!({
        "apiVersion": "apps/v1", "kind": "DaemonSet", "metadata": {"name": name},
        "spec": {
            "selector": {"matchLabels": {"app": name}},
            "updateStrategy": strategy,
            "template": {
                "metadata": {"labels": {"app": name}},
                "spec": {"terminationGracePeriodSeconds": 0, "containers": [{"name": "app", "image": image}]},
            },
        },
    })
    .to_string()
}

fn ds_rollout(c: &krust_e2e::Cluster, name: &str) {
    c.ok(&[
        "rollout",
        "status",
        &format!("daemonset/{name}"),
        "--timeout=120s",
    ]);
}

/// node name → image of the live pods with the labels.
fn placement(c: &krust_e2e::Cluster, selector: &str) -> Vec<(String, String)> {
    let mut v: Vec<(String, String)> = live_pods(c, selector)
        .iter()
        .map(|p| {
            (
                p["spec"]["nodeName"].as_str().unwrap_or_default().to_string(),
                p["spec"]["containers"][0]["image"]
                    .as_str()
                    .unwrap_or_default()
                    .to_string(),
            )
        })
        .collect();
    v.sort();
    v
}

#[test]
fn daemonset_pod_per_node_taints_and_new_nodes() {
    let c = cluster();
    c.ok(&["taint", "nodes", "sim-2", "dedicated=infra:NoSchedule"]);
    c.ok_stdin(
        &["apply", "-f", "-"],
        &daemon_set("agent", "busybox:1", json!({"type": "RollingUpdate"})),
    );
    ds_rollout(&c, "agent");
    wait_for(&c, "a Ready pod on each untainted node", || {
        let p = placement(&c, "app=agent");
        p.iter().map(|(n, _)| n.as_str()).collect::<Vec<_>>() == ["sim-0", "sim-1"]
            && ready_pods(&c, "app=agent") == 2
    });
    let ds = c.get_json(&["daemonset", "agent"]);
    assert_eq!(ds["status"]["desiredNumberScheduled"], 2, "{ds}");
    assert_eq!(ds["status"]["numberReady"], 2);
    assert_eq!(ds["status"]["numberMisscheduled"], 0);
    // Pods are pinned by node affinity and carry the daemon tolerations.
    let pod = &live_pods(&c, "app=agent")[0];
    let term = &pod["spec"]["affinity"]["nodeAffinity"]["requiredDuringSchedulingIgnoredDuringExecution"]["nodeSelectorTerms"]
        [0];
    assert_eq!(term["matchFields"][0]["key"], "metadata.name", "{pod}");
    let tolerations = pod["spec"]["tolerations"].to_string();
    for key in [
        "not-ready",
        "unreachable",
        "disk-pressure",
        "memory-pressure",
        "pid-pressure",
        "unschedulable",
    ] {
        assert!(
            tolerations.contains(&format!("node.kubernetes.io/{key}")),
            "{tolerations}"
        );
    }
    assert!(pod["metadata"]["labels"]["controller-revision-hash"].is_string());

    // Untainting the node gives it a pod.
    c.ok(&["taint", "nodes", "sim-2", "dedicated-"]);
    wait_for(&c, "a pod on sim-2", || placement(&c, "app=agent").len() == 3);

    // A node joining later gets its pod.
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .unwrap();
    let yaml = std::fs::read_to_string(c.kubeconfig()).unwrap();
    let client = rt.block_on(krust_runtime::client_from_kubeconfig(&yaml)).unwrap();
    let stop = CancellationToken::new();
    let late = SimulatedConfig {
        count: 1,
        name_prefix: "late-".into(),
        heartbeat_interval: Duration::from_secs(2),
        ..Default::default()
    };
    rt.spawn(SimulatedNodes::new(late, client).run(stop.clone()));
    wait_for(&c, "a Ready pod on the new node", || {
        placement(&c, "app=agent").iter().any(|(n, _)| n == "late-0") && ready_pods(&c, "app=agent") == 4
    });
    // A node removed loses its pod.
    stop.cancel();
    c.ok(&["delete", "node", "late-0"]);
    wait_for(&c, "the removed node's pod gone", || {
        placement(&c, "app=agent").iter().all(|(n, _)| n != "late-0")
            && c.get_json(&["daemonset", "agent"])["status"]["desiredNumberScheduled"] == 3
    });
}

#[test]
fn daemonset_rolling_update_history_and_undo() {
    let c = cluster();
    c.ok_stdin(
        &["apply", "-f", "-"],
        &daemon_set(
            "logs",
            "busybox:1",
            json!({"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": 1}}),
        ),
    );
    ds_rollout(&c, "logs");
    let watch = Watch::start(&c, &["daemonset", "logs"]);
    c.ok(&["set", "image", "daemonset/logs", "app=busybox:2"]);
    ds_rollout(&c, "logs");
    wait_for(&c, "every node at busybox:2", || {
        let p = placement(&c, "app=logs");
        p.len() == 3 && p.iter().all(|(_, i)| i == "busybox:2")
    });
    // Never more than maxUnavailable unavailable once the first rollout was complete.
    for d in watch.stop() {
        let st = &d["status"];
        if st["desiredNumberScheduled"] == 3 {
            let available = st["numberAvailable"].as_i64().unwrap_or(0);
            assert!(available >= 2, "more than maxUnavailable down: {st}");
        }
    }
    let history = c.ok(&["rollout", "history", "daemonset/logs"]);
    assert!(history.contains('1') && history.contains('2'), "{history}");
    let rev1 = c.ok(&["rollout", "history", "daemonset/logs", "--revision=1"]);
    assert!(rev1.contains("busybox:1"), "{rev1}");

    c.ok(&["rollout", "undo", "daemonset/logs"]);
    ds_rollout(&c, "logs");
    wait_for(&c, "every node back at busybox:1", || {
        let p = placement(&c, "app=logs");
        p.len() == 3 && p.iter().all(|(_, i)| i == "busybox:1")
    });
    let revs = c.get_json(&["controllerrevisions", "-l", "app=logs"]);
    let mut numbers: Vec<i64> = revs["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["revision"].as_i64().unwrap())
        .collect();
    numbers.sort();
    assert_eq!(numbers, [2, 3], "the first revision renumbered: {revs}");

    // maxSurge: a new pod starts next to the old one before it goes.
    c.ok(&[
        "patch",
        "daemonset",
        "logs",
        "-p",
        r#"{"spec":{"updateStrategy":{"rollingUpdate":{"maxUnavailable":0,"maxSurge":1}}}}"#,
    ]);
    c.ok(&["set", "image", "daemonset/logs", "app=busybox:3"]);
    ds_rollout(&c, "logs");
    wait_for(&c, "every node at busybox:3", || {
        let p = placement(&c, "app=logs");
        p.len() == 3 && p.iter().all(|(_, i)| i == "busybox:3")
    });
}

/// The name, uid and node of the live pod of the labels on `node`, if there is one.
fn pod_on(c: &krust_e2e::Cluster, selector: &str, node: &str) -> Option<(String, String)> {
    live_pods(c, selector)
        .iter()
        .find(|p| p["spec"]["nodeName"] == node)
        .map(|p| {
            (
                name(p),
                p["metadata"]["uid"].as_str().unwrap_or_default().to_string(),
            )
        })
}

/// Marks a pod Failed through the status subresource, as a kubelet would.
fn fail_pod(c: &krust_e2e::Cluster, pod: &str) {
    c.ok(&[
        "patch",
        "pod",
        pod,
        "--subresource=status",
        "--type=merge",
        "-p",
        r#"{"status":{"phase":"Failed"}}"#,
    ]);
}

#[test]
fn daemonset_replaces_failed_pods() {
    let c = cluster();
    c.ok_stdin(
        &["apply", "-f", "-"],
        &daemon_set("crashy", "busybox:1", json!({"type": "RollingUpdate"})),
    );
    ds_rollout(&c, "crashy");
    let (first, first_uid) = pod_on(&c, "app=crashy", "sim-1").expect("a pod on sim-1");

    // A failed daemon pod is killed with a warning and a new one made on its node.
    fail_pod(&c, &first);
    wait_for(&c, "a new Ready pod on sim-1", || {
        pod_on(&c, "app=crashy", "sim-1").is_some_and(|(_, uid)| uid != first_uid)
            && ready_pods(&c, "app=crashy") == 3
    });
    wait_for(&c, "the FailedDaemonPod event", || {
        !events_with_reason(&c, "FailedDaemonPod").is_empty()
    });
    let events = c.get_json(&["events", "--field-selector", "reason=FailedDaemonPod"]);
    let note = events["items"][0]["message"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    assert_eq!(
        note,
        format!("Found failed daemon pod default/{first} on node sim-1, will try to kill it"),
        "{events}"
    );
    assert_eq!(events["items"][0]["type"], "Warning");

    // Failing again on the same node: replaced again once the (short) back-off is over.
    let (second, second_uid) = pod_on(&c, "app=crashy", "sim-1").expect("a pod on sim-1");
    fail_pod(&c, &second);
    wait_for(&c, "another new Ready pod on sim-1", || {
        pod_on(&c, "app=crashy", "sim-1").is_some_and(|(_, uid)| uid != first_uid && uid != second_uid)
            && ready_pods(&c, "app=crashy") == 3
    });
    wait_for(&c, "a FailedDaemonPod event per failed pod", || {
        events_with_reason(&c, "FailedDaemonPod").len() >= 2
    });
    ds_rollout(&c, "crashy");
    // The other nodes' pods were left alone.
    let ds = c.get_json(&["daemonset", "crashy"]);
    assert_eq!(ds["status"]["numberReady"], 3, "{ds}");
}
