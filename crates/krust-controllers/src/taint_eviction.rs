//! The taint eviction controller (upstream's NoExecute taint manager,
//! `pkg/controller/tainteviction`): a pod bound to a node with a `NoExecute` taint it does
//! not tolerate is deleted; a pod that tolerates every such taint for a limited
//! `tolerationSeconds` is deleted once the shortest of them has passed since the controller
//! first saw it under the taints (it is looked at again exactly then); if the taints go
//! before that, nothing happens. Before the delete the pod gets the `DisruptionTarget`
//! condition (reason `DeletionByTaintManager`), as upstream.
//!
//! Keyed by pod; node changes reach the pods of a node only when its `NoExecute` taints
//! change.

mod decide;

use std::collections::HashMap;
use std::sync::Arc;

use futures_util::future::BoxFuture;
use k8s_openapi::api::core::v1::{Node, Pod, Taint};
use kube::{
    Api, Resource, ResourceExt,
    api::{DeleteParams, Patch, PatchParams, Preconditions},
    runtime::reflector::{ObjectRef, Store},
};
use parking_lot::Mutex;
use serde_json::json;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use crate::apierror;
use crate::informers::Informers;
use crate::keyed::{self, Next, Seen};
use crate::manager::Context;
use crate::replicaset::{Events, nudged};
use crate::workqueue::Queue;

use decide::{Verdict, deadline, verdict};

/// The name in the controller registry (upstream's).
pub const NAME: &str = "taint-eviction-controller";

/// Failures of one sync (retried with back-off).
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// Marking or deleting the pod failed.
    #[error("evicting {key}: {source}")]
    Evict {
        /// namespace/name
        key: String,
        /// The API error.
        #[source]
        source: kube::Error,
    },
}

/// Registers the controller on the shared pod and node informers.
pub fn register(
    informers: &mut Informers,
    ctx: Arc<Context>,
    stop: CancellationToken,
) -> BoxFuture<'static, ()> {
    let pods = informers.store::<Pod>();
    let pod_changes = nudged(informers.subscribe::<Pod>());
    let nodes = informers.store::<Node>();
    let node_changes = nudged(informers.subscribe::<Node>());
    Box::pin(async move {
        let queue: Arc<Queue<String>> = Queue::new();
        let state = Arc::new(State {
            client: ctx.client.clone(),
            pods: pods.clone(),
            nodes: nodes.clone(),
            since: Mutex::new(HashMap::new()),
            events: Events::new(
                ctx.client.clone(),
                "taint-eviction-controller",
                &ctx.config.identity,
            ),
        });
        let on_pod = {
            let queue = queue.clone();
            move |seen: Seen<'_, Pod>| {
                if node_of(seen.object()).is_some() || matches!(seen, Seen::Deleted(_)) {
                    queue.add(keyed::key_of(seen.object()));
                }
            }
        };
        let on_node = {
            let (queue, pods) = (queue.clone(), pods.clone());
            let mut last: HashMap<String, Vec<Taint>> = HashMap::new();
            move |seen: Seen<'_, Node>| {
                let name = seen.object().name_any();
                let now = match seen {
                    Seen::Changed(n) => no_execute_taints(n),
                    Seen::Deleted(_) => {
                        last.remove(&name);
                        return;
                    }
                };
                if last.get(&name).is_some_and(|t| *t == now) {
                    return;
                }
                last.insert(name.clone(), now);
                for p in pods.state().iter().filter(|p| node_of(p) == Some(name.as_str())) {
                    queue.add(keyed::key_of(p.as_ref()));
                }
            }
        };
        let feed = futures_util::future::join(
            keyed::follow(pod_changes, pods.clone(), stop.clone(), on_pod),
            keyed::follow(node_changes, nodes.clone(), stop.clone(), on_node),
        );
        let work = async {
            tokio::select! {
                _ = stop.cancelled() => return,
                r = futures_util::future::try_join(pods.wait_until_ready(), nodes.wait_until_ready()) => {
                    if r.is_err() {
                        return;
                    }
                }
            }
            keyed::run_workers(
                NAME,
                queue.clone(),
                ctx.config.workers,
                stop.clone(),
                move |key| {
                    let state = state.clone();
                    async move { state.sync(&key).await }
                },
            )
            .await;
        };
        futures_util::future::join(feed, work).await;
    })
}

fn node_of(pod: &Pod) -> Option<&str> {
    pod.spec
        .as_ref()
        .and_then(|s| s.node_name.as_deref())
        .filter(|n| !n.is_empty())
}

fn no_execute_taints(node: &Node) -> Vec<Taint> {
    node.spec
        .as_ref()
        .and_then(|s| s.taints.as_ref())
        .map(|t| {
            t.iter()
                .filter(|t| t.effect == decide::NO_EXECUTE)
                .cloned()
                .collect()
        })
        .unwrap_or_default()
}

struct State {
    client: kube::Client,
    pods: Store<Pod>,
    nodes: Store<Node>,
    /// Pods under tolerated `NoExecute` taints: since when (and the pod's uid, so a new pod
    /// of the same name starts afresh).
    since: Mutex<HashMap<String, (String, Instant)>>,
    events: Events,
}

impl State {
    async fn sync(&self, key: &str) -> Result<Next, Error> {
        let Some(pod) = keyed::cached(&self.pods, key) else {
            self.since.lock().remove(key);
            return Ok(Next::Done);
        };
        let node = node_of(&pod).and_then(|n| self.nodes.get(&ObjectRef::new(n)));
        let (Some(node), None) = (node, pod.metadata.deletion_timestamp.as_ref()) else {
            // Unbound, on a node that is gone (the pod garbage collector's case), or already
            // being deleted.
            self.since.lock().remove(key);
            return Ok(Next::Done);
        };
        let tolerations = pod
            .spec
            .as_ref()
            .and_then(|s| s.tolerations.as_deref())
            .unwrap_or_default();
        let v = verdict(tolerations, &no_execute_taints(&node));
        let now = Instant::now();
        let uid = pod.uid().unwrap_or_default();
        let since = match v {
            Verdict::Untainted | Verdict::ToleratedForever => {
                if self.since.lock().remove(key).is_some() {
                    self.events.normal(
                        pod.object_ref(&()),
                        "TaintManagerEviction",
                        "Cancel",
                        format!("Cancelling deletion of Pod {key}"),
                    );
                }
                return Ok(Next::Done);
            }
            Verdict::Evict => now,
            Verdict::ToleratedFor(_) => {
                let mut since = self.since.lock();
                let entry = since.entry(key.to_string()).or_insert_with(|| (uid.clone(), now));
                if entry.0 != uid {
                    *entry = (uid.clone(), now);
                }
                entry.1
            }
        };
        match deadline(v, since) {
            Some(at) if at > now => Ok(Next::After(at - now)),
            Some(_) => {
                self.evict(&pod, key).await?;
                self.since.lock().remove(key);
                Ok(Next::Done)
            }
            None => Ok(Next::Done),
        }
    }

    /// Marks the pod with the `DisruptionTarget` condition, then deletes it (both guarded
    /// by its uid, so a new pod of the same name is not touched).
    async fn evict(&self, pod: &Pod, key: &str) -> Result<(), Error> {
        let (Some(ns), name) = (pod.namespace(), pod.name_any()) else {
            return Ok(());
        };
        let err = |source| Error::Evict {
            key: key.to_string(),
            source,
        };
        tracing::info!(pod = %key, "taint-eviction: deleting pod because of a NoExecute taint");
        self.events.normal(
            pod.object_ref(&()),
            "TaintManagerEviction",
            "Delete",
            format!("Marking for deletion Pod {key}"),
        );
        let api: Api<Pod> = Api::namespaced(self.client.clone(), &ns);
        let already = pod
            .status
            .as_ref()
            .and_then(|s| s.conditions.as_ref())
            .is_some_and(|c| {
                c.iter()
                    .any(|c| c.type_ == "DisruptionTarget" && c.status == "True")
            });
        if !already {
            let body = json!({
                "metadata": {"uid": pod.metadata.uid},
                "status": {"conditions": [{
                    "type": "DisruptionTarget",
                    "status": "True",
                    "reason": "DeletionByTaintManager",
                    "message": "Taint manager: deleting due to NoExecute taint",
                    "lastTransitionTime": crate::replicaset::api_time(k8s_openapi::jiff::Timestamp::now()),
                }]},
            });
            match api
                .patch_status(&name, &PatchParams::default(), &Patch::Strategic(&body))
                .await
            {
                Ok(_) => {}
                Err(e) if apierror::is_not_found(&e) => return Ok(()),
                Err(e) => return Err(err(e)),
            }
        }
        let params = DeleteParams {
            preconditions: Some(Preconditions {
                uid: pod.metadata.uid.clone(),
                resource_version: None,
            }),
            ..Default::default()
        };
        match api.delete(&name, &params).await {
            Ok(_) => Ok(()),
            Err(e) if apierror::is_not_found(&e) || apierror::code(&e) == Some(409) => Ok(()),
            Err(e) => Err(err(e)),
        }
    }
}
