//! One sync of a StatefulSet: claim its pods and revisions, settle the current and update
//! revisions, carry out the plan (`plan`) through the API, write the status, trim the
//! history, and say when to look again.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::time::Duration;

use k8s_openapi::{
    api::{
        apps::v1::{ControllerRevision, StatefulSet},
        core::v1::{PersistentVolumeClaim, Pod, PodTemplateSpec},
    },
    apimachinery::pkg::apis::meta::v1::OwnerReference,
    jiff::Timestamp,
};
use kube::{
    Api, Resource, ResourceExt,
    api::{DeleteParams, Patch, PatchParams, PostParams, Preconditions},
    core::Selector,
    runtime::{
        controller::Action,
        reflector::{ObjectRef, Store},
    },
};
use parking_lot::Mutex;
use serde_json::json;

use super::claim;
use super::identity::{self, claims, in_range, new_pod};
use super::plan::{self, Revision, Step, Strategy, Why};
use super::pods::{self, ordinal_in};
use super::retention::{Policy, desired_owners, owner};
use super::status::{self, Facts};
use crate::apierror::{is_already_exists, is_not_found};
use crate::history::{self, Choice, Created, Revisions};
use crate::replicaset::{Claim, Events, adopt_patch, classify, controller_ref, release_patch};

/// Every set is looked at again this often even without events.
const RESYNC: Duration = Duration::from_secs(30);
/// How soon a set waiting for its pods (starting, terminating) is looked at again: pod
/// deletions are not announced by the shared informers.
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
    /// The update revision's name is taken by another revision; the collision count was
    /// raised.
    #[error("{key}: revision name collision")]
    Collision {
        /// namespace/name
        key: String,
    },
    /// A pod the set does not own (e.g. one it released) has the name of a missing
    /// ordinal: identity is by name, so the set waits for it to go, as upstream does.
    #[error("{key}: pod {pod} exists but is not owned by the set")]
    NameTaken {
        /// namespace/name
        key: String,
        /// The pod's name.
        pod: String,
    },
}

/// The controller's shared state.
pub(crate) struct State {
    client: kube::Client,
    pods: Store<Pod>,
    claims: Store<PersistentVolumeClaim>,
    revisions: Store<ControllerRevision>,
    events: Events,
    failures: Mutex<HashMap<String, u32>>,
}

impl State {
    /// State over the shared caches.
    pub(crate) fn new(
        client: kube::Client,
        pods: Store<Pod>,
        claims: Store<PersistentVolumeClaim>,
        revisions: Store<ControllerRevision>,
        identity: &str,
    ) -> Self {
        Self {
            events: Events::new(client.clone(), "statefulset-controller", identity),
            client,
            pods,
            claims,
            revisions,
            failures: Mutex::default(),
        }
    }
}

fn key_of(set: &StatefulSet) -> String {
    format!("{}/{}", set.namespace().unwrap_or_default(), set.name_any())
}

/// Reconciles one set (the kube-runtime entry point).
pub(crate) async fn reconcile(set: Arc<StatefulSet>, st: Arc<State>) -> Result<Action, Error> {
    let key = key_of(&set);
    let r = Sync::new(&set, &st, key.clone()).run().await;
    if r.is_ok() {
        st.failures.lock().remove(&key);
    }
    r
}

/// Retries a failed set after 0.5 s, doubling per consecutive failure up to 5 minutes.
pub(crate) fn error_policy(set: Arc<StatefulSet>, err: &Error, st: Arc<State>) -> Action {
    let n = {
        let mut f = st.failures.lock();
        let n = f.entry(key_of(&set)).or_default();
        *n = n.saturating_add(1);
        *n
    };
    tracing::debug!(error = %err, "statefulset sync failed; will retry");
    let delay = Duration::from_millis(500).saturating_mul(1 << n.min(10).saturating_sub(1));
    Action::requeue(delay.min(Duration::from_secs(300)))
}

struct Sync<'a> {
    set: &'a StatefulSet,
    st: &'a State,
    key: String,
    ns: String,
    name: String,
    uid: String,
    now: Timestamp,
}

impl<'a> Sync<'a> {
    fn new(set: &'a StatefulSet, st: &'a State, key: String) -> Self {
        Self {
            set,
            st,
            key,
            ns: set.namespace().unwrap_or_default(),
            name: set.name_any(),
            uid: set.uid().unwrap_or_default(),
            now: Timestamp::now(),
        }
    }

    fn api_err(&self, action: impl Into<String>) -> impl FnOnce(kube::Error) -> Error + '_ {
        let action = action.into();
        move |source| Error::Api {
            key: self.key.clone(),
            action,
            source,
        }
    }

    async fn run(&self) -> Result<Action, Error> {
        let Some(spec) = self.set.spec.as_ref() else {
            return Ok(Action::await_change());
        };
        let selector = match Selector::try_from(spec.selector.clone()) {
            Ok(s) if !s.selects_all() => s,
            _ => {
                tracing::warn!(key = %self.key, "invalid or empty selector; nothing to do");
                return Ok(Action::await_change());
            }
        };
        let deleting = self.set.meta().deletion_timestamp.is_some();
        let pods = self.claim_pods(&selector, deleting).await?;
        let revisions = self.claim_revisions(&selector, deleting).await?;
        let revs: Vec<&ControllerRevision> = revisions.iter().collect();
        let (current, update, collisions) = self.settle_revisions(&revs).await?;
        let current_name = current.metadata.name.clone().unwrap_or_default();
        let update_name = update.metadata.name.clone().unwrap_or_default();
        let pod_refs: Vec<&Pod> = pods
            .iter()
            .filter(|p| ordinal_in(&self.name, p).is_some())
            .collect();

        let mut failure = None;
        if !deleting {
            let input = self.plan_input(&pod_refs, &current_name, &update_name);
            let steps = plan::plan(&input);
            let templates = [
                (Revision::Current, history::template_of(&current)),
                (Revision::Update, history::template_of(&update)),
            ];
            for step in steps {
                if let Err(e) = self
                    .carry_out(&step, &templates, &current_name, &update_name, &pods)
                    .await
                {
                    failure = Some(e);
                    break;
                }
            }
        }

        self.write_status(&pod_refs, &current_name, &update_name, collisions)
            .await?;
        let mut revs_after = revisions.clone();
        for r in [&current, &update] {
            if !revs_after.iter().any(|x| x.metadata.name == r.metadata.name) {
                revs_after.push(r.clone());
            }
        }
        self.trim_history(&revs_after, &pods, &current_name, &update_name)
            .await;
        if let Some(e) = failure {
            return Err(e);
        }
        Ok(Action::requeue(self.next_look(&pod_refs, &update_name)))
    }

    /// Pods of the set (`claim::decide`): owned ones, and orphans with the set's labels
    /// and one of its pod names, adopted; owned pods that stopped matching are released.
    async fn claim_pods(&self, selector: &Selector, deleting: bool) -> Result<Vec<Pod>, Error> {
        let candidates: Vec<Arc<Pod>> = self
            .st
            .pods
            .state()
            .into_iter()
            .filter(|p| p.metadata.namespace.as_deref() == Some(self.ns.as_str()))
            .collect();
        let api: Api<Pod> = Api::namespaced(self.st.client.clone(), &self.ns);
        let mut out = Vec::new();
        for p in candidates {
            let pod_uid = p.metadata.uid.as_deref().unwrap_or_default();
            match claim::decide(&self.name, &self.uid, deleting, selector, &p) {
                Claim::Owned => out.push(p.as_ref().clone()),
                Claim::Adopt => {
                    let Some(owner) = controller_ref(self.set) else {
                        continue;
                    };
                    let patch = adopt_patch(&owner, pod_uid);
                    match api
                        .patch(&p.name_any(), &PatchParams::default(), &Patch::Strategic(patch))
                        .await
                    {
                        Ok(adopted) => out.push(adopted),
                        Err(e) if is_not_found(&e) => {}
                        Err(e) => return Err(self.api_err(format!("adopting pod {}", p.name_any()))(e)),
                    }
                }
                Claim::Release => {
                    let patch = release_patch(&self.uid, pod_uid);
                    match api
                        .patch(&p.name_any(), &PatchParams::default(), &Patch::Strategic(patch))
                        .await
                    {
                        Ok(_) => {}
                        // Gone, recreated under the same name, or already released.
                        Err(e) if matches!(crate::apierror::code(&e), Some(404 | 409 | 422)) => {}
                        Err(e) => return Err(self.api_err(format!("releasing pod {}", p.name_any()))(e)),
                    }
                }
                Claim::Ignore => {}
            }
        }
        Ok(out)
    }

    /// The set's revisions: owned ones and adopted orphans with its labels.
    async fn claim_revisions(
        &self,
        selector: &Selector,
        deleting: bool,
    ) -> Result<Vec<ControllerRevision>, Error> {
        let api: Api<ControllerRevision> = Api::namespaced(self.st.client.clone(), &self.ns);
        let mut out = Vec::new();
        for r in self.st.revisions.state() {
            if r.metadata.namespace.as_deref() != Some(self.ns.as_str()) {
                continue;
            }
            match classify(&self.uid, deleting, Some(selector), &r.metadata) {
                Claim::Owned => out.push(r.as_ref().clone()),
                Claim::Adopt => {
                    let Some(owner) = controller_ref(self.set) else {
                        continue;
                    };
                    let patch = adopt_patch(&owner, r.metadata.uid.as_deref().unwrap_or_default());
                    match api
                        .patch(&r.name_any(), &PatchParams::default(), &Patch::Strategic(patch))
                        .await
                    {
                        Ok(adopted) => out.push(adopted),
                        Err(e) if is_not_found(&e) => {}
                        Err(e) => return Err(self.api_err("adopting a revision")(e)),
                    }
                }
                _ => {}
            }
        }
        Ok(out)
    }

    /// The current and update revisions (creating or renumbering the update revision) and
    /// the collision count.
    async fn settle_revisions(
        &self,
        revs: &[&ControllerRevision],
    ) -> Result<(ControllerRevision, ControllerRevision, i32), Error> {
        let status = self.set.status.as_ref();
        let mut collisions = status.and_then(|s| s.collision_count).unwrap_or(0);
        let template = self
            .set
            .spec
            .as_ref()
            .map(|s| s.template.clone())
            .unwrap_or_default();
        let data = history::template_patch(&template);
        let writer = Revisions::new(self.st.client.clone(), &self.ns);
        let update = match history::choose(revs, &data).0 {
            Choice::Existing(r) => r.clone(),
            Choice::Renumber(r, n) => writer
                .renumber(&r.name_any(), n)
                .await
                .map_err(self.api_err("renumbering a revision"))?,
            Choice::Create(n) => {
                let bytes = serde_json::to_vec(&data).unwrap_or_default();
                let hash = history::hash(&bytes, Some(collisions));
                let Some(owner) = controller_ref(self.set) else {
                    return Err(Error::Collision {
                        key: self.key.clone(),
                    });
                };
                let labels = template
                    .metadata
                    .as_ref()
                    .and_then(|m| m.labels.clone())
                    .unwrap_or_default();
                let rev = history::new_revision(&self.name, &self.ns, owner, &labels, data, n, &hash);
                match writer
                    .create(&rev)
                    .await
                    .map_err(self.api_err("creating a revision"))?
                {
                    Created::Ok(r) => *r,
                    Created::Collision => {
                        collisions = collisions.saturating_add(1);
                        self.write_collision_count(collisions).await?;
                        return Err(Error::Collision {
                            key: self.key.clone(),
                        });
                    }
                }
            }
        };
        let current_name = status.and_then(|s| s.current_revision.clone());
        let current = revs
            .iter()
            .find(|r| r.metadata.name.is_some() && r.metadata.name == current_name)
            .map_or_else(|| update.clone(), |r| (*r).clone());
        Ok((current, update, collisions))
    }

    async fn write_collision_count(&self, n: i32) -> Result<(), Error> {
        let api: Api<StatefulSet> = Api::namespaced(self.st.client.clone(), &self.ns);
        let patch = json!({"status": {"collisionCount": n}});
        api.patch_status(&self.name, &PatchParams::default(), &Patch::Merge(patch))
            .await
            .map(|_| ())
            .map_err(self.api_err("raising the collision count"))
    }

    fn plan_input<'p>(&self, pods: &[&'p Pod], current: &'p str, update: &'p str) -> plan::Input<'p>
    where
        'a: 'p,
    {
        let spec = self.set.spec.as_ref();
        let replicas = identity::replicas(self.set);
        let strategy = match spec.and_then(|s| s.update_strategy.as_ref()) {
            Some(u) if u.type_.as_deref() == Some("OnDelete") => Strategy::OnDelete,
            u => {
                let ru = u.and_then(|u| u.rolling_update.as_ref());
                Strategy::Rolling {
                    partition: ru.and_then(|r| r.partition).unwrap_or(0),
                    max_unavailable: ru
                        .and_then(|r| r.max_unavailable.as_ref())
                        .map(|m| scaled_down_value(m, replicas).max(1)),
                }
            }
        };
        let policy = Policy::of(self.set);
        let set_ref = self.set_owner();
        let mut stale = HashSet::new();
        let mut to_fix = HashSet::new();
        let start = identity::start_ordinal(self.set);
        let present: HashMap<i32, &Pod> = pods
            .iter()
            .filter_map(|p| ordinal_in(&self.name, p).map(|o| (o, *p)))
            .collect();
        for ordinal in start..start.saturating_add(replicas.max(0)) {
            if present.contains_key(&ordinal) {
                continue;
            }
            let stale_claim = claims(self.set, ordinal).iter().any(|(_, c)| {
                self.cached_claim(c).is_some_and(|have| {
                    have.metadata.deletion_timestamp.is_some()
                        || have.owner_references().iter().any(|o| o.kind == "Pod")
                })
            });
            if stale_claim {
                stale.insert(ordinal);
            }
        }
        for (ordinal, p) in &present {
            let pod_ref = pod_owner(p);
            let scaled_down = !in_range(self.set, *ordinal);
            let wrong = claims(self.set, *ordinal)
                .iter()
                .any(|(_, c)| match self.cached_claim(c) {
                    None => !scaled_down,
                    Some(have) => {
                        have.metadata.deletion_timestamp.is_none()
                            && desired_owners(
                                have.owner_references(),
                                policy,
                                &set_ref,
                                Some(&pod_ref),
                                scaled_down,
                            )
                            .is_some()
                    }
                });
            if wrong {
                to_fix.insert(*ordinal);
            }
        }
        plan::Input {
            set: self.set.metadata.name.as_deref().unwrap_or_default(),
            replicas,
            start,
            parallel: spec.and_then(|s| s.pod_management_policy.as_deref()) == Some("Parallel"),
            pods: pods.to_vec(),
            current,
            update,
            strategy,
            min_ready_seconds: spec.and_then(|s| s.min_ready_seconds).unwrap_or(0),
            now: self.now,
            stale_claims: stale,
            claims_to_fix: to_fix,
        }
    }

    fn set_owner(&self) -> OwnerReference {
        owner("apps/v1", "StatefulSet", &self.name, &self.uid)
    }

    fn cached_claim(&self, c: &PersistentVolumeClaim) -> Option<Arc<PersistentVolumeClaim>> {
        let r = ObjectRef::new(c.metadata.name.as_deref().unwrap_or_default()).within(&self.ns);
        self.st.claims.get(&r)
    }

    async fn carry_out(
        &self,
        step: &Step,
        templates: &[(Revision, Option<PodTemplateSpec>); 2],
        current: &str,
        update: &str,
        pods: &[Pod],
    ) -> Result<(), Error> {
        match step {
            Step::Create { ordinal, revision } => {
                let template = templates
                    .iter()
                    .find(|(r, _)| r == revision)
                    .and_then(|(_, t)| t.clone())
                    .or_else(|| self.set.spec.as_ref().map(|s| s.template.clone()))
                    .unwrap_or_default();
                let rev_name = if *revision == Revision::Current {
                    current
                } else {
                    update
                };
                self.ensure_claims(*ordinal, None).await?;
                let pod = new_pod(self.set, &template, rev_name, *ordinal, controller_ref(self.set));
                let name = pod.name_any();
                let api: Api<Pod> = Api::namespaced(self.st.client.clone(), &self.ns);
                match api.create(&PostParams::default(), &pod).await {
                    Ok(_) => self.event(
                        "SuccessfulCreate",
                        "Create",
                        format!("create Pod {name} in StatefulSet {} successful", self.name),
                    ),
                    Err(e) if is_already_exists(&e) => {
                        // Our own create the cache has yet to show is fine; a pod the set
                        // does not own under that name holds the ordinal up.
                        let cached = ObjectRef::new(&name).within(&self.ns);
                        if self.st.pods.get(&cached).is_some() {
                            return Err(Error::NameTaken {
                                key: self.key.clone(),
                                pod: name,
                            });
                        }
                    }
                    Err(e) => {
                        self.warn(
                            "FailedCreate",
                            "Create",
                            format!("create Pod {name} in StatefulSet {} failed error: {e}", self.name),
                        );
                        return Err(self.api_err(format!("creating pod {name}"))(e));
                    }
                }
            }
            Step::Delete { name, why, .. } => {
                let uid = pods
                    .iter()
                    .find(|p| p.metadata.name.as_deref() == Some(name))
                    .and_then(|p| p.uid());
                let api: Api<Pod> = Api::namespaced(self.st.client.clone(), &self.ns);
                let dp = DeleteParams {
                    preconditions: uid.map(|uid| Preconditions {
                        uid: Some(uid),
                        resource_version: None,
                    }),
                    ..Default::default()
                };
                match api.delete(name, &dp).await {
                    Ok(_) => {
                        let reason = if *why == Why::Finished {
                            "RecreatingFailedPod"
                        } else {
                            "SuccessfulDelete"
                        };
                        self.event(
                            reason,
                            "Delete",
                            format!("delete Pod {name} in StatefulSet {} successful", self.name),
                        );
                    }
                    Err(e) if is_not_found(&e) || crate::apierror::code(&e) == Some(409) => {}
                    Err(e) => return Err(self.api_err(format!("deleting pod {name}"))(e)),
                }
            }
            Step::FixIdentity { name, ordinal } => {
                let Some(p) = pods.iter().find(|p| p.metadata.name.as_deref() == Some(name)) else {
                    return Ok(());
                };
                let labels = identity::missing_identity(p, *ordinal);
                let api: Api<Pod> = Api::namespaced(self.st.client.clone(), &self.ns);
                let patch = json!({"metadata": {"labels": labels}});
                match api
                    .patch(name, &PatchParams::default(), &Patch::Merge(patch))
                    .await
                {
                    Ok(_) => {}
                    Err(e) if is_not_found(&e) => {}
                    Err(e) => return Err(self.api_err(format!("labelling pod {name}"))(e)),
                }
            }
            Step::FixClaims { name, ordinal } => {
                let pod = pods.iter().find(|p| p.metadata.name.as_deref() == Some(name));
                self.ensure_claims(*ordinal, pod).await?;
            }
        }
        Ok(())
    }

    /// Creates the missing claims of `ordinal` and gives existing ones the owners the
    /// retention policy asks for (`pod`: the pod using them, once it exists).
    async fn ensure_claims(&self, ordinal: i32, pod: Option<&Pod>) -> Result<(), Error> {
        let policy = Policy::of(self.set);
        let set_ref = self.set_owner();
        let pod_ref = pod.map(pod_owner);
        let scaled_down = !in_range(self.set, ordinal);
        let api: Api<PersistentVolumeClaim> = Api::namespaced(self.st.client.clone(), &self.ns);
        for (_, mut claim) in claims(self.set, ordinal) {
            let name = claim.name_any();
            match self.cached_claim(&claim) {
                None if scaled_down => {}
                None => {
                    let owners =
                        desired_owners(&[], policy, &set_ref, pod_ref.as_ref(), false).unwrap_or_default();
                    claim.metadata.owner_references = (!owners.is_empty()).then_some(owners);
                    match api.create(&PostParams::default(), &claim).await {
                        Ok(_) => self.event(
                            "SuccessfulCreate",
                            "Create",
                            format!(
                                "create Claim {name} Pod {} in StatefulSet {} success",
                                identity::pod_name(&self.name, ordinal),
                                self.name
                            ),
                        ),
                        Err(e) if is_already_exists(&e) => {}
                        Err(e) => return Err(self.api_err(format!("creating claim {name}"))(e)),
                    }
                }
                Some(have) if have.metadata.deletion_timestamp.is_none() => {
                    let Some(owners) = desired_owners(
                        have.owner_references(),
                        policy,
                        &set_ref,
                        pod_ref.as_ref(),
                        scaled_down,
                    ) else {
                        continue;
                    };
                    let patch = json!({"metadata": {
                        "ownerReferences": owners,
                        "resourceVersion": have.resource_version(),
                    }});
                    match api
                        .patch(&name, &PatchParams::default(), &Patch::Merge(patch))
                        .await
                    {
                        Ok(_) => {}
                        Err(e) if is_not_found(&e) => {}
                        Err(e) => return Err(self.api_err(format!("updating owners of claim {name}"))(e)),
                    }
                }
                Some(_) => {}
            }
        }
        Ok(())
    }

    async fn write_status(
        &self,
        pods: &[&Pod],
        current: &str,
        update: &str,
        collisions: i32,
    ) -> Result<(), Error> {
        let spec = self.set.spec.as_ref();
        let rolling = spec
            .and_then(|s| s.update_strategy.as_ref())
            .is_none_or(|u| u.type_.as_deref() != Some("OnDelete"));
        let facts = Facts {
            pods,
            generation: self.set.metadata.generation.unwrap_or(0),
            current,
            update,
            collision_count: collisions,
            min_ready_seconds: spec.and_then(|s| s.min_ready_seconds).unwrap_or(0),
            rolling,
            now: self.now,
        };
        let new = status::calculate(self.set.status.as_ref(), &facts);
        if self.set.status.as_ref() == Some(&new) {
            return Ok(());
        }
        let mut updated = self.set.clone();
        updated.status = Some(new);
        let api: Api<StatefulSet> = Api::namespaced(self.st.client.clone(), &self.ns);
        api.replace_status(&self.name, &PostParams::default(), &updated)
            .await
            .map(|_| ())
            .map_err(self.api_err("updating status"))
    }

    /// Deletes the oldest revisions no pod uses beyond `revisionHistoryLimit`.
    async fn trim_history(
        &self,
        revisions: &[ControllerRevision],
        pods: &[Pod],
        current: &str,
        update: &str,
    ) {
        let limit = self
            .set
            .spec
            .as_ref()
            .and_then(|s| s.revision_history_limit)
            .unwrap_or(10);
        let mut keep: HashSet<String> = pods.iter().map(|p| pods::revision_of(p).to_string()).collect();
        keep.insert(current.to_string());
        keep.insert(update.to_string());
        let refs: Vec<&ControllerRevision> = revisions.iter().collect();
        let writer = Revisions::new(self.st.client.clone(), &self.ns);
        for r in history::to_prune(&refs, &keep, limit) {
            if let Err(e) = writer.delete(&r.name_any()).await {
                tracing::debug!(key = %self.key, error = %e, "cannot delete an old revision");
            }
        }
    }

    /// Soon while pods are on their way (starting, terminating, not yet at the update
    /// revision, or not yet available), else the resync period.
    fn next_look(&self, pods: &[&Pod], update: &str) -> Duration {
        let min_ready = self
            .set
            .spec
            .as_ref()
            .and_then(|s| s.min_ready_seconds)
            .unwrap_or(0);
        let replicas = usize::try_from(identity::replicas(self.set).max(0)).unwrap_or(0);
        let settled = pods.len() == replicas
            && pods.iter().all(|p| {
                pods::is_running_and_ready(p)
                    && !pods::is_terminating(p)
                    && pods::is_available(p, min_ready, self.now)
                    && pods::revision_of(p) == update
            });
        if settled { RESYNC } else { WAIT }
    }

    fn event(&self, reason: &str, action: &str, note: String) {
        self.st
            .events
            .normal(self.set.object_ref(&()), reason, action, note);
    }

    fn warn(&self, reason: &str, action: &str, note: String) {
        self.st
            .events
            .warning(self.set.object_ref(&()), reason, action, note);
    }
}

/// A plain owner reference to a pod.
fn pod_owner(p: &Pod) -> OwnerReference {
    owner(
        "v1",
        "Pod",
        &p.name_any(),
        p.metadata.uid.as_deref().unwrap_or_default(),
    )
}

/// An int-or-percent resolved against `total`, rounding down (upstream's maxUnavailable
/// for StatefulSets).
pub(crate) fn scaled_down_value(
    v: &k8s_openapi::apimachinery::pkg::util::intstr::IntOrString,
    total: i32,
) -> i32 {
    use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;
    match v {
        IntOrString::Int(i) => *i,
        IntOrString::String(s) => s
            .strip_suffix('%')
            .and_then(|p| p.parse::<i64>().ok())
            .map_or(1, |p| {
                i32::try_from(p * i64::from(total) / 100).unwrap_or(i32::MAX)
            }),
    }
}
