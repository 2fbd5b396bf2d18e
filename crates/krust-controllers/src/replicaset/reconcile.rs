//! One reconcile of a ReplicaSet or ReplicationController: claim pods, create or delete
//! the difference when no earlier write is still unobserved, write the status, and say
//! when to look again.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::time::{Duration, Instant};

use k8s_openapi::{api::core::v1::Pod, jiff::Timestamp};
use kube::{
    Api, ResourceExt,
    api::{Patch, PatchParams, PostParams},
    core::Selector,
    runtime::{controller::Action, reflector::Store},
};
use parking_lot::Mutex;

use super::claim::{Claim, adopt_patch, classify, controller_of, controller_ref, release_patch};
use super::expectations::{Expectations, Observed};
use super::manage::{ManageError, Round, api_code};
use super::pods::is_active;
use super::rank::pods_to_delete;
use super::status::{self, ManageFailure};
use super::workload::Workload;
use krust_runtime::Events;

/// Every owner is looked at again this often even without events (the informers do not
/// announce deletions, so a pod deleted outright is noticed here at the latest).
const RESYNC: Duration = Duration::from_secs(30);
/// How soon an owner waiting for its own writes to show up is looked at again.
const EXPECTATION_RECHECK: Duration = Duration::from_secs(2);

/// Failures of a reconcile; the key is retried with back-off.
#[derive(Debug, thiserror::Error)]
pub(crate) enum Error {
    /// Reading the owner afresh before adopting failed.
    #[error("{key}: checking the owner before adopting: {source}")]
    Recheck {
        /// namespace/name
        key: String,
        /// The API error.
        #[source]
        source: kube::Error,
    },
    /// The owner was replaced or is being deleted, so it must not adopt.
    #[error("{key}: {reason}")]
    CannotAdopt {
        /// namespace/name
        key: String,
        /// What changed.
        reason: String,
    },
    /// Patching a pod's ownerReferences failed.
    #[error("{key}: claiming pod {pod}: {source}")]
    Claim {
        /// namespace/name
        key: String,
        /// The pod.
        pod: String,
        /// The API error.
        #[source]
        source: kube::Error,
    },
    /// Creating or deleting pods failed.
    #[error("{key}: {source}")]
    Manage {
        /// namespace/name
        key: String,
        /// What failed.
        #[source]
        source: ManageError,
    },
    /// Writing the status failed (often a conflict with a newer version: retried).
    #[error("{key}: updating status: {source}")]
    Status {
        /// namespace/name
        key: String,
        /// The API error.
        #[source]
        source: kube::Error,
    },
}

/// The controller's shared state.
pub(crate) struct State<K: Workload> {
    client: kube::Client,
    pods: Store<Pod>,
    owners: Store<K>,
    expectations: Expectations,
    events: Events,
    failures: Mutex<HashMap<String, u32>>,
}

impl<K: Workload> State<K> {
    /// State over the shared pod and owner caches.
    pub(crate) fn new(client: kube::Client, pods: Store<Pod>, owners: Store<K>, identity: &str) -> Self {
        Self {
            events: Events::new(client.clone(), K::REPORTER, identity),
            client,
            pods,
            owners,
            expectations: Expectations::default(),
            failures: Mutex::default(),
        }
    }
}

/// The pods of one namespace as the cache shows them, for expectations.
struct NamespacePods {
    names: HashSet<String>,
    live: HashSet<String>,
}

impl NamespacePods {
    fn new(pods: &[Arc<Pod>]) -> Self {
        Self {
            names: pods.iter().map(|p| p.name_any()).collect(),
            live: pods
                .iter()
                .filter(|p| p.metadata.deletion_timestamp.is_none())
                .filter_map(|p| p.metadata.uid.clone())
                .collect(),
        }
    }
}

impl Observed for NamespacePods {
    fn has_name(&self, name: &str) -> bool {
        self.names.contains(name)
    }
    fn is_live(&self, uid: &str) -> bool {
        self.live.contains(uid)
    }
}

/// Reconciles one owner (the kube-runtime entry point).
pub(crate) async fn reconcile<K: Workload>(obj: Arc<K>, st: Arc<State<K>>) -> Result<Action, Error> {
    let key = format!("{}/{}", obj.namespace().unwrap_or_default(), obj.name_any());
    let result = sync(obj.as_ref(), st.as_ref(), &key).await;
    if result.is_ok() {
        st.failures.lock().remove(&key);
    }
    result
}

/// Retries a failed key after 0.5 s, doubling per consecutive failure up to 5 minutes.
pub(crate) fn error_policy<K: Workload>(obj: Arc<K>, err: &Error, st: Arc<State<K>>) -> Action {
    let key = format!("{}/{}", obj.namespace().unwrap_or_default(), obj.name_any());
    let n = {
        let mut f = st.failures.lock();
        let n = f.entry(key).or_default();
        *n = n.saturating_add(1);
        *n
    };
    if matches!(err, Error::Status { source, .. } if api_code(source) == Some(409)) {
        tracing::debug!(error = %err, "stale cache; retrying");
    } else {
        tracing::warn!(error = %err, kind = %K::kind(&()), "reconcile failed");
    }
    let delay = Duration::from_millis(500).saturating_mul(1 << n.min(10).saturating_sub(1));
    Action::requeue(delay.min(Duration::from_secs(300)))
}

async fn sync<K: Workload>(obj: &K, st: &State<K>, key: &str) -> Result<Action, Error> {
    let ns = obj.namespace().unwrap_or_default();
    let uid = obj.uid().unwrap_or_default();
    let Some(selector) = obj.selector() else {
        tracing::warn!(%key, kind = %K::kind(&()), "invalid or empty selector; nothing to do");
        return Ok(Action::await_change());
    };
    tracing::debug!(%key, kind = %K::kind(&()), "reconciling");
    let all: Vec<Arc<Pod>> = st
        .pods
        .state()
        .into_iter()
        .filter(|p| p.metadata.namespace.as_deref() == Some(ns.as_str()))
        .collect();
    let active: Vec<&Pod> = all.iter().map(AsRef::as_ref).filter(|p| is_active(p)).collect();
    let claimed = claim_pods(st, obj, &selector, active, key).await?;

    let pods_api: Api<Pod> = Api::namespaced(st.client.clone(), &ns);
    let in_sync = st
        .expectations
        .satisfied(&uid, &NamespacePods::new(&all), Instant::now());
    let mut manage_err = None;
    if in_sync && obj.meta().deletion_timestamp.is_none() {
        let round = Round {
            owner: obj,
            uid: &uid,
            pods: pods_api,
            expectations: &st.expectations,
            events: &st.events,
        };
        let diff = i64::try_from(claimed.len()).unwrap_or(i64::MAX) - i64::from(obj.replicas());
        let result = if diff < 0 {
            let want = usize::try_from(-diff).unwrap_or(0);
            round.create(obj.template(), want).await
        } else if diff > 0 {
            let surplus = usize::try_from(diff).unwrap_or(0).min(super::manage::BURST);
            let related = related_pods(st, obj, &all);
            let victims = pods_to_delete(claimed.clone(), &related, surplus, Timestamp::now());
            round.delete(&victims).await
        } else {
            Ok(())
        };
        manage_err = result.err();
    }

    let now = Timestamp::now();
    let failure: Option<ManageFailure> = manage_err.as_ref().map(ManageError::failure);
    let template_labels = obj
        .template()
        .and_then(|t| t.metadata.as_ref())
        .and_then(|m| m.labels.clone())
        .unwrap_or_default();
    let old = obj.replica_status();
    let generation = obj.meta().generation.unwrap_or(0);
    let min_ready = obj.min_ready_seconds();
    let new = status::calculate(
        &old,
        &template_labels,
        &claimed,
        min_ready,
        generation,
        failure.as_ref(),
        now,
    );
    if new != old {
        let mut updated = obj.clone();
        updated.set_replica_status(&new);
        let api: Api<K> = Api::namespaced(st.client.clone(), &ns);
        api.replace_status(&obj.name_any(), &PostParams::default(), &updated)
            .await
            .map_err(|source| Error::Status {
                key: key.to_string(),
                source,
            })?;
    }
    if let Some(source) = manage_err {
        return Err(Error::Manage {
            key: key.to_string(),
            source,
        });
    }
    let mut after = if in_sync { RESYNC } else { EXPECTATION_RECHECK };
    if let Some(t) = status::next_available(&claimed, min_ready, now) {
        let wait = now.duration_until(t).unsigned_abs() + Duration::from_secs(1);
        after = after.min(wait);
    }
    Ok(Action::requeue(after))
}

/// Adopts matching orphans and releases owned pods that stopped matching; returns the
/// pods the owner controls afterwards.
async fn claim_pods<'a, K: Workload>(
    st: &State<K>,
    obj: &K,
    selector: &Selector,
    candidates: Vec<&'a Pod>,
    key: &str,
) -> Result<Vec<&'a Pod>, Error> {
    let uid = obj.uid().unwrap_or_default();
    let deleting = obj.meta().deletion_timestamp.is_some();
    let mut claimed = Vec::new();
    let mut adopt = Vec::new();
    let mut release = Vec::new();
    for p in candidates {
        match classify(&uid, deleting, Some(selector), &p.metadata) {
            Claim::Owned => claimed.push(p),
            Claim::Adopt => adopt.push(p),
            Claim::Release => release.push(p),
            Claim::Ignore => {}
        }
    }
    let ns = obj.namespace().unwrap_or_default();
    let pods: Api<Pod> = Api::namespaced(st.client.clone(), &ns);
    let pp = PatchParams::default();
    let mut first_err = None;
    if !adopt.is_empty() {
        recheck_owner(st, obj, key).await?;
        let Some(owner) = controller_ref(obj) else {
            return Ok(claimed);
        };
        for p in adopt {
            let patch = adopt_patch(&owner, p.metadata.uid.as_deref().unwrap_or_default());
            match pods.patch(&p.name_any(), &pp, &Patch::Strategic(patch)).await {
                Ok(_) => claimed.push(p),
                Err(e) if api_code(&e) == Some(404) => {}
                Err(source) => {
                    first_err.get_or_insert(Error::Claim {
                        key: key.to_string(),
                        pod: p.name_any(),
                        source,
                    });
                }
            }
        }
    }
    for p in release {
        let patch = release_patch(&uid, p.metadata.uid.as_deref().unwrap_or_default());
        match pods.patch(&p.name_any(), &pp, &Patch::Strategic(patch)).await {
            Ok(_) => {}
            // Gone, replaced, or already released: nothing left to release.
            Err(e) if matches!(api_code(&e), Some(404 | 409 | 422)) => {}
            Err(source) => {
                first_err.get_or_insert(Error::Claim {
                    key: key.to_string(),
                    pod: p.name_any(),
                    source,
                });
            }
        }
    }
    match first_err {
        Some(e) => Err(e),
        None => Ok(claimed),
    }
}

/// Reads the owner from the API (not the cache) before adopting: an owner deleted and
/// recreated under the same name, or being deleted, must not take pods.
async fn recheck_owner<K: Workload>(st: &State<K>, obj: &K, key: &str) -> Result<(), Error> {
    let api: Api<K> = Api::namespaced(st.client.clone(), &obj.namespace().unwrap_or_default());
    let fresh = api.get(&obj.name_any()).await.map_err(|source| Error::Recheck {
        key: key.to_string(),
        source,
    })?;
    if fresh.uid() != obj.uid() {
        return Err(Error::CannotAdopt {
            key: key.to_string(),
            reason: format!(
                "original is gone: got uid {:?}, wanted {:?}",
                fresh.uid(),
                obj.uid()
            ),
        });
    }
    if fresh.meta().deletion_timestamp.is_some() {
        return Err(Error::CannotAdopt {
            key: key.to_string(),
            reason: "is being deleted".into(),
        });
    }
    Ok(())
}

/// Pods controlled by the owner or by its siblings (owners with the same controller, e.g.
/// the ReplicaSets of one Deployment): they decide which pods are doubled up on a node.
fn related_pods<'a, K: Workload>(st: &State<K>, obj: &K, all: &'a [Arc<Pod>]) -> Vec<&'a Pod> {
    let mut owners: HashSet<String> = obj.uid().into_iter().collect();
    if let Some(parent) = controller_of(obj.meta()) {
        let ns = obj.namespace();
        owners.extend(
            st.owners
                .state()
                .iter()
                .filter(|o| o.namespace() == ns)
                .filter(|o| controller_of(o.meta()).is_some_and(|r| r.uid == parent.uid))
                .filter_map(|o| o.uid()),
        );
    }
    all.iter()
        .map(AsRef::as_ref)
        .filter(|p| controller_of(&p.metadata).is_some_and(|r| owners.contains(&r.uid)))
        .collect()
}
