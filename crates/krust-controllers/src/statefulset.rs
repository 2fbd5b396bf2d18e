//! The StatefulSet controller, as upstream's `pkg/controller/statefulset`: pods with a
//! stable identity (`<set>-<ordinal>`, hostname, subdomain, pod-name and pod-index
//! labels) and stable storage (claims `<claim>-<set>-<ordinal>` that outlive the pods,
//! deleted only as `persistentVolumeClaimRetentionPolicy` says), created in order or in
//! parallel, and replaced from the highest ordinal down on a template change
//! (RollingUpdate with partition and maxUnavailable, or OnDelete). Each template is kept
//! as a ControllerRevision, so `kubectl rollout history|undo|status` work.
//!
//! Pods are claimed as upstream claims them (`claim`): owned pods that stop matching the
//! selector or the ordinal naming are released, matching orphans with one of the set's
//! names adopted. A released pod keeps its name, so its ordinal waits until it is gone.
//!
//! Decisions are pure (`claim`, `plan`, `identity`, `retention`, `status`,
//! `crate::history`); `reconcile` carries them out through the API.

mod claim;
mod identity;
mod plan;
pub(crate) mod pods;
mod reconcile;
mod retention;
mod status;

use std::sync::Arc;

use futures_util::{StreamExt, future::BoxFuture};
use k8s_openapi::api::{
    apps::v1::{ControllerRevision, StatefulSet},
    core::v1::{PersistentVolumeClaim, Pod},
};
use kube::{
    ResourceExt,
    runtime::{
        Controller, controller,
        reflector::{ObjectRef, Store},
    },
};
use tokio_util::sync::CancellationToken;

use crate::{
    informers::Informers,
    keyed,
    manager::Context,
    replicaset::{nudged, owners_to_wake, ready},
};

/// The controller's name in `--controllers`.
pub(crate) const NAME: &str = "statefulset-controller";

/// Registers the StatefulSet controller (`statefulset`).
pub(crate) fn register(
    informers: &mut Informers,
    ctx: Arc<Context>,
    stop: CancellationToken,
) -> BoxFuture<'static, ()> {
    let sets = informers.store::<StatefulSet>();
    let set_events = informers.subscribe::<StatefulSet>();
    let pods = informers.store::<Pod>();
    let pod_events = informers.subscribe::<Pod>();
    let claims = informers.store::<PersistentVolumeClaim>();
    let revisions = informers.store::<ControllerRevision>();
    Box::pin(async move {
        let caches = async {
            ready(&sets).await && ready(&pods).await && ready(&claims).await && ready(&revisions).await
        };
        if !keyed::synced(&stop, caches).await {
            return;
        }
        let state = Arc::new(reconcile::State::new(
            ctx.client.clone(),
            pods,
            claims,
            revisions,
            &ctx.config.identity,
        ));
        let lookup = sets.clone();
        let controller = Controller::for_shared_stream(nudged(set_events), sets)
            .watches_shared_stream(nudged(pod_events), move |pod: Arc<Pod>| sets_of(&lookup, &pod))
            .with_config(controller::Config::default().concurrency(ctx.config.workers))
            .run(reconcile::reconcile, reconcile::error_policy, state)
            .for_each(|_| futures_util::future::ready(()));
        tokio::select! {
            _ = stop.cancelled() => {}
            _ = controller => {}
        }
    })
}

/// The sets to look at when a pod changes: its controller if that is a StatefulSet, else
/// (an orphan) the set whose pod name and selector it has, which may adopt it.
fn sets_of(sets: &Store<StatefulSet>, pod: &Pod) -> Vec<ObjectRef<StatefulSet>> {
    owners_to_wake(
        sets,
        &pod.metadata,
        |s| s.spec.as_ref().map(|sp| &sp.selector),
        |s| pods::ordinal_in(&s.name_any(), pod).is_some(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::OwnerReference;
    use kube::runtime::{reflector, watcher};

    #[test]
    fn pods_map_to_their_set() {
        let (store, mut writer) = reflector::store::<StatefulSet>();
        writer.apply_watcher_event(&watcher::Event::Apply(identity::tests::set(2)));
        let mut owned = Pod::default();
        owned.metadata.namespace = Some("ns".into());
        owned.metadata.owner_references = Some(vec![OwnerReference {
            api_version: "apps/v1".into(),
            kind: "StatefulSet".into(),
            name: "db".into(),
            controller: Some(true),
            ..Default::default()
        }]);
        let names = |p: &Pod| -> Vec<String> { sets_of(&store, p).into_iter().map(|r| r.name).collect() };
        assert_eq!(names(&owned), ["db"]);
        let mut orphan = Pod::default();
        orphan.metadata.namespace = Some("ns".into());
        orphan.metadata.name = Some("web-4".into());
        orphan.metadata.labels = Some([("app".to_string(), "web".to_string())].into());
        assert_eq!(names(&orphan), ["web"]);
        orphan.metadata.name = Some("other-4".into());
        assert!(names(&orphan).is_empty());
    }
}
