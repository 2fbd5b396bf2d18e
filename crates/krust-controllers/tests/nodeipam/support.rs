//! A real `krust server` (API server only: the harness runs no agent; no controller manager)
//! with the node IPAM controller running in this test process, so that each test picks its
//! own cluster CIDR and decides when the controller starts.

use std::time::{Duration, Instant};

use krust_e2e::Cluster;
use serde_json::Value;
use tokio_util::sync::CancellationToken;

/// How long any wait may take before the test fails.
const PATIENCE: Duration = Duration::from_secs(120);

/// The cluster and the in-process controller; stopped when dropped.
pub struct Env {
    pub cluster: Cluster,
    rt: tokio::runtime::Runtime,
    stop: CancellationToken,
}

impl Env {
    /// Starts a server; the controller is started by [`Env::start_controller`].
    pub fn server() -> Self {
        let cluster = Cluster::start_with(&["--disable-controller-manager"]);
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .unwrap();
        Self {
            cluster,
            rt,
            stop: CancellationToken::new(),
        }
    }

    /// Runs the node IPAM controller (alone) over `cluster_cidr` with `mask`-sized node
    /// subnets.
    pub fn start_controller(&self, cluster_cidr: &str, mask: u8) {
        let yaml = std::fs::read_to_string(self.cluster.kubeconfig()).unwrap();
        let client = self
            .rt
            .block_on(krust_runtime::component_client(&yaml, "kube-controller-manager"))
            .unwrap();
        let config = krust_controllers::ControllerConfig {
            controllers: vec!["node-ipam-controller".into()],
            leader_elect: false,
            identity: "test".into(),
            cluster_cidr: cluster_cidr.into(),
            node_cidr_mask_size: mask,
            ..Default::default()
        };
        config.validate().unwrap();
        self.rt
            .spawn(krust_controllers::ControllerManager::new(config, client).run(self.stop.clone()));
    }

    /// Creates a Node object (no agent behind it), with a podCIDR if given.
    pub fn node(&self, name: &str, pod_cidr: Option<&str>) {
        let mut node = serde_json::json!({"apiVersion": "v1", "kind": "Node", "metadata": {"name": name}});
        if let Some(c) = pod_cidr {
            node["spec"] = serde_json::json!({"podCIDR": c, "podCIDRs": [c]});
        }
        self.cluster.ok_stdin(&["create", "-f", "-"], &node.to_string());
    }

    /// The node's `spec.podCIDR` once it has one (checking that `spec.podCIDRs` agrees).
    pub fn pod_cidr(&self, name: &str) -> Option<String> {
        let out = self.cluster.kubectl(&["get", "node", name, "-o", "json"]);
        let node: Value = serde_json::from_slice(&out.stdout).ok()?;
        let cidr = node["spec"]["podCIDR"].as_str()?.to_string();
        assert_eq!(node["spec"]["podCIDRs"], serde_json::json!([cidr]), "{node}");
        Some(cidr)
    }

    /// Waits for the node's podCIDR.
    pub fn wait_cidr(&self, name: &str) -> String {
        self.wait(&format!("a podCIDR on {name}"), || self.pod_cidr(name))
    }

    /// Whether an event with this reason and message was recorded about the object.
    pub fn has_event(&self, name: &str, reason: &str, message: &str) -> bool {
        let out = self.cluster.kubectl(&[
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
            items.iter().any(|e| {
                e["involvedObject"]["kind"] == "Node"
                    && e["involvedObject"]["name"] == name
                    && e["message"] == message
            })
        })
    }

    /// Polls `check` until it gives a value, for at most [`PATIENCE`].
    pub fn wait<T>(&self, what: &str, mut check: impl FnMut() -> Option<T>) -> T {
        let deadline = Instant::now() + PATIENCE;
        loop {
            if let Some(v) = check() {
                return v;
            }
            if Instant::now() > deadline {
                let log = self.cluster.log();
                let lines: Vec<&str> = log.lines().collect();
                panic!(
                    "timed out waiting for {what}; server log tail:\n{}",
                    lines[lines.len().saturating_sub(40)..].join("\n")
                );
            }
            std::thread::sleep(Duration::from_millis(250));
        }
    }
}

impl Drop for Env {
    fn drop(&mut self) {
        self.stop.cancel();
    }
}
