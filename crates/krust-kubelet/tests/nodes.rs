//! Simulated nodes register, report Ready, keep their leases, stop heartbeating on request
//! and come back when deleted — checked through the real server and kubectl.

#![allow(clippy::unwrap_used)]

mod common;

use std::time::Duration;

use common::{Pool, s, wait_for};
use krust_kubelet::SimulatedConfig;

fn renew_time(pool: &Pool, node: &str) -> String {
    let lease = pool.try_json(&["lease", "-n", "kube-node-lease", node]).unwrap();
    s(&lease, "/spec/renewTime").to_string()
}

/// Waits until `node`'s lease has been renewed `times` more times.
fn renewals(pool: &Pool, node: &str, times: usize) {
    let mut last = renew_time(pool, node);
    for _ in 0..times {
        last = wait_for(&format!("a renewal of {node}'s lease"), 60, || {
            let now = renew_time(pool, node);
            (now != last).then_some(now)
        });
    }
}

#[test]
fn nodes_register_heartbeat_pause_and_come_back() {
    let config = SimulatedConfig {
        count: 3,
        labels: [("topology.kubernetes.io/zone".to_string(), "zone-a".to_string())].into(),
        taints: vec!["dedicated=sim:NoSchedule".into()],
        heartbeat_interval: Duration::from_secs(1),
        status_report_interval: Duration::from_secs(5),
        ..Default::default()
    };
    let mut pool = Pool::start(config);
    let c = &pool.cluster;

    // Registered and Ready, as kubectl shows them.
    let table = wait_for("three Ready nodes", 60, || {
        let out = c.ok(&["get", "nodes"]);
        let ready = ["sim-0", "sim-1", "sim-2"].iter().all(|n| {
            out.lines()
                .any(|l| l.starts_with(n) && l.contains(" Ready ") && l.contains("v1.33.0-krust"))
        });
        ready.then_some(out)
    });
    assert!(table.starts_with("NAME"), "{table}");

    let node = pool.try_json(&["node", "sim-1"]).unwrap();
    assert_eq!(s(&node, "/metadata/labels/kubernetes.io~1hostname"), "sim-1");
    assert_eq!(s(&node, "/metadata/labels/kubernetes.io~1os"), "linux");
    assert_eq!(
        s(&node, "/metadata/labels/node.kubernetes.io~1instance-type"),
        "simulated"
    );
    assert_eq!(
        s(&node, "/metadata/labels/topology.kubernetes.io~1zone"),
        "zone-a"
    );
    assert_eq!(s(&node, "/spec/taints/0/key"), "dedicated");
    assert_eq!(s(&node, "/spec/taints/0/effect"), "NoSchedule");
    assert_eq!(s(&node, "/status/capacity/cpu"), "32");
    assert_eq!(s(&node, "/status/allocatable/pods"), "110");
    assert_eq!(s(&node, "/status/addresses/0/type"), "InternalIP");
    assert_eq!(s(&node, "/status/addresses/0/address"), "10.200.0.2");
    assert_eq!(s(&node, "/status/nodeInfo/kubeletVersion"), "v1.33.0-krust");
    assert!(s(&node, "/status/nodeInfo/containerRuntimeVersion").starts_with("simulated://"));
    let conditions = node
        .pointer("/status/conditions")
        .and_then(|v| v.as_array())
        .unwrap();
    for (t, want) in [
        ("Ready", "True"),
        ("MemoryPressure", "False"),
        ("DiskPressure", "False"),
        ("PIDPressure", "False"),
    ] {
        let cond = conditions
            .iter()
            .find(|x| x["type"] == t)
            .unwrap_or_else(|| panic!("no {t}"));
        assert_eq!(cond["status"], want, "{t}");
        assert!(cond["lastHeartbeatTime"].is_string(), "{t}");
    }

    // Leases exist, are held by their node and are renewed.
    let lease = pool
        .try_json(&["lease", "-n", "kube-node-lease", "sim-0"])
        .unwrap();
    assert_eq!(s(&lease, "/spec/holderIdentity"), "sim-0");
    assert_eq!(lease["spec"]["leaseDurationSeconds"], 40);
    assert_eq!(s(&lease, "/metadata/ownerReferences/0/kind"), "Node");
    renewals(&pool, "sim-0", 2);

    // The annotation stops sim-1's heartbeats; sim-0 keeps going.
    c.ok(&["annotate", "node", "sim-1", "krust.io/simulate-heartbeat=false"]);
    renewals(&pool, "sim-0", 2);
    let frozen = renew_time(&pool, "sim-1");
    renewals(&pool, "sim-0", 3);
    assert_eq!(
        renew_time(&pool, "sim-1"),
        frozen,
        "a paused node must not renew its lease"
    );

    // Removing it resumes them.
    c.ok(&["annotate", "node", "sim-1", "krust.io/simulate-heartbeat-"]);
    renewals(&pool, "sim-1", 1);

    // A deleted node is registered again (a new object).
    let uid = s(&pool.try_json(&["node", "sim-2"]).unwrap(), "/metadata/uid").to_string();
    c.ok(&["delete", "node", "sim-2"]);
    wait_for("sim-2 to come back", 60, || {
        let n = pool.try_json(&["node", "sim-2"])?;
        (s(&n, "/metadata/uid") != uid && s(&n, "/status/conditions/0/status") == "True").then_some(())
    });

    pool.stop();
}
