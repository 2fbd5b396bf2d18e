//! One reconcile of a Deployment: claim its ReplicaSets, then hand over to the step the
//! Deployment is in (status only while deleted, scaling while paused or resized, else a
//! rollout step of its strategy) and say when to look again.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use k8s_openapi::{
    api::{
        apps::v1::{Deployment, ReplicaSet},
        core::v1::Pod,
    },
    jiff::Timestamp,
};
use kube::{
    Api, Resource, ResourceExt,
    api::{Patch, PatchParams},
    core::Selector,
    runtime::{controller::Action, reflector::Store},
};
use parking_lot::Mutex;

use super::sync::Syncer;
use crate::replicaset::{Claim, Events, adopt_patch, api_code, classify, controller_ref, release_patch};

/// Failures of a Deployment reconcile; the key is retried with back-off.
#[derive(Debug, thiserror::Error)]
pub(crate) enum Error {
    /// An API call failed.
    #[error("{key}: {action}: {source}")]
    Api {
        /// namespace/name
        key: String,
        /// What was being done.
        action: String,
        /// The API error.
        #[source]
        source: kube::Error,
    },
    /// The Deployment was replaced or is being deleted, so it must not adopt.
    #[error("{key}: cannot adopt: {reason}")]
    CannotAdopt {
        /// namespace/name
        key: String,
        /// What changed.
        reason: String,
    },
    /// The new ReplicaSet's name is taken by another object; the collision count was
    /// raised so the next attempt hashes to another name.
    #[error("{key}: hash collision on replica set {name}")]
    Collision {
        /// namespace/name
        key: String,
        /// The taken name.
        name: String,
    },
}

impl Error {
    /// Whether this is an optimistic-concurrency conflict (a stale cache: retried soon).
    fn is_conflict(&self) -> bool {
        matches!(self, Self::Api { source, .. } if api_code(source) == Some(409))
    }
}

/// The controller's shared state.
pub(crate) struct State {
    pub(super) client: kube::Client,
    pub(super) replica_sets: Store<ReplicaSet>,
    pub(super) pods: Store<Pod>,
    pub(super) events: Events,
    failures: Mutex<HashMap<String, u32>>,
}

impl State {
    /// State over the shared caches.
    pub(crate) fn new(
        client: kube::Client,
        replica_sets: Store<ReplicaSet>,
        pods: Store<Pod>,
        identity: &str,
    ) -> Self {
        Self {
            events: Events::new(client.clone(), "deployment-controller", identity),
            client,
            replica_sets,
            pods,
            failures: Mutex::default(),
        }
    }
}

fn key_of(d: &Deployment) -> String {
    format!("{}/{}", d.namespace().unwrap_or_default(), d.name_any())
}

/// Reconciles one Deployment (the kube-runtime entry point).
pub(crate) async fn reconcile(d: Arc<Deployment>, st: Arc<State>) -> Result<Action, Error> {
    let key = key_of(&d);
    let result = sync(&d, &st, &key).await;
    if result.is_ok() {
        st.failures.lock().remove(&key);
    }
    result
}

/// Retries a failed key after 0.5 s, doubling per consecutive failure up to 5 minutes.
pub(crate) fn error_policy(d: Arc<Deployment>, err: &Error, st: Arc<State>) -> Action {
    let n = {
        let mut f = st.failures.lock();
        let n = f.entry(key_of(&d)).or_default();
        *n = n.saturating_add(1);
        *n
    };
    if err.is_conflict() {
        tracing::debug!(error = %err, "stale cache; retrying");
    } else {
        tracing::warn!(error = %err, "deployment reconcile failed");
    }
    let delay = Duration::from_millis(500).saturating_mul(1 << n.min(10).saturating_sub(1));
    Action::requeue(delay.min(Duration::from_secs(300)))
}

async fn sync(d: &Deployment, st: &State, key: &str) -> Result<Action, Error> {
    let selector = d.spec.as_ref().map(|s| s.selector.clone()).unwrap_or_default();
    let everything = selector.match_labels.as_ref().is_none_or(|m| m.is_empty())
        && selector.match_expressions.as_ref().is_none_or(|e| e.is_empty());
    let mut syncer = Syncer::new(st, d.clone(), key.to_string(), Timestamp::now());
    if everything {
        st.events.warning(
            d.object_ref(&()),
            "SelectingAll",
            "Select",
            "This deployment is selecting all pods. A non-empty selector is required.".into(),
        );
        syncer.observe_generation_only().await?;
        return Ok(Action::await_change());
    }
    let Ok(selector) = Selector::try_from(selector) else {
        tracing::warn!(%key, "invalid deployment selector; nothing to do");
        return Ok(Action::await_change());
    };
    syncer.replica_sets = claim_replica_sets(st, d, &selector, key).await?;
    syncer.run(&selector).await
}

/// The ReplicaSets the Deployment controls after adopting matching orphans and releasing
/// its ReplicaSets that stopped matching.
async fn claim_replica_sets(
    st: &State,
    d: &Deployment,
    selector: &Selector,
    key: &str,
) -> Result<Vec<ReplicaSet>, Error> {
    let ns = d.namespace().unwrap_or_default();
    let uid = d.uid().unwrap_or_default();
    let deleting = d.metadata.deletion_timestamp.is_some();
    let api: Api<ReplicaSet> = Api::namespaced(st.client.clone(), &ns);
    let pp = PatchParams::default();
    let mut claimed = Vec::new();
    let mut rechecked = false;
    let candidates = st
        .replica_sets
        .state()
        .into_iter()
        .filter(|rs| rs.metadata.namespace.as_deref() == Some(ns.as_str()));
    for rs in candidates {
        let rs_uid = rs.metadata.uid.clone().unwrap_or_default();
        let api_err = |action: &str, source| Error::Api {
            key: key.to_string(),
            action: format!("{action} replica set {}", rs.name_any()),
            source,
        };
        match classify(&uid, deleting, Some(selector), &rs.metadata) {
            Claim::Owned => claimed.push(rs.as_ref().clone()),
            Claim::Ignore => {}
            Claim::Adopt => {
                if !rechecked {
                    recheck(st, d, key).await?;
                    rechecked = true;
                }
                let Some(owner) = controller_ref(d) else { continue };
                match api
                    .patch(
                        &rs.name_any(),
                        &pp,
                        &Patch::Strategic(adopt_patch(&owner, &rs_uid)),
                    )
                    .await
                {
                    Ok(adopted) => claimed.push(adopted),
                    Err(e) if api_code(&e) == Some(404) => {}
                    Err(e) => return Err(api_err("adopting", e)),
                }
            }
            Claim::Release => {
                match api
                    .patch(
                        &rs.name_any(),
                        &pp,
                        &Patch::Strategic(release_patch(&uid, &rs_uid)),
                    )
                    .await
                {
                    Ok(_) => {}
                    Err(e) if matches!(api_code(&e), Some(404 | 409 | 422)) => {}
                    Err(e) => return Err(api_err("releasing", e)),
                }
            }
        }
    }
    Ok(claimed)
}

/// Reads the Deployment from the API before adopting (not a recreated one, not deleted).
async fn recheck(st: &State, d: &Deployment, key: &str) -> Result<(), Error> {
    let api: Api<Deployment> = Api::namespaced(st.client.clone(), &d.namespace().unwrap_or_default());
    let fresh = api.get(&d.name_any()).await.map_err(|source| Error::Api {
        key: key.to_string(),
        action: "checking the deployment before adopting".into(),
        source,
    })?;
    if fresh.uid() != d.uid() {
        return Err(Error::CannotAdopt {
            key: key.to_string(),
            reason: "the deployment was replaced".into(),
        });
    }
    if fresh.metadata.deletion_timestamp.is_some() {
        return Err(Error::CannotAdopt {
            key: key.to_string(),
            reason: "the deployment is being deleted".into(),
        });
    }
    Ok(())
}
