//! Harness for the scheduler's integration tests: the real `krust server` (without its own
//! scheduler and controllers), a kube client from its kubeconfig, and this crate's
//! scheduler running in the test process.

#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use std::time::{Duration, Instant};

use k8s_openapi::api::core::v1::{Node, Pod};
use krust_e2e::Cluster;
use krust_scheduler::{Scheduler, SchedulerConfig, Stats};
use kube::api::{Api, Patch, PatchParams, PostParams};
use serde_json::{Value, json};
use tokio_util::sync::CancellationToken;

/// A server with the scheduler under test attached.
pub struct Env {
    pub cluster: Cluster,
    pub client: kube::Client,
    pub stats: Stats,
    shutdown: CancellationToken,
}

impl Drop for Env {
    fn drop(&mut self) {
        self.shutdown.cancel();
    }
}

impl Env {
    /// Starts a server and the scheduler (no leader election).
    pub async fn start() -> Self {
        let cluster = tokio::task::spawn_blocking(|| {
            Cluster::start_with(&["--disable-scheduler", "--disable-controller-manager"])
        })
        .await
        .unwrap();
        let kubeconfig = std::fs::read_to_string(cluster.kubeconfig()).unwrap();
        let client = krust_runtime::client_from_kubeconfig(&kubeconfig).await.unwrap();
        let config = SchedulerConfig {
            leader_elect: false,
            ..Default::default()
        };
        let scheduler = Scheduler::new(config, client.clone());
        let stats = scheduler.stats();
        let shutdown = CancellationToken::new();
        let token = shutdown.clone();
        tokio::spawn(async move {
            if let Err(e) = scheduler.run(token).await {
                eprintln!("scheduler failed: {e}");
            }
        });
        Self {
            cluster,
            client,
            stats,
            shutdown,
        }
    }

    /// Creates a Ready node with `cpu` and `memory` allocatable, labels and taints.
    pub async fn node(&self, name: &str, cpu: &str, memory: &str, labels: &[(&str, &str)], taints: Value) {
        let mut l = serde_json::Map::new();
        l.insert("kubernetes.io/hostname".into(), json!(name));
        for (k, v) in labels {
            l.insert(k.to_string(), json!(v));
        }
        let status = json!({
            "capacity": {"cpu": cpu, "memory": memory, "pods": "110"},
            "allocatable": {"cpu": cpu, "memory": memory, "pods": "110"},
            "conditions": [{"type": "Ready", "status": "True", "reason": "KubeletReady", "message": "ready"}],
        });
        let node: Node = serde_json::from_value(json!({
            "apiVersion": "v1", "kind": "Node",
            "metadata": {"name": name, "labels": l},
            "spec": {"taints": taints},
            "status": status.clone(),
        }))
        .unwrap();
        let api: Api<Node> = Api::all(self.client.clone());
        api.create(&PostParams::default(), &node).await.unwrap();
        api.patch_status(
            name,
            &PatchParams::default(),
            &Patch::Merge(json!({"status": status})),
        )
        .await
        .unwrap();
    }

    /// Applies a manifest with kubectl.
    pub fn apply(&self, yaml: &str) {
        let cluster = &self.cluster;
        cluster.ok_stdin(&["apply", "-f", "-"], yaml);
    }

    /// A pod with one container requesting `cpu`, plus extra spec fields.
    pub async fn pod(&self, name: &str, cpu: &str, extra: Value) {
        let mut spec = json!({
            "containers": [{"name": "c", "image": "registry.k8s.io/pause:3.10",
                "resources": {"requests": {"cpu": cpu, "memory": "64Mi"}}}]
        });
        let mut metadata = json!({"name": name});
        if let Some(obj) = extra.as_object() {
            for (k, v) in obj {
                if k == "labels" {
                    metadata["labels"] = v.clone();
                } else if k == "containerPorts" {
                    spec["containers"][0]["ports"] = v.clone();
                } else {
                    spec[k] = v.clone();
                }
            }
        }
        let pod: Pod = serde_json::from_value(
            json!({"apiVersion": "v1", "kind": "Pod", "metadata": metadata, "spec": spec}),
        )
        .unwrap();
        Api::<Pod>::namespaced(self.client.clone(), "default")
            .create(&PostParams::default(), &pod)
            .await
            .unwrap();
    }

    async fn get_pod(&self, name: &str) -> Option<Pod> {
        Api::<Pod>::namespaced(self.client.clone(), "default")
            .get_opt(name)
            .await
            .unwrap()
    }

    /// Waits until the pod is bound and returns its node.
    pub async fn bound(&self, name: &str) -> String {
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            if let Some(p) = self.get_pod(name).await
                && let Some(n) = p.spec.and_then(|s| s.node_name)
            {
                return n;
            }
            assert!(
                Instant::now() < deadline,
                "pod {name} was not bound; server log:\n{}",
                self.cluster.log()
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Waits until the pod reports `PodScheduled=False` and returns the condition's message;
    /// the pod must still be unbound.
    pub async fn unschedulable(&self, name: &str) -> String {
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            if let Some(p) = self.get_pod(name).await {
                let cond = p
                    .status
                    .as_ref()
                    .and_then(|s| s.conditions.as_ref())
                    .and_then(|c| {
                        c.iter()
                            .find(|c| c.type_ == "PodScheduled" && c.status == "False")
                            .cloned()
                    });
                if let Some(c) = cond
                    && c.reason.as_deref() == Some("Unschedulable")
                {
                    assert!(p.spec.and_then(|s| s.node_name).is_none(), "pod {name} is bound");
                    return c.message.unwrap_or_default();
                }
            }
            assert!(
                Instant::now() < deadline,
                "pod {name} never reported Unschedulable"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Waits until `kubectl describe pod` shows `text`; returns the output.
    pub async fn describe_shows(&self, name: &str, text: &str) -> String {
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            let out = self.cluster.kubectl(&["describe", "pod", name]);
            let s = String::from_utf8_lossy(&out.stdout).to_string();
            if s.contains(text) {
                return s;
            }
            assert!(
                Instant::now() < deadline,
                "describe pod {name} never showed {text:?}:\n{s}"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// Deletes a pod at once (as the kubelet finishing it would).
    pub async fn force_delete(&self, name: &str) {
        let api: Api<Pod> = Api::namespaced(self.client.clone(), "default");
        let dp = kube::api::DeleteParams {
            grace_period_seconds: Some(0),
            ..Default::default()
        };
        let _ = api.delete(name, &dp).await;
    }

    /// The pod object.
    pub async fn pod_json(&self, name: &str) -> Value {
        serde_json::to_value(self.get_pod(name).await.unwrap()).unwrap()
    }
}
