//! Pod garbage collection, as upstream's podgc controller, every 20 seconds:
//!
//! - terminated pods (Succeeded or Failed) beyond `terminated_pod_gc_threshold` are
//!   deleted, evicted ones first, then the oldest;
//! - terminating pods on a node that is NotReady and tainted `out-of-service` are
//!   force-deleted (their kubelet will not finish them);
//! - pods bound to a node that does not exist are force-deleted once the node has been
//!   missing for a quarantine of 40 seconds and a direct read confirms it is gone (the
//!   node cache may lag behind a node just created);
//! - pods being deleted that were never scheduled are force-deleted (no kubelet will).
//!
//! Pods not yet finished are first marked Failed, so their owners see them as finished.

use std::collections::{BTreeSet, HashMap};
use std::sync::Arc;
use std::time::Duration;

use futures_util::future::BoxFuture;
use k8s_openapi::api::core::v1::{Node, Pod};
use kube::{
    Api, ResourceExt,
    api::{DeleteParams, Patch, PatchParams},
    runtime::reflector::Store,
};
use serde_json::json;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use crate::apierror;
use crate::informers::Informers;
use crate::manager::Context;
use crate::replicaset::ready as store_ready;

/// The name in the controller registry (upstream's).
pub const NAME: &str = "pod-garbage-collector-controller";

/// How often the collector runs.
const PERIOD: Duration = Duration::from_secs(20);
/// How long a node must be missing before its pods are collected.
const QUARANTINE: Duration = Duration::from_secs(40);
/// The taint that says a node is out of service for good.
const OUT_OF_SERVICE: &str = "node.kubernetes.io/out-of-service";

/// Registers the collector on the shared pod and node informers.
pub fn register(
    informers: &mut Informers,
    ctx: Arc<Context>,
    stop: CancellationToken,
) -> BoxFuture<'static, ()> {
    let pods = informers.store::<Pod>();
    let nodes = informers.store::<Node>();
    Box::pin(async move {
        tokio::select! {
            _ = stop.cancelled() => return,
            r = async { tokio::join!(store_ready(&pods), store_ready(&nodes)) } => {
                if !(r.0 && r.1) {
                    return;
                }
            }
        }
        let mut gc = PodGc {
            ctx,
            pods,
            nodes,
            missing_since: HashMap::new(),
        };
        loop {
            gc.pass().await;
            tokio::select! {
                _ = stop.cancelled() => return,
                _ = tokio::time::sleep(PERIOD) => {}
            }
        }
    })
}

struct PodGc {
    ctx: Arc<Context>,
    pods: Store<Pod>,
    nodes: Store<Node>,
    /// Node names referenced by pods but missing from the cache, since when.
    missing_since: HashMap<String, Instant>,
}

fn phase(p: &Pod) -> Option<&str> {
    p.status.as_ref().and_then(|s| s.phase.as_deref())
}

/// Finished: neither Pending, Running nor Unknown (upstream's test).
pub fn terminated(p: &Pod) -> bool {
    !matches!(phase(p), Some("Pending" | "Running" | "Unknown") | None)
}

fn node_name(p: &Pod) -> &str {
    p.spec.as_ref().and_then(|s| s.node_name.as_deref()).unwrap_or("")
}

fn evicted(p: &Pod) -> bool {
    phase(p) == Some("Failed") && p.status.as_ref().and_then(|s| s.reason.as_deref()) == Some("Evicted")
}

/// The terminated pods to delete so that at most `threshold` remain: evicted first, then
/// oldest first (name breaks ties). A threshold of 0 turns this off.
pub fn over_threshold(pods: &[Arc<Pod>], threshold: usize) -> Vec<Arc<Pod>> {
    if threshold == 0 {
        return Vec::new();
    }
    let mut done: Vec<Arc<Pod>> = pods.iter().filter(|p| terminated(p)).cloned().collect();
    let excess = done.len().saturating_sub(threshold);
    if excess == 0 {
        return Vec::new();
    }
    done.sort_by(|a, b| {
        evicted(b)
            .cmp(&evicted(a))
            .then_with(|| a.metadata.creation_timestamp.cmp(&b.metadata.creation_timestamp))
            .then_with(|| a.name_any().cmp(&b.name_any()))
    });
    done.truncate(excess);
    done
}

/// Names of nodes that pods are bound to but that are not in `nodes`.
pub fn missing_nodes(pods: &[Arc<Pod>], nodes: &[Arc<Node>]) -> BTreeSet<String> {
    let known: BTreeSet<String> = nodes.iter().map(|n| n.name_any()).collect();
    pods.iter()
        .map(|p| node_name(p))
        .filter(|n| !n.is_empty() && !known.contains(*n))
        .map(str::to_string)
        .collect()
}

/// Pods being deleted that were never scheduled.
pub fn unscheduled_terminating(pods: &[Arc<Pod>]) -> Vec<Arc<Pod>> {
    pods.iter()
        .filter(|p| p.metadata.deletion_timestamp.is_some() && node_name(p).is_empty())
        .cloned()
        .collect()
}

fn node_ready(n: &Node) -> bool {
    n.status
        .as_ref()
        .and_then(|s| s.conditions.as_ref())
        .is_some_and(|c| c.iter().any(|c| c.type_ == "Ready" && c.status == "True"))
}

/// Pods being deleted on NotReady nodes tainted out-of-service.
pub fn terminating_out_of_service(pods: &[Arc<Pod>], nodes: &[Arc<Node>]) -> Vec<Arc<Pod>> {
    let gone: BTreeSet<String> = nodes
        .iter()
        .filter(|n| !node_ready(n))
        .filter(|n| {
            n.spec
                .as_ref()
                .and_then(|s| s.taints.as_ref())
                .is_some_and(|t| t.iter().any(|t| t.key == OUT_OF_SERVICE))
        })
        .map(|n| n.name_any())
        .collect();
    pods.iter()
        .filter(|p| p.metadata.deletion_timestamp.is_some() && gone.contains(node_name(p)))
        .cloned()
        .collect()
}

impl PodGc {
    async fn pass(&mut self) {
        let pods = self.pods.state();
        let nodes = self.nodes.state();
        let threshold = usize::try_from(self.ctx.config.terminated_pod_gc_threshold).unwrap_or(0);
        for p in over_threshold(&pods, threshold) {
            self.delete(&p, None).await;
        }
        for p in terminating_out_of_service(&pods, &nodes) {
            self.delete(&p, None).await;
        }
        let gone = self.confirm_missing(missing_nodes(&pods, &nodes)).await;
        for p in pods.iter().filter(|p| gone.contains(node_name(p))) {
            tracing::info!(pod = %p.name_any(), node = node_name(p), "podgc: deleting pod of a node that no longer exists");
            self.delete(p, Some(("DeletionByPodGC", "PodGC: node no longer exists")))
                .await;
        }
        for p in unscheduled_terminating(&pods) {
            self.delete(&p, None).await;
        }
    }

    /// Of the nodes missing from the cache, those missing for the whole quarantine and
    /// confirmed absent by a direct read.
    async fn confirm_missing(&mut self, missing: BTreeSet<String>) -> BTreeSet<String> {
        let now = Instant::now();
        self.missing_since.retain(|n, _| missing.contains(n));
        let mut gone = BTreeSet::new();
        let api: Api<Node> = Api::all(self.ctx.client.clone());
        for name in missing {
            let since = *self.missing_since.entry(name.clone()).or_insert(now);
            if now.duration_since(since) < QUARANTINE {
                continue;
            }
            match api.get_opt(&name).await {
                Ok(None) => {
                    gone.insert(name);
                }
                Ok(Some(_)) => {
                    self.missing_since.remove(&name);
                }
                Err(e) => tracing::debug!(node = %name, error = %e, "podgc: cannot read node"),
            }
        }
        gone
    }

    /// Marks a pod Failed (with a DisruptionTarget condition if given) unless finished,
    /// then deletes it at once.
    async fn delete(&self, p: &Pod, condition: Option<(&str, &str)>) {
        let (Some(ns), name) = (p.namespace(), p.name_any()) else {
            return;
        };
        let api: Api<Pod> = Api::namespaced(self.ctx.client.clone(), &ns);
        if !terminated(p) {
            let mut status = json!({"phase": "Failed"});
            if let Some((reason, message)) = condition {
                status["conditions"] = json!([{
                    "type": "DisruptionTarget", "status": "True", "reason": reason, "message": message,
                    "lastTransitionTime": k8s_openapi::jiff::Timestamp::now().strftime("%Y-%m-%dT%H:%M:%SZ").to_string(),
                }]);
            }
            let body = json!({"metadata": {"uid": p.metadata.uid}, "status": status});
            if let Err(e) = api
                .patch_status(&name, &PatchParams::default(), &Patch::Strategic(&body))
                .await
            {
                if !apierror::is_not_found(&e) {
                    tracing::info!(pod = %name, namespace = %ns, error = %e, "podgc: cannot mark pod failed");
                }
                return;
            }
        }
        let force = DeleteParams {
            grace_period_seconds: Some(0),
            ..Default::default()
        };
        match api.delete(&name, &force).await {
            Ok(_) => tracing::info!(pod = %name, namespace = %ns, "podgc: deleted pod"),
            Err(e) if apierror::is_not_found(&e) => {}
            Err(e) => tracing::info!(pod = %name, namespace = %ns, error = %e, "podgc: cannot delete pod"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use k8s_openapi::api::core::v1::{NodeCondition, NodeSpec, NodeStatus, PodSpec, PodStatus, Taint};
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
    use k8s_openapi::jiff::Timestamp;

    fn pod(name: &str, created: i64, phase: &str, node: &str) -> Arc<Pod> {
        let mut p = Pod::default();
        p.metadata.name = Some(name.into());
        p.metadata.namespace = Some("default".into());
        p.metadata.creation_timestamp = Some(Time(
            Timestamp::from_second(created).unwrap_or(Timestamp::UNIX_EPOCH),
        ));
        p.spec = Some(PodSpec {
            node_name: (!node.is_empty()).then(|| node.to_string()),
            ..Default::default()
        });
        p.status = Some(PodStatus {
            phase: Some(phase.into()),
            ..Default::default()
        });
        Arc::new(p)
    }

    fn node(name: &str, ready: bool, taint: Option<&str>) -> Arc<Node> {
        let mut n = Node::default();
        n.metadata.name = Some(name.into());
        n.spec = Some(NodeSpec {
            taints: taint.map(|k| {
                vec![Taint {
                    key: k.into(),
                    effect: "NoExecute".into(),
                    ..Default::default()
                }]
            }),
            ..Default::default()
        });
        n.status = Some(NodeStatus {
            conditions: Some(vec![NodeCondition {
                type_: "Ready".into(),
                status: if ready { "True" } else { "False" }.into(),
                ..Default::default()
            }]),
            ..Default::default()
        });
        Arc::new(n)
    }

    fn names(pods: &[Arc<Pod>]) -> Vec<String> {
        pods.iter().map(|p| p.name_any()).collect()
    }

    #[test]
    fn terminated_pods_over_the_threshold_go_evicted_then_oldest_first() {
        let mut evicted = (*pod("evicted", 9, "Failed", "n")).clone();
        if let Some(s) = evicted.status.as_mut() {
            s.reason = Some("Evicted".into());
        }
        let pods = vec![
            pod("running", 0, "Running", "n"),
            pod("old", 1, "Succeeded", "n"),
            pod("older", 0, "Failed", "n"),
            pod("new", 5, "Succeeded", "n"),
            Arc::new(evicted),
        ];
        assert_eq!(names(&over_threshold(&pods, 2)), vec!["evicted", "older"]);
        assert!(over_threshold(&pods, 4).is_empty());
        assert!(over_threshold(&pods, 0).is_empty(), "0 turns it off");
    }

    #[test]
    fn pods_of_unknown_nodes_are_found() {
        let pods = vec![
            pod("a", 0, "Running", "gone"),
            pod("b", 0, "Running", "here"),
            pod("c", 0, "Pending", ""),
        ];
        let nodes = vec![node("here", true, None)];
        assert_eq!(missing_nodes(&pods, &nodes), BTreeSet::from(["gone".to_string()]));
    }

    #[test]
    fn unscheduled_terminating_pods_are_found() {
        let mut p = (*pod("a", 0, "Pending", "")).clone();
        p.metadata.deletion_timestamp = Some(Time(Timestamp::UNIX_EPOCH));
        let mut bound = (*pod("b", 0, "Running", "n")).clone();
        bound.metadata.deletion_timestamp = Some(Time(Timestamp::UNIX_EPOCH));
        let pods = vec![Arc::new(p), Arc::new(bound), pod("c", 0, "Pending", "")];
        assert_eq!(names(&unscheduled_terminating(&pods)), vec!["a"]);
    }

    #[test]
    fn terminating_pods_on_out_of_service_nodes_are_found() {
        let mut p = (*pod("a", 0, "Running", "down")).clone();
        p.metadata.deletion_timestamp = Some(Time(Timestamp::UNIX_EPOCH));
        let mut q = p.clone();
        q.metadata.name = Some("b".into());
        q.spec = Some(PodSpec {
            node_name: Some("ready".into()),
            ..Default::default()
        });
        let pods = vec![Arc::new(p), Arc::new(q), pod("c", 0, "Running", "down")];
        let nodes = vec![
            node("down", false, Some(OUT_OF_SERVICE)),
            node("ready", true, Some(OUT_OF_SERVICE)),
        ];
        assert_eq!(names(&terminating_out_of_service(&pods, &nodes)), vec!["a"]);
    }

    #[test]
    fn phases() {
        assert!(terminated(&pod("a", 0, "Succeeded", "")));
        assert!(terminated(&pod("a", 0, "Failed", "")));
        assert!(!terminated(&pod("a", 0, "Running", "")));
        assert!(!terminated(&pod("a", 0, "Unknown", "")));
    }
}
