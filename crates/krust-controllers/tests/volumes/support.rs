//! Helpers for the volume tests: a cluster with simulated nodes, polling waits and
//! readings of claims, volumes and events.

use std::time::{Duration, Instant};

use krust_e2e::Cluster;
use serde_json::Value;

/// How long any wait may take before the test fails.
const PATIENCE: Duration = Duration::from_secs(150);

/// A server with two simulated nodes (`sim-0`, `sim-1`), scheduler and controllers, once
/// it has settled.
pub fn cluster() -> Cluster {
    Cluster::start_with_nodes(2, &[])
}

/// Polls `f` until it holds; fails with the server log's tail if it never does.
pub fn wait_for(c: &Cluster, what: &str, mut f: impl FnMut() -> bool) {
    let deadline = Instant::now() + PATIENCE;
    while !f() {
        if Instant::now() > deadline {
            let log = c.log();
            let lines: Vec<&str> = log.lines().collect();
            panic!(
                "timed out waiting for {what}; server log tail:\n{}",
                lines[lines.len().saturating_sub(60)..].join("\n")
            );
        }
        std::thread::sleep(Duration::from_millis(300));
    }
}

/// The object, or null when it does not exist.
pub fn get(c: &Cluster, kind: &str, name: &str) -> Value {
    let out = c.kubectl(&["get", kind, name, "-o", "json", "--ignore-not-found"]);
    serde_json::from_slice(&out.stdout).unwrap_or(Value::Null)
}

/// `status.phase` of an object ("" when it does not exist).
pub fn phase(c: &Cluster, kind: &str, name: &str) -> String {
    get(c, kind, name)["status"]["phase"]
        .as_str()
        .unwrap_or_default()
        .to_string()
}

/// Whether an event with the reason was recorded about the object.
pub fn has_event(c: &Cluster, kind: &str, name: &str, reason: &str) -> bool {
    let out = c.kubectl(&[
        "get",
        "events",
        "-A",
        "--field-selector",
        &format!("reason={reason}"),
        "-o",
        "json",
    ]);
    let list: Value = serde_json::from_slice(&out.stdout).unwrap_or(Value::Null);
    list["items"].as_array().is_some_and(|items| {
        items
            .iter()
            .any(|e| e["involvedObject"]["kind"] == kind && e["involvedObject"]["name"] == name)
    })
}

/// Applies a JSON or YAML manifest.
pub fn apply(c: &Cluster, manifest: &str) {
    c.ok_stdin(&["apply", "-f", "-"], manifest);
}

/// A claim of `size` with ReadWriteOnce, in the class given (`None`: no class field).
pub fn claim(name: &str, class: Option<&str>, size: &str) -> String {
    let mut v = serde_json::json!({"apiVersion": "v1", "kind": "PersistentVolumeClaim",
        "metadata": {"name": name},
        "spec": {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": size}}}});
    if let Some(cl) = class {
        v["spec"]["storageClassName"] = Value::String(cl.into());
    }
    v.to_string()
}

/// A static hostPath volume.
pub fn volume(name: &str, class: &str, size: &str, policy: &str) -> String {
    serde_json::json!({"apiVersion": "v1", "kind": "PersistentVolume", "metadata": {"name": name},
        "spec": {"capacity": {"storage": size}, "accessModes": ["ReadWriteOnce"],
            "storageClassName": class, "persistentVolumeReclaimPolicy": policy,
            "hostPath": {"path": format!("/tmp/krust-test-{name}")}}})
    .to_string()
}
