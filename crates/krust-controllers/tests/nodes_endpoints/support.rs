//! A real `krust server` (API server and scheduler, its own controller manager off) with
//! two simulated nodes and the whole controller manager running in this test process, so
//! that the node monitor can use a short grace period (the server has no flag for it yet)
//! and the nodes heartbeat every second.

#![allow(dead_code)]

use std::time::{Duration, Instant};

use krust_e2e::Cluster;
use krust_kubelet::{SimulatedConfig, SimulatedNodes};
use serde_json::Value;
use tokio_util::sync::CancellationToken;

/// How long any wait may take before the test fails.
pub const PATIENCE: u64 = 180;

/// Silence after which the in-process node monitor marks a node Unknown: short for a test,
/// yet long enough that a heartbeat (every second) delayed by a loaded machine does not
/// make a healthy node Unknown.
pub const GRACE: Duration = Duration::from_secs(20);

/// The cluster and the in-process components; stopped when dropped.
pub struct Env {
    pub cluster: Cluster,
    rt: tokio::runtime::Runtime,
    stop: CancellationToken,
}

impl Env {
    /// Starts a server, two simulated nodes (`sim-0`, `sim-1`, zone `zone-a`) and every
    /// controller.
    pub fn start() -> Self {
        let cluster = Cluster::start_with(&["--disable-controller-manager"]);
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .unwrap();
        let yaml = std::fs::read_to_string(cluster.kubeconfig()).unwrap();
        let client = rt.block_on(krust_runtime::client_from_kubeconfig(&yaml)).unwrap();
        let stop = CancellationToken::new();
        let nodes = SimulatedConfig {
            count: 2,
            labels: [("topology.kubernetes.io/zone".to_string(), "zone-a".to_string())].into(),
            heartbeat_interval: Duration::from_secs(1),
            status_report_interval: Duration::from_secs(5),
            ..Default::default()
        };
        rt.spawn(SimulatedNodes::new(nodes, client.clone()).run(stop.clone()));
        let config = krust_controllers::ControllerConfig {
            leader_elect: false,
            identity: "test".into(),
            node_monitor_grace_period: GRACE,
            node_monitor_period: Duration::from_secs(1),
            ..Default::default()
        };
        rt.spawn(krust_controllers::ControllerManager::new(config, client).run(stop.clone()));
        let env = Self { cluster, rt, stop };
        env.wait("two Ready nodes", || {
            let ready = ["sim-0", "sim-1"].iter().all(|n| {
                env.try_json(&["node", n])
                    .is_some_and(|node| condition(&node, "Ready")["status"] == "True")
            });
            ready.then_some(())
        });
        // The controllers are running (and pods can be admitted) once they have made the
        // default ServiceAccount.
        env.wait("the default ServiceAccount", || {
            env.try_json(&["serviceaccount", "default", "-n", "default"])
        });
        env
    }

    /// `kubectl get <args> -o json`, or `None` if it fails (not found).
    pub fn try_json(&self, args: &[&str]) -> Option<Value> {
        let mut a = vec!["get"];
        a.extend_from_slice(args);
        a.extend_from_slice(&["-o", "json"]);
        let out = self.cluster.kubectl(&a);
        out.status
            .success()
            .then(|| serde_json::from_slice(&out.stdout).ok())
            .flatten()
    }

    /// Runs kubectl, which must succeed.
    pub fn ok(&self, args: &[&str]) -> String {
        self.cluster.ok(args)
    }

    /// Applies a manifest.
    pub fn apply(&self, yaml: &str) {
        self.cluster.ok_stdin(&["apply", "-f", "-"], yaml);
    }

    /// Polls `check` until it gives a value, for at most [`PATIENCE`] seconds.
    pub fn wait<T>(&self, what: &str, mut check: impl FnMut() -> Option<T>) -> T {
        let deadline = Instant::now() + Duration::from_secs(PATIENCE);
        loop {
            if let Some(v) = check() {
                return v;
            }
            assert!(
                Instant::now() < deadline,
                "timed out waiting for {what}; server log tail:\n{}",
                tail(&self.cluster.log())
            );
            std::thread::sleep(Duration::from_millis(250));
        }
    }

    /// Waits until `probe` (say, resourceVersions) gives the same value for `window`, and
    /// returns that value: the writes that were still due have landed and nothing keeps
    /// rewriting. Fails if it never stays the same that long within [`PATIENCE`] seconds
    /// (something is rewritten over and over without changes).
    pub fn quiet<T: PartialEq + std::fmt::Debug>(
        &self,
        what: &str,
        window: Duration,
        mut probe: impl FnMut() -> Option<T>,
    ) -> T {
        let deadline = Instant::now() + Duration::from_secs(PATIENCE);
        let mut last: Option<(T, Instant)> = None;
        loop {
            let now = Instant::now();
            if let Some(v) = probe() {
                match &last {
                    Some((seen, since)) if *seen == v => {
                        if now.duration_since(*since) >= window {
                            return v;
                        }
                    }
                    _ => last = Some((v, now)),
                }
            }
            assert!(
                now < deadline,
                "{what}: never unchanged for {window:?}, last {:?}; server log tail:\n{}",
                last.map(|(v, _)| v),
                tail(&self.cluster.log())
            );
            std::thread::sleep(Duration::from_millis(250));
        }
    }

    /// Items of `kubectl get <kind> <args>`.
    pub fn items(&self, args: &[&str]) -> Vec<Value> {
        self.try_json(args)
            .and_then(|v| v["items"].as_array().cloned())
            .unwrap_or_default()
    }

    /// Whether a pod is gone or being deleted.
    pub fn pod_leaving(&self, name: &str) -> bool {
        self.try_json(&["pod", name])
            .is_none_or(|p| p["metadata"]["deletionTimestamp"].is_string())
    }

    /// Reasons and messages of the events about an object.
    pub fn events_about(&self, name: &str) -> Vec<(String, String)> {
        self.items(&[
            "events",
            "--field-selector",
            &format!("involvedObject.name={name}"),
        ])
        .iter()
        .map(|e| {
            (
                e["reason"].as_str().unwrap_or_default().to_string(),
                e["message"].as_str().unwrap_or_default().to_string(),
            )
        })
        .collect()
    }
}

impl Drop for Env {
    fn drop(&mut self) {
        self.stop.cancel();
    }
}

fn tail(log: &str) -> String {
    let lines: Vec<&str> = log.lines().collect();
    lines[lines.len().saturating_sub(30)..].join("\n")
}

/// The condition of `type_` in an object's status (Null if absent).
pub fn condition(obj: &Value, type_: &str) -> Value {
    obj["status"]["conditions"]
        .as_array()
        .and_then(|c| c.iter().find(|c| c["type"] == type_).cloned())
        .unwrap_or(Value::Null)
}

/// `key:effect` of each taint of a node.
pub fn taints(node: &Value) -> Vec<String> {
    node["spec"]["taints"]
        .as_array()
        .map(|t| {
            t.iter()
                .map(|t| {
                    format!(
                        "{}:{}",
                        t["key"].as_str().unwrap_or(""),
                        t["effect"].as_str().unwrap_or("")
                    )
                })
                .collect()
        })
        .unwrap_or_default()
}

/// A pod bound to `node` (no scheduler involved) tolerating the unreachable and not-ready
/// taints for `seconds` (none: for ever).
pub fn bound_pod(name: &str, node: &str, seconds: Option<u32>) -> String {
    let secs = seconds
        .map(|s| format!("\n    tolerationSeconds: {s}"))
        .unwrap_or_default();
    format!(
        r#"apiVersion: v1
kind: Pod
metadata:
  name: {name}
  labels: {{role: sitter}}
spec:
  nodeName: {node}
  terminationGracePeriodSeconds: 0
  tolerations:
  - key: node.kubernetes.io/unreachable
    operator: Exists
    effect: NoExecute{secs}
  - key: node.kubernetes.io/not-ready
    operator: Exists
    effect: NoExecute{secs}
  containers:
  - name: c
    image: busybox
"#
    )
}
