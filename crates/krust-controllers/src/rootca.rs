//! The root CA publisher: every active namespace has a `kube-root-ca.crt` ConfigMap whose
//! `ca.crt` is the cluster CA, so pods can verify the API server (service account token
//! volumes project it). Kept in sync: edited copies are put back, deleted ones recreated.
//!
//! It watches namespaces (shared informer) and only the ConfigMaps named
//! `kube-root-ca.crt` (a field-selected watch of its own, one object per namespace).

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use futures_util::{StreamExt, future::BoxFuture};
use k8s_openapi::api::core::v1::{ConfigMap, Namespace};
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
use crate::serviceaccount::active;

/// The name in the controller registry (upstream's).
pub const NAME: &str = "root-ca-certificate-publisher-controller";

/// The ConfigMap's name.
pub const CONFIG_MAP: &str = "kube-root-ca.crt";
/// The key holding the PEM bundle.
const KEY: &str = "ca.crt";
/// Annotation saying what the ConfigMap is for.
const DESCRIPTION_KEY: &str = "kubernetes.io/description";
const DESCRIPTION: &str = "The cluster's CA bundle, for verifying the API server from inside the cluster \
     (kubernetes.default.svc or its service IP). Maintained by the controller manager.";

/// Failures of one pass (retried).
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// An API call failed.
    #[error("api: {0}")]
    Api(#[from] kube::Error),
}

struct State {
    ctx: Arc<Context>,
    maps: Store<ConfigMap>,
}

/// Registers the publisher (idle, with a warning, when the manager has no CA to publish).
pub fn register(
    informers: &mut Informers,
    ctx: Arc<Context>,
    stop: CancellationToken,
) -> BoxFuture<'static, ()> {
    if ctx.config.root_ca_pem.trim().is_empty() {
        tracing::warn!("root-ca-cert-publisher: no cluster CA configured; not publishing {CONFIG_MAP}");
        return Box::pin(async {});
    }
    let namespaces = informers.store::<Namespace>();
    let changes = informers.subscribe::<Namespace>();
    Box::pin(async move {
        let (maps, writer) = reflector::store::<ConfigMap>();
        let api: Api<ConfigMap> = Api::all(ctx.client.clone());
        let selected = watcher::Config::default().fields(&format!("metadata.name={CONFIG_MAP}"));
        let map_changes = watcher(api, selected)
            .default_backoff()
            .reflect(writer)
            .touched_objects();
        let concurrency = ctx.config.workers;
        let state = Arc::new(State { ctx, maps });
        Controller::for_shared_stream(nudged(changes), namespaces)
            .watches_stream(map_changes, |cm| {
                cm.namespace().map(|ns| ObjectRef::<Namespace>::new(&ns))
            })
            .with_config(kube::runtime::controller::Config::default().concurrency(concurrency))
            .graceful_shutdown_on(stop.cancelled_owned())
            .run(reconcile, error_policy, state)
            .for_each(|_| async {})
            .await;
    })
}

fn error_policy(ns: Arc<Namespace>, e: &Error, _: Arc<State>) -> Action {
    tracing::debug!(namespace = %ns.name_any(), error = %e, "root-ca-cert-publisher: will retry");
    Action::requeue(Duration::from_secs(5))
}

/// What to write for a namespace.
#[derive(Debug, PartialEq)]
pub enum Want {
    /// It is right already.
    Nothing,
    /// Create it.
    Create(ConfigMap),
    /// Replace the existing one with this.
    Update(ConfigMap),
}

/// Compares the existing ConfigMap (if any) with the CA to publish.
pub fn desired(existing: Option<&ConfigMap>, ca_pem: &str) -> Want {
    let data = BTreeMap::from([(KEY.to_string(), ca_pem.to_string())]);
    let Some(cm) = existing else {
        return Want::Create(ConfigMap {
            metadata: ObjectMeta {
                name: Some(CONFIG_MAP.into()),
                annotations: Some(BTreeMap::from([(
                    DESCRIPTION_KEY.to_string(),
                    DESCRIPTION.to_string(),
                )])),
                ..Default::default()
            },
            data: Some(data),
            ..Default::default()
        });
    };
    let described = cm
        .metadata
        .annotations
        .as_ref()
        .is_some_and(|a| a.get(DESCRIPTION_KEY).is_some_and(|d| !d.is_empty()));
    if cm.data.as_ref() == Some(&data) && cm.binary_data.is_none() && described {
        return Want::Nothing;
    }
    let mut fixed = cm.clone();
    fixed.data = Some(data);
    fixed.binary_data = None;
    fixed
        .metadata
        .annotations
        .get_or_insert_with(BTreeMap::new)
        .insert(DESCRIPTION_KEY.into(), DESCRIPTION.into());
    Want::Update(fixed)
}

async fn reconcile(ns: Arc<Namespace>, state: Arc<State>) -> Result<Action, Error> {
    let name = ns.name_any();
    if !active(&ns) {
        return Ok(Action::await_change());
    }
    let existing = state.maps.get(&ObjectRef::new(CONFIG_MAP).within(&name));
    let api: Api<ConfigMap> = Api::namespaced(state.ctx.client.clone(), &name);
    let result = match desired(existing.as_deref(), &state.ctx.config.root_ca_pem) {
        Want::Nothing => return Ok(Action::await_change()),
        Want::Create(cm) => api.create(&PostParams::default(), &cm).await.map(drop),
        Want::Update(cm) => api
            .replace(CONFIG_MAP, &PostParams::default(), &cm)
            .await
            .map(drop),
    };
    match result {
        Ok(()) => Ok(Action::await_change()),
        // The namespace is going away: nothing to publish.
        Err(e) if apierror::is_not_found(&e) || apierror::is_forbidden(&e) => Ok(Action::await_change()),
        // Our cache lagged: the watch event that follows brings us back.
        Err(e) if apierror::is_already_exists(&e) => Ok(Action::await_change()),
        Err(e) => Err(e.into()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn missing_map_is_created_with_the_ca() {
        let Want::Create(cm) = desired(None, "PEM") else {
            panic!("expected a create");
        };
        assert_eq!(cm.metadata.name.as_deref(), Some(CONFIG_MAP));
        assert_eq!(cm.data.and_then(|d| d.get(KEY).cloned()).as_deref(), Some("PEM"));
    }

    #[test]
    fn a_correct_map_is_left_alone_and_a_changed_one_fixed() {
        let Want::Create(good) = desired(None, "PEM") else {
            panic!("expected a create");
        };
        assert_eq!(desired(Some(&good), "PEM"), Want::Nothing);
        let mut edited = good.clone();
        edited.data = Some(BTreeMap::from([
            (KEY.into(), "other".into()),
            ("x".into(), "y".into()),
        ]));
        edited.metadata.resource_version = Some("7".into());
        let Want::Update(fixed) = desired(Some(&edited), "PEM") else {
            panic!("expected an update");
        };
        assert_eq!(fixed.data, good.data);
        assert_eq!(fixed.metadata.resource_version.as_deref(), Some("7"));
        // A rotated CA is published.
        assert!(matches!(desired(Some(&good), "NEW"), Want::Update(_)));
        // The description annotation is restored.
        let mut bare = good;
        bare.metadata.annotations = None;
        assert!(matches!(desired(Some(&bare), "PEM"), Want::Update(_)));
    }
}
