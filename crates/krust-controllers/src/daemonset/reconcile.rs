//! One sync of a DaemonSet: claim its pods and revisions, settle the revision of the
//! current template, work out which nodes want a pod, carry out `plan` (placement, then
//! the rolling update) through the API, write the status, trim the history.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::Arc;
use std::time::{Duration, Instant};

use k8s_openapi::{
    api::{
        apps::v1::{ControllerRevision, DaemonSet},
        core::v1::{Node, Pod},
    },
    apimachinery::pkg::{apis::meta::v1::ObjectMeta, util::intstr::IntOrString},
    jiff::Timestamp,
};
use kube::{
    Api, Resource, ResourceExt,
    api::{DeleteParams, Patch, PatchParams, PostParams, Preconditions},
    core::Selector,
    runtime::{controller::Action, reflector::Store},
};
use parking_lot::Mutex;
use serde_json::json;

use super::backoff::FailedPodsBackoff;
use super::expectations::Expectations;
use super::placement::{add_daemon_tolerations, fit, pin_to_node, target_node};
use super::plan::{self, Changes, Nodes};
use super::status;
use crate::apierror::is_not_found;
use crate::history::{self, Choice, Created, POD_REVISION_LABEL, Revisions};
use crate::replicaset::{Claim, Events, adopt_patch, classify, controller_ref};
use crate::statefulset::pods::{is_available, is_terminating, revision_of};

/// Every set is looked at again this often even without events.
const RESYNC: Duration = Duration::from_secs(30);
/// How soon a set with pods on their way is looked at again (deletions are not announced
/// by the shared informers).
const WAIT: Duration = Duration::from_secs(1);

/// Failures of a sync; the key is retried with back-off.
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
    /// The revision's name is taken by another revision; the collision count was raised.
    #[error("{key}: revision name collision")]
    Collision {
        /// namespace/name
        key: String,
    },
}

/// The controller's shared state.
pub(crate) struct State {
    client: kube::Client,
    pods: Store<Pod>,
    nodes: Store<Node>,
    revisions: Store<ControllerRevision>,
    events: Events,
    expectations: Expectations,
    failed_pods: Mutex<FailedPodsBackoff>,
    failures: Mutex<HashMap<String, u32>>,
}

impl State {
    /// State over the shared caches.
    pub(crate) fn new(
        client: kube::Client,
        pods: Store<Pod>,
        nodes: Store<Node>,
        revisions: Store<ControllerRevision>,
        identity: &str,
    ) -> Self {
        Self {
            events: Events::new(client.clone(), "daemonset-controller", identity),
            client,
            pods,
            nodes,
            revisions,
            expectations: Expectations::default(),
            failed_pods: Mutex::default(),
            failures: Mutex::default(),
        }
    }
}

fn key_of(ds: &DaemonSet) -> String {
    format!("{}/{}", ds.namespace().unwrap_or_default(), ds.name_any())
}

/// Reconciles one DaemonSet (the kube-runtime entry point).
pub(crate) async fn reconcile(ds: Arc<DaemonSet>, st: Arc<State>) -> Result<Action, Error> {
    let key = key_of(&ds);
    let r = sync(&ds, &st, &key).await;
    if r.is_ok() {
        st.failures.lock().remove(&key);
    }
    r
}

/// Retries a failed set after 0.5 s, doubling per consecutive failure up to 5 minutes.
pub(crate) fn error_policy(ds: Arc<DaemonSet>, err: &Error, st: Arc<State>) -> Action {
    let n = {
        let mut f = st.failures.lock();
        let n = f.entry(key_of(&ds)).or_default();
        *n = n.saturating_add(1);
        *n
    };
    tracing::debug!(error = %err, "daemonset sync failed; will retry");
    let delay = Duration::from_millis(500).saturating_mul(1 << n.min(10).saturating_sub(1));
    Action::requeue(delay.min(Duration::from_secs(300)))
}

fn api_err(key: &str, action: impl Into<String>) -> impl FnOnce(kube::Error) -> Error {
    let (key, action) = (key.to_string(), action.into());
    move |source| Error::Api { key, action, source }
}

/// An int-or-percent of `total`, rounded up (upstream's maxSurge and maxUnavailable for
/// DaemonSets).
pub(crate) fn scaled_up(v: Option<&IntOrString>, total: i32, default: i32) -> i32 {
    match v {
        None => default,
        Some(IntOrString::Int(i)) => *i,
        Some(IntOrString::String(s)) => s
            .strip_suffix('%')
            .and_then(|p| p.parse::<i64>().ok())
            .map_or(default, |p| {
                i32::try_from((p * i64::from(total) + 99) / 100).unwrap_or(i32::MAX)
            }),
    }
}

async fn sync(ds: &DaemonSet, st: &State, key: &str) -> Result<Action, Error> {
    let Some(spec) = ds.spec.as_ref() else {
        return Ok(Action::await_change());
    };
    let selector = match Selector::try_from(spec.selector.clone()) {
        Ok(s) if !s.selects_all() => s,
        _ => {
            tracing::warn!(%key, "invalid or empty selector; nothing to do");
            return Ok(Action::await_change());
        }
    };
    let ns = ds.namespace().unwrap_or_default();
    let uid = ds.uid().unwrap_or_default();
    let deleting = ds.meta().deletion_timestamp.is_some();
    let now = Timestamp::now();
    let min_ready = spec.min_ready_seconds.unwrap_or(0);

    let all_pods: Vec<Arc<Pod>> = st
        .pods
        .state()
        .into_iter()
        .filter(|p| p.metadata.namespace.as_deref() == Some(ns.as_str()))
        .collect();
    let pods = claim(st, ds, &selector, deleting, key, &all_pods).await?;
    let revisions = claim_revisions(st, ds, &selector, deleting, key).await?;
    let (cur, hash) = settle_revision(st, ds, &revisions, key).await?;

    let node_list = st.nodes.state();
    let template_spec = spec.template.spec.clone().unwrap_or_default();
    let mut view = Nodes {
        fit: node_list
            .iter()
            .map(|n| (n.name_any(), fit(&template_spec, n)))
            .collect(),
        pods: BTreeMap::new(),
    };
    for p in &pods {
        if let Some(node) = target_node(p) {
            view.pods.entry(node).or_default().push(p);
        }
    }

    let mut changes = Changes::default();
    let mut retry_failed = None;
    let mut failure = None;
    let in_sync = st.expectations.satisfied(
        &uid,
        |name| all_pods.iter().any(|p| p.metadata.name.as_deref() == Some(name)),
        |u| {
            all_pods
                .iter()
                .any(|p| p.metadata.uid.as_deref() == Some(u) && !is_terminating(p))
        },
        Instant::now(),
    );
    if in_sync && !deleting {
        let strategy = spec.update_strategy.as_ref();
        let rolling = strategy.is_none_or(|s| s.type_.as_deref() != Some("OnDelete"));
        let ru = strategy.and_then(|s| s.rolling_update.as_ref());
        let desired = i32::try_from(view.fit.values().filter(|f| f.should_run).count()).unwrap_or(i32::MAX);
        let max_surge = if rolling {
            scaled_up(ru.and_then(|r| r.max_surge.as_ref()), desired, 0)
        } else {
            0
        };
        let mut max_unavailable = scaled_up(ru.and_then(|r| r.max_unavailable.as_ref()), desired, 1);
        if desired > 0 && max_unavailable == 0 && max_surge == 0 {
            max_unavailable = 1;
        }
        changes = plan::manage(&view, &hash, max_surge > 0, min_ready, now);
        retry_failed = kill_failed(st, ds, &mut changes);
        if changes.is_empty() && rolling {
            changes = plan::rolling_update(&view, &hash, max_surge, max_unavailable, min_ready, now);
        }
        if let Err(e) = carry_out(st, ds, &changes, &hash, &pods, key).await {
            failure = Some(e);
        }
    }

    let generation = ds.metadata.generation.unwrap_or(0);
    let new = status::calculate(ds.status.as_ref(), &view, &hash, generation, min_ready, now);
    if ds.status.as_ref() != Some(&new) {
        let mut updated = ds.clone();
        updated.status = Some(new.clone());
        let api: Api<DaemonSet> = Api::namespaced(st.client.clone(), &ns);
        api.replace_status(&ds.name_any(), &PostParams::default(), &updated)
            .await
            .map_err(api_err(key, "updating status"))?;
    }
    trim_history(st, ds, &revisions, &cur, &pods, key).await;
    if let Some(e) = failure {
        return Err(e);
    }
    let settled = in_sync
        && changes.is_empty()
        && new.updated_number_scheduled == Some(new.desired_number_scheduled)
        && new.number_available == Some(new.desired_number_scheduled)
        && new.number_misscheduled == 0
        && pods
            .iter()
            .all(|p| !is_terminating(p) && is_available(p, min_ready, now));
    let after = if settled { RESYNC } else { WAIT };
    Ok(Action::requeue(
        retry_failed.map_or(after, |r: Duration| after.min(r)),
    ))
}

/// Moves the failed pods the back-off lets go into the deletes, with upstream's
/// `FailedDaemonPod` warning for each; returns when to look again for the ones held back.
fn kill_failed(st: &State, ds: &DaemonSet, changes: &mut Changes) -> Option<Duration> {
    let failed = std::mem::take(&mut changes.failed);
    if failed.is_empty() {
        return None;
    }
    let uid = ds.uid().unwrap_or_default();
    let admitted = st.failed_pods.lock().admit(&uid, &failed, Instant::now());
    let ns = ds.namespace().unwrap_or_default();
    for f in admitted.kill {
        st.events.warning(
            ds.object_ref(&()),
            "FailedDaemonPod",
            "Delete",
            format!(
                "Found failed daemon pod {ns}/{} on node {}, will try to kill it",
                f.pod, f.node
            ),
        );
        changes.delete.push(f.pod);
    }
    if let Some(left) = admitted.retry_in {
        tracing::debug!(key = %key_of(ds), ?left, "replacing failed daemon pods is backing off");
    }
    admitted.retry_in
}

/// The set's pods: owned ones and adopted orphans with its labels.
async fn claim(
    st: &State,
    ds: &DaemonSet,
    selector: &Selector,
    deleting: bool,
    key: &str,
    all: &[Arc<Pod>],
) -> Result<Vec<Pod>, Error> {
    let uid = ds.uid().unwrap_or_default();
    let api: Api<Pod> = Api::namespaced(st.client.clone(), &ds.namespace().unwrap_or_default());
    let mut out = Vec::new();
    for p in all {
        match classify(&uid, deleting, Some(selector), &p.metadata) {
            Claim::Owned => out.push(p.as_ref().clone()),
            Claim::Adopt => {
                let Some(owner) = controller_ref(ds) else { continue };
                let patch = adopt_patch(&owner, p.metadata.uid.as_deref().unwrap_or_default());
                match api
                    .patch(&p.name_any(), &PatchParams::default(), &Patch::Strategic(patch))
                    .await
                {
                    Ok(adopted) => out.push(adopted),
                    Err(e) if is_not_found(&e) => {}
                    Err(e) => return Err(api_err(key, format!("adopting pod {}", p.name_any()))(e)),
                }
            }
            _ => {}
        }
    }
    Ok(out)
}

/// The set's revisions: owned ones and adopted orphans with its labels.
async fn claim_revisions(
    st: &State,
    ds: &DaemonSet,
    selector: &Selector,
    deleting: bool,
    key: &str,
) -> Result<Vec<ControllerRevision>, Error> {
    let ns = ds.namespace().unwrap_or_default();
    let uid = ds.uid().unwrap_or_default();
    let api: Api<ControllerRevision> = Api::namespaced(st.client.clone(), &ns);
    let mut out = Vec::new();
    for r in st.revisions.state() {
        if r.metadata.namespace.as_deref() != Some(ns.as_str()) {
            continue;
        }
        match classify(&uid, deleting, Some(selector), &r.metadata) {
            Claim::Owned => out.push(r.as_ref().clone()),
            Claim::Adopt => {
                let Some(owner) = controller_ref(ds) else { continue };
                let patch = adopt_patch(&owner, r.metadata.uid.as_deref().unwrap_or_default());
                match api
                    .patch(&r.name_any(), &PatchParams::default(), &Patch::Strategic(patch))
                    .await
                {
                    Ok(adopted) => out.push(adopted),
                    Err(e) if is_not_found(&e) => {}
                    Err(e) => return Err(api_err(key, "adopting a revision")(e)),
                }
            }
            _ => {}
        }
    }
    Ok(out)
}

/// The hash a revision stands for (its label, else its name's suffix).
fn hash_of(rev: &ControllerRevision) -> String {
    let labels = rev.metadata.labels.as_ref();
    labels
        .and_then(|l| l.get(POD_REVISION_LABEL).or_else(|| l.get(history::HASH_LABEL)))
        .cloned()
        .unwrap_or_else(|| {
            rev.name_any()
                .rsplit_once('-')
                .map(|(_, h)| h.to_string())
                .unwrap_or_default()
        })
}

/// The revision of the current template (created, or renumbered when an older template
/// came back) and its hash; duplicates of it are deleted (upstream's `constructHistory`).
async fn settle_revision(
    st: &State,
    ds: &DaemonSet,
    revisions: &[ControllerRevision],
    key: &str,
) -> Result<(ControllerRevision, String), Error> {
    let ns = ds.namespace().unwrap_or_default();
    let template = ds.spec.as_ref().map(|s| s.template.clone()).unwrap_or_default();
    let data = history::template_patch(&template);
    let refs: Vec<&ControllerRevision> = revisions.iter().collect();
    let writer = Revisions::new(st.client.clone(), &ns);
    let (choice, duplicates) = history::choose(&refs, &data);
    for d in duplicates {
        writer
            .delete(&d.name_any())
            .await
            .map_err(api_err(key, "deleting a duplicate revision"))?;
    }
    let cur = match choice {
        Choice::Existing(r) => r.clone(),
        Choice::Renumber(r, n) => writer
            .renumber(&r.name_any(), n)
            .await
            .map_err(api_err(key, "renumbering a revision"))?,
        Choice::Create(n) => {
            let collisions = ds.status.as_ref().and_then(|s| s.collision_count);
            let hash = history::template_hash(&template, collisions);
            let Some(owner) = controller_ref(ds) else {
                return Err(Error::Collision { key: key.into() });
            };
            let mut labels = template
                .metadata
                .as_ref()
                .and_then(|m| m.labels.clone())
                .unwrap_or_default();
            labels.insert(POD_REVISION_LABEL.into(), hash.clone());
            let rev = history::new_revision(&ds.name_any(), &ns, owner, &labels, data, n, &hash);
            match writer
                .create(&rev)
                .await
                .map_err(api_err(key, "creating a revision"))?
            {
                Created::Ok(r) => *r,
                Created::Collision => {
                    let api: Api<DaemonSet> = Api::namespaced(st.client.clone(), &ns);
                    let patch =
                        json!({"status": {"collisionCount": collisions.unwrap_or(0).saturating_add(1)}});
                    api.patch_status(&ds.name_any(), &PatchParams::default(), &Patch::Merge(patch))
                        .await
                        .map_err(api_err(key, "raising the collision count"))?;
                    return Err(Error::Collision { key: key.into() });
                }
            }
        }
    };
    let hash = hash_of(&cur);
    Ok((cur, hash))
}

/// Creates and deletes pods as planned, recording expectations and events.
async fn carry_out(
    st: &State,
    ds: &DaemonSet,
    changes: &Changes,
    hash: &str,
    pods: &[Pod],
    key: &str,
) -> Result<(), Error> {
    let ns = ds.namespace().unwrap_or_default();
    let uid = ds.uid().unwrap_or_default();
    let name = ds.name_any();
    let api: Api<Pod> = Api::namespaced(st.client.clone(), &ns);
    for node in &changes.create_on {
        let pod = daemon_pod(ds, hash, node);
        match api.create(&PostParams::default(), &pod).await {
            Ok(created) => {
                st.expectations
                    .record(&uid, Some(created.name_any()), None, Instant::now());
                st.events.normal(
                    ds.object_ref(&()),
                    "SuccessfulCreate",
                    "Create",
                    format!("Created pod: {}", created.name_any()),
                );
            }
            Err(e) => {
                st.events.warning(
                    ds.object_ref(&()),
                    "FailedCreate",
                    "Create",
                    format!("Error creating: {e}"),
                );
                return Err(api_err(key, format!("creating a pod of {name} on {node}"))(e));
            }
        }
    }
    for victim in &changes.delete {
        let uid_of = pods
            .iter()
            .find(|p| p.metadata.name.as_deref() == Some(victim.as_str()))
            .and_then(|p| p.uid());
        let dp = DeleteParams {
            preconditions: uid_of.clone().map(|u| Preconditions {
                uid: Some(u),
                resource_version: None,
            }),
            ..Default::default()
        };
        match api.delete(victim, &dp).await {
            Ok(_) => {
                st.expectations.record(&uid, None, uid_of, Instant::now());
                st.events.normal(
                    ds.object_ref(&()),
                    "SuccessfulDelete",
                    "Delete",
                    format!("Deleted pod: {victim}"),
                );
            }
            Err(e) if is_not_found(&e) || crate::apierror::code(&e) == Some(409) => {}
            Err(e) => return Err(api_err(key, format!("deleting pod {victim}"))(e)),
        }
    }
    Ok(())
}

/// The pod of `ds` for `node`: the template with the revision label, the daemon
/// tolerations and node affinity pinning it to the node.
fn daemon_pod(ds: &DaemonSet, hash: &str, node: &str) -> Pod {
    let template = ds.spec.as_ref().map(|s| s.template.clone()).unwrap_or_default();
    let meta = template.metadata.unwrap_or_default();
    let mut labels = meta.labels.unwrap_or_default();
    labels.insert(POD_REVISION_LABEL.into(), hash.into());
    let mut spec = template.spec.unwrap_or_default();
    add_daemon_tolerations(&mut spec);
    spec.affinity = Some(pin_to_node(spec.affinity.take(), node));
    Pod {
        metadata: ObjectMeta {
            generate_name: Some(format!("{}-", ds.name_any())),
            namespace: ds.namespace(),
            labels: Some(labels),
            annotations: meta.annotations,
            finalizers: meta.finalizers,
            owner_references: controller_ref(ds).map(|o| vec![o]),
            ..Default::default()
        },
        spec: Some(spec),
        status: None,
    }
}

/// Deletes the oldest revisions no pod uses beyond `revisionHistoryLimit`.
async fn trim_history(
    st: &State,
    ds: &DaemonSet,
    revisions: &[ControllerRevision],
    cur: &ControllerRevision,
    pods: &[Pod],
    key: &str,
) {
    let limit = ds
        .spec
        .as_ref()
        .and_then(|s| s.revision_history_limit)
        .unwrap_or(10);
    let live: HashSet<&str> = pods.iter().map(revision_of).collect();
    let mut keep: HashSet<String> = revisions
        .iter()
        .filter(|r| live.contains(hash_of(r).as_str()))
        .map(ResourceExt::name_any)
        .collect();
    keep.insert(cur.name_any());
    let refs: Vec<&ControllerRevision> = revisions
        .iter()
        .filter(|r| r.metadata.name != cur.metadata.name)
        .collect();
    let writer = Revisions::new(st.client.clone(), &ds.namespace().unwrap_or_default());
    for r in history::to_prune(&refs, &keep, limit) {
        if let Err(e) = writer.delete(&r.name_any()).await {
            tracing::debug!(%key, error = %e, "cannot delete an old revision");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentages_round_up() {
        assert_eq!(scaled_up(None, 10, 1), 1);
        assert_eq!(scaled_up(Some(&IntOrString::Int(3)), 10, 1), 3);
        assert_eq!(scaled_up(Some(&IntOrString::String("25%".into())), 10, 1), 3);
        assert_eq!(scaled_up(Some(&IntOrString::String("0%".into())), 10, 1), 0);
    }

    #[test]
    fn daemon_pods_are_pinned_and_labelled() {
        let mut ds = DaemonSet::default();
        ds.metadata.name = Some("agent".into());
        ds.metadata.uid = Some("u".into());
        let p = daemon_pod(&ds, "h1", "node-a");
        assert_eq!(p.metadata.generate_name.as_deref(), Some("agent-"));
        assert_eq!(revision_of(&p), "h1");
        assert_eq!(target_node(&p).as_deref(), Some("node-a"));
        assert_eq!(p.spec.and_then(|s| s.tolerations).map(|t| t.len()), Some(6));
    }
}
