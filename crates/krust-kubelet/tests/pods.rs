//! Pods bound to simulated nodes run, finish, fail, are rejected when they do not fit, and
//! are deleted — checked through the real server and kubectl.

#![allow(clippy::unwrap_used)]

mod common;

use std::time::Duration;

use common::{Pool, s, wait_for};
use krust_kubelet::SimulatedConfig;
use serde_json::Value;

fn pod_yaml(name: &str, node: &str, policy: &str, extra_meta: &str, extra_container: &str) -> String {
    format!(
        "apiVersion: v1
kind: Pod
metadata:
  name: {name}
  {extra_meta}
spec:
  nodeName: {node}
  restartPolicy: {policy}
  initContainers:
  - name: setup
    image: busybox
  containers:
  - name: main
    image: nginx:1.27
    {extra_container}
"
    )
}

fn phase_of(pool: &Pool, name: &str) -> Option<Value> {
    pool.try_json(&["pod", name])
}

fn wait_phase(pool: &Pool, name: &str, phase: &str) -> Value {
    wait_for(&format!("pod {name} to be {phase}"), 60, || {
        phase_of(pool, name).filter(|p| s(p, "/status/phase") == phase)
    })
}

/// The pod once its resourceVersion has not changed for `window`; fails if it keeps
/// changing for `secs` seconds (its status is rewritten over and over).
fn quiet_pod(pool: &Pool, name: &str, window: Duration, secs: u64) -> Value {
    let deadline = std::time::Instant::now() + Duration::from_secs(secs);
    let mut last: Option<(String, std::time::Instant)> = None;
    loop {
        let now = std::time::Instant::now();
        if let Some(p) = phase_of(pool, name) {
            let rv = s(&p, "/metadata/resourceVersion").to_string();
            match &last {
                Some((seen, since)) if *seen == rv => {
                    if now.duration_since(*since) >= window {
                        return p;
                    }
                }
                _ => last = Some((rv, now)),
            }
        }
        assert!(
            now < deadline,
            "pod {name}: status rewritten for nothing (never unchanged for {window:?})"
        );
        std::thread::sleep(Duration::from_millis(200));
    }
}

fn wide_line(pool: &Pool, name: &str) -> String {
    let out = pool.cluster.ok(&["get", "pods", "-o", "wide"]);
    out.lines()
        .find(|l| l.starts_with(&format!("{name} ")))
        .unwrap_or_default()
        .to_string()
}

#[test]
fn pods_run_complete_fail_get_rejected_and_go_away() {
    let config = SimulatedConfig {
        count: 2,
        pod_duration: Duration::from_secs(2),
        ..Default::default()
    };
    let mut pool = Pool::start(config);
    let c = &pool.cluster;
    wait_for("nodes", 60, || pool.try_json(&["node", "sim-1"]));

    // A long-running pod goes Running with an address and Ready.
    c.ok_stdin(&["apply", "-f", "-"], &pod_yaml("web", "sim-0", "Always", "", ""));
    let web = wait_phase(&pool, "web", "Running");
    let ip = s(&web, "/status/podIP").to_string();
    assert!(ip.starts_with("10.64.0."), "{ip}");
    assert_eq!(s(&web, "/status/podIPs/0/ip"), ip);
    assert_eq!(s(&web, "/status/hostIP"), "10.200.0.1");
    assert!(web.pointer("/status/startTime").is_some());
    assert_eq!(s(&web, "/status/qosClass"), "BestEffort");
    let conditions = web["status"]["conditions"].as_array().unwrap();
    for t in [
        "PodScheduled",
        "Initialized",
        "ContainersReady",
        "Ready",
        "PodReadyToStartContainers",
    ] {
        assert!(
            conditions.iter().any(|x| x["type"] == t && x["status"] == "True"),
            "{t}: {conditions:?}"
        );
    }
    let main = &web["status"]["containerStatuses"][0];
    assert_eq!(main["ready"], true);
    assert_eq!(main["started"], true);
    assert_eq!(main["restartCount"], 0);
    assert!(main["state"]["running"]["startedAt"].is_string());
    assert!(s(main, "/containerID").starts_with("simulated://"));
    assert_eq!(s(main, "/image"), "nginx:1.27");
    assert!(s(main, "/imageID").starts_with("simulated://"));
    assert_eq!(
        s(&web, "/status/initContainerStatuses/0/state/terminated/reason"),
        "Completed"
    );
    let line = wide_line(&pool, "web");
    assert!(
        line.contains("1/1") && line.contains("Running") && line.contains(&ip) && line.contains("sim-0"),
        "{line}"
    );

    // Nothing changes while nothing happens: the status is not rewritten. (A write still
    // due when the pod was first seen Running may land first; then the version must stay
    // put for a while, and what the status says must not have changed.)
    let quiet = quiet_pod(&pool, "web", Duration::from_secs(3), 60);
    let facts = |p: &Value| {
        let main = &p["status"]["containerStatuses"][0];
        (
            s(p, "/status/phase").to_string(),
            s(p, "/status/podIP").to_string(),
            s(p, "/status/startTime").to_string(),
            s(main, "/containerID").to_string(),
            main["restartCount"].clone(),
            main["state"]["running"]["startedAt"].clone(),
        )
    };
    assert_eq!(facts(&quiet), facts(&web), "status rewritten for nothing");

    // A Job-style pod completes after the pod duration.
    c.ok_stdin(&["apply", "-f", "-"], &pod_yaml("job", "sim-1", "Never", "", ""));
    let job = wait_phase(&pool, "job", "Succeeded");
    let term = &job["status"]["containerStatuses"][0]["state"]["terminated"];
    assert_eq!(
        (term["exitCode"].as_i64(), term["reason"].as_str()),
        (Some(0), Some("Completed"))
    );
    let ready = job["status"]["conditions"]
        .as_array()
        .unwrap()
        .iter()
        .find(|x| x["type"] == "Ready")
        .unwrap()
        .clone();
    assert_eq!(ready["status"], "False");
    assert!(wide_line(&pool, "job").contains("Completed"));

    // The exit-code annotation makes it fail.
    let meta = "annotations: {krust.io/simulate-exit-code: \"3\"}";
    c.ok_stdin(
        &["apply", "-f", "-"],
        &pod_yaml("fails", "sim-1", "Never", meta, ""),
    );
    let fails = wait_phase(&pool, "fails", "Failed");
    let term = &fails["status"]["containerStatuses"][0]["state"]["terminated"];
    assert_eq!(
        (term["exitCode"].as_i64(), term["reason"].as_str()),
        (Some(3), Some("Error"))
    );
    assert!(wide_line(&pool, "fails").contains("Error"));

    // A pod that asks for more than the node has is rejected by the node.
    let big = "resources: {requests: {cpu: \"64\"}}";
    c.ok_stdin(
        &["apply", "-f", "-"],
        &pod_yaml("huge", "sim-0", "Always", "", big),
    );
    let huge = wait_phase(&pool, "huge", "Failed");
    assert_eq!(s(&huge, "/status/reason"), "OutOfcpu");
    assert!(s(&huge, "/status/message").contains("cpu"), "{huge}");

    // Deleting a running pod completes: the node stops it and removes it.
    c.ok(&["delete", "pod", "web", "--timeout=60s"]);
    assert!(pool.try_json(&["pod", "web"]).is_none());
    // Its address is free for the next pod on that node.
    c.ok_stdin(
        &["apply", "-f", "-"],
        &pod_yaml("web2", "sim-0", "Always", "", ""),
    );
    assert!(s(&wait_phase(&pool, "web2", "Running"), "/status/podIP").starts_with("10.64.0."));

    // A pod bound to a node that is not ours is left alone.
    c.ok_stdin(
        &["apply", "-f", "-"],
        &pod_yaml("elsewhere", "real-node", "Always", "", ""),
    );
    std::thread::sleep(Duration::from_secs(1));
    let other = pool.try_json(&["pod", "elsewhere"]).unwrap();
    assert_eq!(s(&other, "/status/hostIP"), "");
    assert_ne!(s(&other, "/status/phase"), "Running");

    c.ok(&[
        "delete",
        "pod",
        "--all",
        "--timeout=60s",
        "--grace-period=0",
        "--force",
    ]);
    pool.stop();
}
