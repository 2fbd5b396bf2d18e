//! The service account controller: every active namespace has a `default` ServiceAccount
//! (pods that name none run as it), created with the namespace and again if deleted.
//!
//! It watches namespaces (shared informer) and only the ServiceAccounts named `default`
//! (a field-selected watch of its own, so the cache stays one object per namespace).

use std::sync::Arc;
use std::time::Duration;

use futures_util::{StreamExt, future::BoxFuture};
use k8s_openapi::api::core::v1::{Namespace, ServiceAccount};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use kube::{
    Api, ResourceExt,
    api::PostParams,
    runtime::{
        Controller, WatchStreamExt,
        controller::Action,
        reflector::{self, ObjectRef, Store},
        watcher,
    },
};
use tokio_util::sync::CancellationToken;

use crate::apierror;
use crate::informers::Informers;
use crate::manager::Context;
use crate::replicaset::nudged;

/// The name in the controller registry.
pub const NAME: &str = "serviceaccount-controller";

/// The account every namespace gets.
const DEFAULT: &str = "default";

/// Failures of one pass (retried).
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// An API call failed.
    #[error("api: {0}")]
    Api(#[from] kube::Error),
}

struct State {
    ctx: Arc<Context>,
    accounts: Store<ServiceAccount>,
}

/// Registers the controller.
pub fn register(
    informers: &mut Informers,
    ctx: Arc<Context>,
    stop: CancellationToken,
) -> BoxFuture<'static, ()> {
    let namespaces = informers.store::<Namespace>();
    let changes = informers.subscribe::<Namespace>();
    Box::pin(async move {
        let (accounts, writer) = reflector::store::<ServiceAccount>();
        let api: Api<ServiceAccount> = Api::all(ctx.client.clone());
        let selected = watcher::Config::default().fields(&format!("metadata.name={DEFAULT}"));
        let account_changes = watcher(api, selected)
            .default_backoff()
            .reflect(writer)
            .touched_objects();
        let concurrency = ctx.config.workers;
        let state = Arc::new(State { ctx, accounts });
        Controller::for_shared_stream(nudged(changes), namespaces)
            .watches_stream(account_changes, |sa| {
                sa.namespace().map(|ns| ObjectRef::<Namespace>::new(&ns))
            })
            .with_config(kube::runtime::controller::Config::default().concurrency(concurrency))
            .graceful_shutdown_on(stop.cancelled_owned())
            .run(reconcile, error_policy, state)
            .for_each(|_| async {})
            .await;
    })
}

fn error_policy(ns: Arc<Namespace>, e: &Error, _: Arc<State>) -> Action {
    tracing::debug!(namespace = %ns.name_any(), error = %e, "service account controller: will retry");
    Action::requeue(Duration::from_secs(5))
}

/// Whether a namespace takes new content (not being deleted).
pub fn active(ns: &Namespace) -> bool {
    ns.metadata.deletion_timestamp.is_none()
        && ns.status.as_ref().and_then(|s| s.phase.as_deref()) != Some("Terminating")
}

async fn reconcile(ns: Arc<Namespace>, state: Arc<State>) -> Result<Action, Error> {
    let name = ns.name_any();
    if !active(&ns) {
        return Ok(Action::await_change());
    }
    if state
        .accounts
        .get(&ObjectRef::new(DEFAULT).within(&name))
        .is_some()
    {
        return Ok(Action::await_change());
    }
    let api: Api<ServiceAccount> = Api::namespaced(state.ctx.client.clone(), &name);
    let sa = ServiceAccount {
        metadata: ObjectMeta {
            name: Some(DEFAULT.into()),
            ..Default::default()
        },
        ..Default::default()
    };
    match api.create(&PostParams::default(), &sa).await {
        Ok(_) => {
            tracing::debug!(namespace = %name, "created the default service account");
            Ok(Action::await_change())
        }
        // Present already (our cache lagged), or the namespace is going away.
        Err(e)
            if apierror::is_already_exists(&e)
                || apierror::is_not_found(&e)
                || apierror::is_forbidden(&e) =>
        {
            Ok(Action::await_change())
        }
        Err(e) => Err(e.into()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use k8s_openapi::api::core::v1::NamespaceStatus;
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;

    #[test]
    fn terminating_namespaces_get_nothing() {
        let mut ns = Namespace::default();
        assert!(active(&ns));
        ns.status = Some(NamespaceStatus {
            phase: Some("Terminating".into()),
            ..Default::default()
        });
        assert!(!active(&ns));
        let mut ns = Namespace::default();
        ns.metadata.deletion_timestamp = Some(Time(k8s_openapi::jiff::Timestamp::UNIX_EPOCH));
        assert!(!active(&ns));
    }
}
