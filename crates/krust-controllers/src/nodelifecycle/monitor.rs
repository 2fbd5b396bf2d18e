//! One monitor pass over every node (every `node_monitor_period`), and the condition taints
//! of one node (on every node change):
//!
//! 1. each node's health is updated from its Lease and status; a node silent for longer
//!    than the grace period has its kubelet conditions set to Unknown, and when that flips
//!    Ready from True, its pods are marked not Ready (so Services stop sending them
//!    traffic) and a `NodeNotReady` event is recorded;
//! 2. the zones are counted (see `zones`);
//! 3. each node's taints are brought in line: the `NoSchedule` taints of its conditions,
//!    and the `NoExecute` taint of its Ready status, new ones within the zone's rate.

use std::collections::{BTreeSet, HashMap};
use std::sync::Arc;
use std::time::Duration;

use k8s_openapi::api::coordination::v1::Lease;
use k8s_openapi::api::core::v1::{Node, NodeCondition, ObjectReference, Pod};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use k8s_openapi::jiff::Timestamp;
use kube::{
    Api, Resource, ResourceExt,
    api::{Patch, PatchParams},
    runtime::reflector::{ObjectRef, Store},
};
use serde_json::json;
use tokio::time::Instant;

use super::health::{self, Health};
use super::taints::{self, NoExecute};
use super::zones::{self, Mode, Zones};
use crate::apierror;
use crate::replicaset::Events;

/// The namespace of node heartbeat Leases.
pub const LEASE_NAMESPACE: &str = "kube-node-lease";

/// Timing settings of the monitor.
#[derive(Debug, Clone, Copy)]
pub struct Timing {
    /// Silence allowed to a node that has reported.
    pub grace: Duration,
    /// Silence allowed to a node that never reported a Ready condition.
    pub startup_grace: Duration,
}

/// The monitor's caches and memory.
pub struct Monitor {
    pub client: kube::Client,
    pub nodes: Store<Node>,
    pub leases: Store<Lease>,
    pub pods: Store<Pod>,
    pub events: Events,
    pub timing: Timing,
    pub zones: Zones,
    pub health: HashMap<String, Health>,
}

/// Seconds-precision API time (what the API stores).
pub fn api_now() -> Time {
    let now = Timestamp::now();
    Time(Timestamp::from_second(now.as_second()).unwrap_or(now))
}

fn node_ref(node: &Node) -> ObjectReference {
    let mut r = node.object_ref(&());
    // Events about nodes are recorded with the node's name as uid, as upstream does.
    r.uid = node.metadata.name.clone();
    r
}

impl Monitor {
    /// One pass over every node.
    pub async fn pass(&mut self) {
        let now = Instant::now();
        let stamp = api_now();
        let nodes = self.nodes.state();
        self.health.retain(|name, _| {
            nodes
                .iter()
                .any(|n| n.metadata.name.as_deref() == Some(name.as_str()))
        });
        let mut latest: Vec<Arc<Node>> = Vec::with_capacity(nodes.len());
        let mut counts: HashMap<String, (usize, usize)> = HashMap::new();
        for node in nodes {
            let node = self.check_health(node, now, &stamp).await;
            if !zones::excluded(&node) {
                let c = counts.entry(zones::zone_key(&node)).or_default();
                if health::ready_status(&node) == "True" {
                    c.0 += 1;
                } else {
                    c.1 += 1;
                }
            }
            latest.push(node);
        }
        let mode = self.zones.update(&counts, now);
        match mode {
            Mode::AllDisrupted => {
                tracing::info!(
                    "node-lifecycle: no node is Ready; not tainting nodes until one is (disruption mode)"
                );
            }
            Mode::Recovered => {
                tracing::info!("node-lifecycle: some nodes are Ready again; leaving disruption mode");
                for h in self.health.values_mut() {
                    h.probe = now;
                }
            }
            Mode::Normal => {}
        }
        for node in &latest {
            let no_execute = self.no_execute(node, health::ready_status(node), mode, now);
            self.write_taints(node, no_execute, &stamp).await;
        }
    }

    /// The `NoSchedule` condition taints of one node, at once (on node changes).
    pub async fn condition_taints(&self, node: &Node) {
        self.write_taints(node, NoExecute::Keep, &api_now()).await;
    }

    /// Updates the node's health; turns a silent node's conditions Unknown. Returns the
    /// node as it is after that.
    async fn check_health(&mut self, node: Arc<Node>, now: Instant, stamp: &Time) -> Arc<Node> {
        let name = node.name_any();
        let lease = self.leases.get(&ObjectRef::new(&name).within(LEASE_NAMESPACE));
        let h = health::observe(self.health.get(&name), &node, lease.as_deref(), now);
        let silent = health::silent(&h, &node, self.timing.grace, self.timing.startup_grace, now);
        self.health.insert(name.clone(), h);
        if !silent {
            return node;
        }
        let changed = health::unknown_conditions(&node, stamp);
        if changed.is_empty() {
            return node;
        }
        let updated = match self.write_conditions(&node, &changed).await {
            Ok(n) => Arc::new(n),
            Err(e) => {
                tracing::info!(node = %name, error = %e, "node-lifecycle: cannot mark node Unknown; retrying next pass");
                return node;
            }
        };
        tracing::info!(node = %name, "node-lifecycle: node stopped posting status; conditions now Unknown");
        if health::ready_status(&node) == "True" {
            self.events.normal(
                node_ref(&node),
                "NodeNotReady",
                "NodeNotReady",
                format!("Node {name} status is now: NodeNotReady"),
            );
            self.mark_pods_not_ready(&name).await;
        }
        updated
    }

    async fn write_conditions(&self, node: &Node, changed: &[NodeCondition]) -> Result<Node, kube::Error> {
        let api: Api<Node> = Api::all(self.client.clone());
        // The resourceVersion makes this fail if the kubelet reported meanwhile.
        let body = json!({
            "metadata": {"resourceVersion": node.metadata.resource_version},
            "status": {"conditions": changed},
        });
        api.patch_status(
            &node.name_any(),
            &PatchParams::default(),
            &Patch::Strategic(&body),
        )
        .await
    }

    /// Sets Ready=False on the node's pods that are Ready, as upstream's MarkPodsNotReady.
    async fn mark_pods_not_ready(&self, node: &str) {
        let stamp = api_now();
        for pod in self.pods.state() {
            if pod.spec.as_ref().and_then(|s| s.node_name.as_deref()) != Some(node) {
                continue;
            }
            let ready = pod
                .status
                .as_ref()
                .and_then(|s| s.conditions.as_ref())
                .and_then(|c| c.iter().find(|c| c.type_ == "Ready"));
            let Some(cond) = ready.filter(|c| c.status == "True") else {
                continue;
            };
            let (Some(ns), name) = (pod.namespace(), pod.name_any()) else {
                continue;
            };
            let mut cond = cond.clone();
            cond.status = "False".into();
            cond.last_transition_time = Some(stamp.clone());
            let body = json!({"metadata": {"uid": pod.metadata.uid}, "status": {"conditions": [cond]}});
            let api: Api<Pod> = Api::namespaced(self.client.clone(), &ns);
            match api
                .patch_status(&name, &PatchParams::default(), &Patch::Strategic(&body))
                .await
            {
                Ok(_) => {}
                Err(e) if apierror::is_not_found(&e) => {}
                Err(e) => {
                    tracing::info!(pod = %name, namespace = %ns, error = %e, "node-lifecycle: cannot mark pod not ready")
                }
            }
        }
    }

    /// What to do with the node's `NoExecute` taint given its Ready status.
    fn no_execute(&mut self, node: &Node, ready: &str, mode: Mode, now: Instant) -> NoExecute {
        if mode == Mode::AllDisrupted {
            return NoExecute::Clear;
        }
        let Some(want) = taints::no_execute_key(ready) else {
            return NoExecute::Clear;
        };
        let current = node
            .spec
            .as_ref()
            .and_then(|s| s.taints.as_deref())
            .unwrap_or_default();
        match taints::current_no_execute(current) {
            Some(k) if k == want => NoExecute::Keep,
            // Swapping not-ready and unreachable is immediate.
            Some(_) => NoExecute::Set(want),
            None if self.zones.take(&zones::zone_key(node), now) => NoExecute::Set(want),
            None => NoExecute::Keep,
        }
    }

    /// Brings the node's taints in line (its condition taints, and `no_execute`).
    async fn write_taints(&self, node: &Node, no_execute: NoExecute, stamp: &Time) {
        let want: BTreeSet<&'static str> = taints::no_schedule_keys(node);
        let current = node
            .spec
            .as_ref()
            .and_then(|s| s.taints.as_deref())
            .unwrap_or_default();
        let Some(new) = taints::reconcile(current, &want, no_execute, stamp) else {
            return;
        };
        let name = node.name_any();
        let api: Api<Node> = Api::all(self.client.clone());
        // Guarded by the resourceVersion: taints others changed meanwhile are not lost.
        let body = json!({
            "metadata": {"resourceVersion": node.metadata.resource_version},
            "spec": {"taints": new},
        });
        match api
            .patch(&name, &PatchParams::default(), &Patch::Merge(&body))
            .await
        {
            Ok(_) => {
                let keys: Vec<String> = new.iter().map(|t| format!("{}:{}", t.key, t.effect)).collect();
                tracing::info!(node = %name, taints = ?keys, "node-lifecycle: node taints updated");
            }
            Err(e) if apierror::is_not_found(&e) => {}
            Err(e) => {
                tracing::debug!(node = %name, error = %e, "node-lifecycle: cannot update taints; retrying")
            }
        }
    }
}

/// Nodes whose condition taints may be out of date, for reacting to node changes between
/// passes.
pub fn needs_condition_taints(node: &Node) -> bool {
    let current = node
        .spec
        .as_ref()
        .and_then(|s| s.taints.as_deref())
        .unwrap_or_default();
    taints::reconcile(
        current,
        &taints::no_schedule_keys(node),
        NoExecute::Keep,
        &Time(Timestamp::UNIX_EPOCH),
    )
    .is_some()
}
