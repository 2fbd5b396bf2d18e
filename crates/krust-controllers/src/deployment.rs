//! The Deployment controller, as upstream's `pkg/controller/deployment`: a Deployment owns
//! one ReplicaSet per pod template (`<deploy>-<pod-template-hash>`) and rolls from the old
//! ones to the new one (RollingUpdate within maxSurge/maxUnavailable, or Recreate),
//! keeping revision annotations for `kubectl rollout history|undo`, scaling proportionally
//! when resized mid-rollout, trimming history to `revisionHistoryLimit`, and reporting
//! `Progressing`/`Available` as `kubectl rollout status` expects.
//!
//! Decisions are pure functions (`arith`, `rolling`, `scale`, `progress`, `cleanup`,
//! `annotations`, `hash`); `sync` and `rollout` carry them out through the API.

mod annotations;
mod arith;
mod cleanup;
mod hash;
mod progress;
mod reconcile;
mod rolling;
mod rollout;
mod rsutil;
mod scale;
mod sync;

use std::sync::Arc;

use futures_util::{StreamExt, future::BoxFuture};
use k8s_openapi::api::{
    apps::v1::{Deployment, ReplicaSet},
    core::v1::Pod,
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

/// Registers the Deployment controller (`deployment`).
pub(crate) fn register(
    informers: &mut Informers,
    ctx: Arc<Context>,
    stop: CancellationToken,
) -> BoxFuture<'static, ()> {
    let deployments = informers.store::<Deployment>();
    let deployment_events = informers.subscribe::<Deployment>();
    let replica_sets = informers.store::<ReplicaSet>();
    let rs_events = informers.subscribe::<ReplicaSet>();
    let pods = informers.store::<Pod>();
    Box::pin(async move {
        let caches = async { ready(&deployments).await && ready(&replica_sets).await && ready(&pods).await };
        if !keyed::synced(&stop, caches).await {
            return;
        }
        let state = Arc::new(reconcile::State::new(
            ctx.client.clone(),
            replica_sets,
            pods,
            &ctx.config.identity,
        ));
        let lookup = deployments.clone();
        let controller = Controller::for_shared_stream(nudged(deployment_events), deployments)
            .watches_shared_stream(nudged(rs_events), move |rs: Arc<ReplicaSet>| {
                deployments_of(&lookup, &rs)
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

/// The Deployments to look at when a ReplicaSet changes: its controller if that is a
/// Deployment, else (an orphan) every Deployment in its namespace that selects it.
fn deployments_of(deployments: &Store<Deployment>, rs: &ReplicaSet) -> Vec<ObjectRef<Deployment>> {
    owners_to_wake(
        deployments,
        &rs.metadata,
        |d| d.spec.as_ref().map(|s| &s.selector),
        |_| true,
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use k8s_openapi::{
        api::apps::v1::DeploymentSpec,
        apimachinery::pkg::apis::meta::v1::{LabelSelector, OwnerReference},
    };
    use kube::runtime::{reflector, watcher};

    fn deploy(name: &str, app: &str) -> Deployment {
        let mut d = Deployment::default();
        d.metadata.name = Some(name.into());
        d.metadata.namespace = Some("ns".into());
        d.spec = Some(DeploymentSpec {
            selector: LabelSelector {
                match_labels: Some([("app".to_string(), app.to_string())].into()),
                ..Default::default()
            },
            ..Default::default()
        });
        d
    }

    #[test]
    fn replica_sets_map_to_their_deployment_or_matching_ones() {
        let (store, mut writer) = reflector::store::<Deployment>();
        for d in [deploy("web", "web"), deploy("db", "db")] {
            writer.apply_watcher_event(&watcher::Event::Apply(d));
        }
        let mut owned = ReplicaSet::default();
        owned.metadata.namespace = Some("ns".into());
        owned.metadata.owner_references = Some(vec![OwnerReference {
            api_version: "apps/v1".into(),
            kind: "Deployment".into(),
            name: "db".into(),
            controller: Some(true),
            ..Default::default()
        }]);
        let names = |rs: &ReplicaSet| -> Vec<String> {
            deployments_of(&store, rs).into_iter().map(|r| r.name).collect()
        };
        assert_eq!(names(&owned), ["db"]);
        let mut orphan = ReplicaSet::default();
        orphan.metadata.namespace = Some("ns".into());
        orphan.metadata.labels = Some([("app".to_string(), "web".to_string())].into());
        assert_eq!(names(&orphan), ["web"]);
        orphan.metadata.namespace = Some("elsewhere".into());
        assert!(names(&orphan).is_empty());
    }
}
