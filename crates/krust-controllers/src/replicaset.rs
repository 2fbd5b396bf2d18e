//! The ReplicaSet and ReplicationController controllers: keep `spec.replicas` live pods that
//! match the selector, created from the template and owned through a controller
//! ownerReference, as upstream's `pkg/controller/replicaset` does.
//!
//! One generic reconciler serves both kinds (`Workload` hides the difference: a label
//! selector against a plain map selector). A reconcile reads the shared pod cache, claims
//! pods (adopts matching orphans, releases owned pods that stopped matching), creates or
//! deletes the difference unless its own earlier writes are still unobserved
//! (expectations), and writes the status.

mod claim;
mod expectations;
mod manage;
mod pods;
mod rank;
mod reconcile;
mod status;
mod stream;
mod workload;

use std::sync::Arc;

use futures_util::{StreamExt, future::BoxFuture};
use k8s_openapi::api::{apps::v1::ReplicaSet, core::v1::Pod, core::v1::ReplicationController};
use kube::runtime::{Controller, controller, reflector::Store};
use tokio_util::sync::CancellationToken;

use crate::{informers::Informers, manager::Context};

pub(crate) use claim::{
    Claim, adopt_patch, classify, controller_key, controller_of, controller_ref, owners_to_wake, ref_is,
    release_patch,
};
pub(crate) use krust_runtime::Events;
pub(crate) use manage::{api_code, api_message};
pub(crate) use status::api_time;
pub(crate) use stream::{nudged, ready};

/// Registers the ReplicaSet controller (`replicaset`).
pub(crate) fn register_replicaset(
    informers: &mut Informers,
    ctx: Arc<Context>,
    stop: CancellationToken,
) -> BoxFuture<'static, ()> {
    run::<ReplicaSet>(informers, ctx, stop)
}

/// Registers the ReplicationController controller (`replicationcontroller`).
pub(crate) fn register_replication_controller(
    informers: &mut Informers,
    ctx: Arc<Context>,
    stop: CancellationToken,
) -> BoxFuture<'static, ()> {
    run::<ReplicationController>(informers, ctx, stop)
}

/// Asks the informers for the owner kind and pods, then runs the controller once both
/// caches are filled (acting on a half-filled pod cache would create pods that exist).
fn run<K: workload::Workload>(
    informers: &mut Informers,
    ctx: Arc<Context>,
    stop: CancellationToken,
) -> BoxFuture<'static, ()> {
    let owners = informers.store::<K>();
    let owner_events = informers.subscribe::<K>();
    let pods = informers.store::<Pod>();
    let pod_events = informers.subscribe::<Pod>();
    Box::pin(async move {
        if !crate::keyed::synced(&stop, async { ready(&owners).await && ready(&pods).await }).await {
            return;
        }
        let state = Arc::new(reconcile::State::new(
            ctx.client.clone(),
            pods,
            owners.clone(),
            &ctx.config.identity,
        ));
        let lookup = owners.clone();
        let controller = Controller::for_shared_stream(nudged(owner_events), owners)
            .watches_shared_stream(nudged(pod_events), move |pod: Arc<Pod>| {
                owners_of_pod::<K>(&lookup, &pod)
            })
            .with_config(controller::Config::default().concurrency(ctx.config.workers))
            .run(reconcile::reconcile::<K>, reconcile::error_policy::<K>, state)
            .for_each(|_| futures_util::future::ready(()));
        tokio::select! {
            _ = stop.cancelled() => {}
            _ = controller => {}
        }
    })
}

/// The owners to look at when a pod changes: its controller if that is a `K`, else (an
/// orphan) every `K` in its namespace whose selector matches it, which may adopt it.
fn owners_of_pod<K: workload::Workload>(
    owners: &Store<K>,
    pod: &Pod,
) -> Vec<kube::runtime::reflector::ObjectRef<K>> {
    use kube::ResourceExt;
    let ns = pod.namespace().unwrap_or_default();
    if let Some(owner) = controller_of(&pod.metadata) {
        if claim::ref_is::<K>(owner) {
            return vec![kube::runtime::reflector::ObjectRef::new(&owner.name).within(&ns)];
        }
        return Vec::new();
    }
    owners
        .state()
        .iter()
        .filter(|o| o.namespace().as_deref() == Some(ns.as_str()))
        .filter(|o| o.selector().is_some_and(|s| workload::matches(&s, pod.labels())))
        .map(|o| kube::runtime::reflector::ObjectRef::from_obj(o.as_ref()))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use k8s_openapi::{
        api::apps::v1::ReplicaSetSpec,
        apimachinery::pkg::apis::meta::v1::{LabelSelector, OwnerReference},
    };
    use kube::runtime::{reflector, watcher};

    fn rs(name: &str, app: &str) -> ReplicaSet {
        let mut rs = ReplicaSet::default();
        rs.metadata.name = Some(name.into());
        rs.metadata.namespace = Some("ns".into());
        rs.spec = Some(ReplicaSetSpec {
            selector: LabelSelector {
                match_labels: Some([("app".to_string(), app.to_string())].into()),
                ..Default::default()
            },
            ..Default::default()
        });
        rs
    }

    fn pod(ns: &str, app: &str, owner: Option<(&str, &str, &str)>) -> Pod {
        let mut p = Pod::default();
        p.metadata.namespace = Some(ns.into());
        p.metadata.labels = Some([("app".to_string(), app.to_string())].into());
        p.metadata.owner_references = owner.map(|(api_version, kind, name)| {
            vec![OwnerReference {
                api_version: api_version.into(),
                kind: kind.into(),
                name: name.into(),
                controller: Some(true),
                ..Default::default()
            }]
        });
        p
    }

    #[test]
    fn pods_map_to_their_controller_or_matching_owners() {
        let (store, mut writer) = reflector::store::<ReplicaSet>();
        for r in [rs("web", "web"), rs("web2", "web"), rs("db", "db")] {
            writer.apply_watcher_event(&watcher::Event::Apply(r));
        }
        let names = |p: &Pod| {
            let mut v: Vec<String> = owners_of_pod(&store, p).into_iter().map(|r| r.name).collect();
            v.sort();
            v
        };
        assert_eq!(
            names(&pod("ns", "web", Some(("apps/v1", "ReplicaSet", "web")))),
            ["web"]
        );
        assert_eq!(names(&pod("ns", "web", None)), ["web", "web2"]);
        assert!(names(&pod("other", "web", None)).is_empty());
        assert!(names(&pod("ns", "web", Some(("batch/v1", "Job", "j")))).is_empty());
    }
}
