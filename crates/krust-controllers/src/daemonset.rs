//! The DaemonSet controller, as upstream's `pkg/controller/daemon`: one pod per node the
//! template fits (node selector, node affinity, taints against its tolerations plus the
//! ones every daemon pod gets), pinned there by node affinity so the scheduler binds it;
//! pods follow nodes as they come, go and change; a new template rolls out node by node
//! (RollingUpdate within maxUnavailable or maxSurge, or OnDelete), each template kept as
//! a ControllerRevision for `kubectl rollout history|undo|status`.
//!
//! A daemon pod that fails is killed and recreated, no more often than the per-node
//! back-off (`backoff`) allows.
//!
//! Decisions are pure (`placement`, `plan`, `backoff`, `status`, `crate::history`);
//! `reconcile` carries them out through the API.

mod backoff;
mod expectations;
mod placement;
mod plan;
mod reconcile;
mod status;

use std::sync::Arc;

use futures_util::{StreamExt, future::BoxFuture};
use k8s_openapi::api::{
    apps::v1::{ControllerRevision, DaemonSet},
    core::v1::{Node, Pod},
};
use kube::runtime::{
    Controller, controller,
    reflector::{ObjectRef, Store},
};
use tokio_util::sync::CancellationToken;

use crate::{
    informers::Informers,
    keyed,
    manager::Context,
    replicaset::{nudged, owners_to_wake, ready},
};

/// The controller's name in `--controllers`.
pub(crate) const NAME: &str = "daemonset-controller";

/// Registers the DaemonSet controller (`daemonset`).
pub(crate) fn register(
    informers: &mut Informers,
    ctx: Arc<Context>,
    stop: CancellationToken,
) -> BoxFuture<'static, ()> {
    let sets = informers.store::<DaemonSet>();
    let set_events = informers.subscribe::<DaemonSet>();
    let pods = informers.store::<Pod>();
    let pod_events = informers.subscribe::<Pod>();
    let nodes = informers.store::<Node>();
    let node_events = informers.subscribe::<Node>();
    let revisions = informers.store::<ControllerRevision>();
    Box::pin(async move {
        let caches = async {
            ready(&sets).await && ready(&pods).await && ready(&nodes).await && ready(&revisions).await
        };
        if !keyed::synced(&stop, caches).await {
            return;
        }
        let state = Arc::new(reconcile::State::new(
            ctx.client.clone(),
            pods,
            nodes,
            revisions,
            &ctx.config.identity,
        ));
        let by_pod = sets.clone();
        let by_node = sets.clone();
        let controller = Controller::for_shared_stream(nudged(set_events), sets)
            .watches_shared_stream(nudged(pod_events), move |pod: Arc<Pod>| sets_of(&by_pod, &pod))
            // Any node change may change where daemon pods belong.
            .watches_shared_stream(nudged(node_events), move |_: Arc<Node>| {
                by_node
                    .state()
                    .iter()
                    .map(|s| ObjectRef::from_obj(s.as_ref()))
                    .collect::<Vec<_>>()
            })
            .with_config(controller::Config::default().concurrency(ctx.config.workers))
            .run(reconcile::reconcile, reconcile::error_policy, state)
            .for_each(|_| futures_util::future::ready(()));
        tokio::select! {
            _ = stop.cancelled() => {}
            _ = controller => {}
        }
    })
}

/// The DaemonSets to look at when a pod changes: its controller if that is a DaemonSet,
/// else (an orphan) every DaemonSet in its namespace that selects it.
fn sets_of(sets: &Store<DaemonSet>, pod: &Pod) -> Vec<ObjectRef<DaemonSet>> {
    owners_to_wake(
        sets,
        &pod.metadata,
        |s| s.spec.as_ref().map(|sp| &sp.selector),
        |_| true,
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use k8s_openapi::{api::apps::v1::DaemonSetSpec, apimachinery::pkg::apis::meta::v1::LabelSelector};
    use kube::runtime::{reflector, watcher};

    #[test]
    fn pods_map_to_their_daemon_set() {
        let (store, mut writer) = reflector::store::<DaemonSet>();
        let mut ds = DaemonSet::default();
        ds.metadata.name = Some("agent".into());
        ds.metadata.namespace = Some("ns".into());
        ds.spec = Some(DaemonSetSpec {
            selector: LabelSelector {
                match_labels: Some([("app".to_string(), "agent".to_string())].into()),
                ..Default::default()
            },
            ..Default::default()
        });
        writer.apply_watcher_event(&watcher::Event::Apply(ds));
        let mut orphan = Pod::default();
        orphan.metadata.namespace = Some("ns".into());
        orphan.metadata.labels = Some([("app".to_string(), "agent".to_string())].into());
        let names = |p: &Pod| -> Vec<String> { sets_of(&store, p).into_iter().map(|r| r.name).collect() };
        assert_eq!(names(&orphan), ["agent"]);
        orphan.metadata.labels = None;
        assert!(names(&orphan).is_empty());
    }
}
