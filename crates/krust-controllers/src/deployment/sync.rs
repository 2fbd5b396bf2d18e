//! The writes of a Deployment reconcile: finding or creating the new ReplicaSet with its
//! revision, scaling ReplicaSets, deleting surplus history, writing status. `Syncer`
//! keeps the Deployment and its ReplicaSets as last written, so each step decides on what
//! the previous one left.

use std::time::Duration;

use k8s_openapi::{
    api::apps::v1::{Deployment, DeploymentStatus, ReplicaSet, ReplicaSetSpec},
    apimachinery::pkg::apis::meta::v1::ObjectMeta,
    jiff::Timestamp,
};
use kube::{
    Api, Resource, ResourceExt,
    api::{DeleteParams, Patch, PatchParams, PostParams},
};
use serde_json::json;

use super::annotations::{
    REVISION, max_revision, replicas_annotations_need_update, set_new_rs_annotations,
    set_replicas_annotations,
};
use super::arith::{max_surge, new_rs_new_replicas};
use super::hash::{compute_hash, equal_ignore_hash, selector_with_hash, template_with_hash};
use super::progress::{
    FAILED_RS_CREATE, FOUND_NEW_RS, NEW_RS_CREATED, PROGRESSING, condition, has_progress_deadline,
    new_condition, set_condition,
};
use super::reconcile::{Error, State};
use super::rsutil::{by_creation, desired, size};
use crate::replicaset::{api_code, api_message, controller_of, controller_ref};

/// The state of one reconcile.
pub(crate) struct Syncer<'a> {
    pub(super) st: &'a State,
    /// The Deployment as last read or written.
    pub(super) d: Deployment,
    /// Its ReplicaSets as last read or written.
    pub(crate) replica_sets: Vec<ReplicaSet>,
    pub(super) key: String,
    pub(super) now: Timestamp,
    /// The soonest the Deployment should be looked at again.
    pub(super) requeue: Option<Duration>,
    rs_api: Api<ReplicaSet>,
    d_api: Api<Deployment>,
}

impl<'a> Syncer<'a> {
    /// A reconcile of `d` at `now`.
    pub(crate) fn new(st: &'a State, d: Deployment, key: String, now: Timestamp) -> Self {
        let ns = d.namespace().unwrap_or_default();
        Self {
            rs_api: Api::namespaced(st.client.clone(), &ns),
            d_api: Api::namespaced(st.client.clone(), &ns),
            st,
            d,
            replica_sets: Vec::new(),
            key,
            now,
            requeue: None,
        }
    }

    /// Wraps an API error with what was being done.
    pub(super) fn api_err<A: Into<String>>(&self, action: A) -> impl FnOnce(kube::Error) -> Error + use<A> {
        let (key, action) = (self.key.clone(), action.into());
        move |source| Error::Api { key, action, source }
    }

    /// Asks for another look after `after` (the earliest request wins).
    pub(super) fn requeue_after(&mut self, after: Duration) {
        self.requeue = Some(self.requeue.map_or(after, |r| r.min(after)));
    }

    /// The index of the new ReplicaSet (the oldest whose template matches the
    /// Deployment's) and of the old ones.
    pub(super) fn split(&self) -> (Option<usize>, Vec<usize>) {
        let template = self.d.spec.as_ref().map(|s| &s.template);
        let mut order: Vec<usize> = (0..self.replica_sets.len()).collect();
        order.sort_by(|a, b| by_creation(&self.replica_sets[*a], &self.replica_sets[*b]));
        let new = order.iter().copied().find(|i| {
            let t = self.replica_sets[*i]
                .spec
                .as_ref()
                .and_then(|s| s.template.as_ref());
            matches!((t, template), (Some(a), Some(b)) if equal_ignore_hash(a, b))
        });
        let old = (0..self.replica_sets.len()).filter(|i| Some(*i) != new).collect();
        (new, old)
    }

    /// References to the ReplicaSets at `idx`.
    pub(super) fn refs(&self, idx: &[usize]) -> Vec<&ReplicaSet> {
        idx.iter().map(|i| &self.replica_sets[*i]).collect()
    }

    /// Writes the status if it changed.
    pub(super) async fn write_status(&mut self, status: DeploymentStatus) -> Result<(), Error> {
        if self.d.status.as_ref() == Some(&status) {
            return Ok(());
        }
        let mut d = self.d.clone();
        d.status = Some(status);
        let name = d.name_any();
        self.d = self
            .d_api
            .replace_status(&name, &PostParams::default(), &d)
            .await
            .map_err(self.api_err("updating status"))?;
        Ok(())
    }

    /// Records the generation as observed (all a Deployment selecting everything gets).
    pub(crate) async fn observe_generation_only(&mut self) -> Result<(), Error> {
        let mut s = self.d.status.clone().unwrap_or_default();
        if s.observed_generation.unwrap_or(0) >= self.d.metadata.generation.unwrap_or(0) {
            return Ok(());
        }
        s.observed_generation = self.d.metadata.generation;
        self.write_status(s).await
    }

    /// Sets the Deployment's revision annotation (through the object, not its status).
    async fn set_deployment_revision(&mut self, revision: &str) -> Result<(), Error> {
        let current = self.d.metadata.annotations.as_ref().and_then(|a| a.get(REVISION));
        if current.map(String::as_str) == Some(revision) {
            return Ok(());
        }
        let patch = json!({"metadata": {"annotations": {REVISION: revision}}});
        let name = self.d.name_any();
        let updated = self
            .d_api
            .patch(&name, &PatchParams::default(), &Patch::Merge(patch))
            .await
            .map_err(self.api_err("setting the revision"))?;
        self.d.metadata = updated.metadata;
        Ok(())
    }

    /// Finds the new ReplicaSet and brings revisions up to date (creating the new
    /// ReplicaSet when `create` and it does not exist). Returns its index.
    pub(super) async fn sync_revision(&mut self, create: bool) -> Result<Option<usize>, Error> {
        let (new, old) = self.split();
        let new_revision = max_revision(&self.refs(&old)) + 1;
        if let Some(i) = new {
            let mut rs = self.replica_sets[i].clone();
            let min_ready = self.d.spec.as_ref().and_then(|s| s.min_ready_seconds);
            let spec = rs.spec.get_or_insert_with(Default::default);
            let min_ready_changed = spec.min_ready_seconds.unwrap_or(0) != min_ready.unwrap_or(0);
            spec.min_ready_seconds = min_ready;
            if set_new_rs_annotations(&self.d, &mut rs, new_revision, true) || min_ready_changed {
                let name = rs.name_any();
                self.replica_sets[i] = self
                    .rs_api
                    .replace(&name, &PostParams::default(), &rs)
                    .await
                    .map_err(self.api_err(format!("updating replica set {name}")))?;
            }
            let revision = self.replica_sets[i]
                .metadata
                .annotations
                .as_ref()
                .and_then(|a| a.get(REVISION).cloned())
                .unwrap_or_default();
            self.set_deployment_revision(&revision).await?;
            let status = self.d.status.clone().unwrap_or_default();
            if has_progress_deadline(&self.d) && condition(&status, PROGRESSING).is_none() {
                let msg = format!("Found new replica set \"{}\"", self.replica_sets[i].name_any());
                let mut s = status;
                set_condition(
                    &mut s,
                    new_condition(PROGRESSING, "True", FOUND_NEW_RS, msg, self.now),
                );
                self.write_status(s).await?;
            }
            return Ok(Some(i));
        }
        if !create {
            return Ok(None);
        }
        self.create_new_rs(&old, new_revision).await.map(Some)
    }

    /// The new ReplicaSet for the current template, named by its hash.
    fn new_rs_object(&self, old: &[usize], revision: i64) -> ReplicaSet {
        let spec = self.d.spec.clone().unwrap_or_default();
        let collision = self.d.status.as_ref().and_then(|s| s.collision_count);
        let hash = compute_hash(&spec.template, collision);
        let template = template_with_hash(&spec.template, &hash);
        let mut rs = ReplicaSet {
            metadata: ObjectMeta {
                name: Some(format!("{}-{hash}", self.d.name_any())),
                namespace: self.d.namespace(),
                owner_references: controller_ref(&self.d).map(|r| vec![r]),
                labels: template.metadata.as_ref().and_then(|m| m.labels.clone()),
                ..Default::default()
            },
            spec: Some(ReplicaSetSpec {
                replicas: Some(0),
                min_ready_seconds: spec.min_ready_seconds,
                selector: selector_with_hash(&spec.selector, &hash),
                template: Some(template),
            }),
            status: None,
        };
        let mut all = self.refs(old);
        all.push(&rs);
        let replicas = new_rs_new_replicas(&self.d, &all, &rs);
        if let Some(s) = rs.spec.as_mut() {
            s.replicas = Some(replicas);
        }
        set_new_rs_annotations(&self.d, &mut rs, revision, false);
        rs
    }

    async fn create_new_rs(&mut self, old: &[usize], revision: i64) -> Result<usize, Error> {
        let rs = self.new_rs_object(old, revision);
        let name = rs.name_any();
        let replicas = size(&rs);
        let (created, fresh) = match self.rs_api.create(&PostParams::default(), &rs).await {
            Ok(created) => (created, true),
            Err(e) if api_code(&e) == Some(409) => (self.existing_new_rs(&name).await?, false),
            Err(e) => {
                let msg = format!("Failed to create new replica set \"{name}\": {}", api_message(&e));
                if api_code(&e) != Some(403) || !msg.contains("being terminated") {
                    if has_progress_deadline(&self.d) {
                        let mut s = self.d.status.clone().unwrap_or_default();
                        set_condition(
                            &mut s,
                            new_condition(PROGRESSING, "False", FAILED_RS_CREATE, msg.clone(), self.now),
                        );
                        // The creation error is what gets reported.
                        let _ = self.write_status(s).await;
                    }
                    self.st
                        .events
                        .warning(self.d.object_ref(&()), FAILED_RS_CREATE, "Create", msg);
                }
                return Err(self.api_err(format!("creating replica set {name}"))(e));
            }
        };
        if fresh && replicas > 0 {
            self.st.events.normal(
                self.d.object_ref(&()),
                "ScalingReplicaSet",
                "Scale",
                format!("Scaled up replica set {name} from 0 to {replicas}"),
            );
        }
        self.replica_sets
            .retain(|r| r.metadata.uid != created.metadata.uid);
        self.replica_sets.push(created);
        self.set_deployment_revision(&revision.to_string()).await?;
        if fresh && has_progress_deadline(&self.d) {
            let mut s = self.d.status.clone().unwrap_or_default();
            let msg = format!("Created new replica set \"{name}\"");
            set_condition(
                &mut s,
                new_condition(PROGRESSING, "True", NEW_RS_CREATED, msg, self.now),
            );
            self.write_status(s).await?;
        }
        Ok(self.replica_sets.len() - 1)
    }

    /// The ReplicaSet already named like the new one: ours with our template (the cache
    /// had not shown it yet), or a collision, which raises the collision count.
    async fn existing_new_rs(&mut self, name: &str) -> Result<ReplicaSet, Error> {
        let rs = self
            .rs_api
            .get(name)
            .await
            .map_err(self.api_err(format!("reading replica set {name}")))?;
        let ours = controller_of(&rs.metadata).is_some_and(|r| Some(&r.uid) == self.d.metadata.uid.as_ref());
        let same = match (
            rs.spec.as_ref().and_then(|s| s.template.as_ref()),
            self.d.spec.as_ref(),
        ) {
            (Some(a), Some(b)) => equal_ignore_hash(a, &b.template),
            _ => false,
        };
        if ours && same {
            return Ok(rs);
        }
        let mut s = self.d.status.clone().unwrap_or_default();
        s.collision_count = Some(s.collision_count.unwrap_or(0).saturating_add(1));
        self.write_status(s).await?;
        Err(Error::Collision {
            key: self.key.clone(),
            name: name.to_string(),
        })
    }

    /// Scales the ReplicaSet at `i` to `to`, refreshing its replicas annotations. With
    /// `touch` the write happens even at the same size if the annotations are stale.
    /// Returns whether the size changed.
    pub(super) async fn scale(&mut self, i: usize, to: i32, touch: Option<&str>) -> Result<bool, Error> {
        let rs = &self.replica_sets[i];
        let from = size(rs);
        let resized = from != to;
        if touch.is_none() && !resized {
            return Ok(false);
        }
        let (want, max) = (desired(&self.d), desired(&self.d) + max_surge(&self.d));
        if !resized && !replicas_annotations_need_update(rs, want, max) {
            return Ok(false);
        }
        let op = touch.unwrap_or(if from < to { "up" } else { "down" });
        let mut copy = rs.clone();
        copy.spec.get_or_insert_with(Default::default).replicas = Some(to);
        set_replicas_annotations(&mut copy, want, max);
        let name = copy.name_any();
        self.replica_sets[i] = self
            .rs_api
            .replace(&name, &PostParams::default(), &copy)
            .await
            .map_err(self.api_err(format!("scaling replica set {name}")))?;
        if resized {
            self.st.events.normal(
                self.d.object_ref(&()),
                "ScalingReplicaSet",
                "Scale",
                format!("Scaled {op} replica set {name} from {from} to {to}"),
            );
        }
        Ok(resized)
    }

    /// The index of a ReplicaSet by uid.
    pub(super) fn index_of(&self, rs: &ReplicaSet) -> Option<usize> {
        self.replica_sets
            .iter()
            .position(|r| r.metadata.uid == rs.metadata.uid)
    }

    /// Deletes old ReplicaSets beyond the revision history limit.
    pub(super) async fn cleanup(&mut self, old: &[usize]) {
        let doomed: Vec<String> = super::cleanup::history_to_delete(&self.d, &self.refs(old))
            .iter()
            .map(|rs| rs.name_any())
            .collect();
        for name in doomed {
            match self.rs_api.delete(&name, &DeleteParams::default()).await {
                Ok(_) => self
                    .replica_sets
                    .retain(|r| r.metadata.name.as_deref() != Some(name.as_str())),
                Err(e) if api_code(&e) == Some(404) => {}
                Err(e) => {
                    tracing::warn!(key = %self.key, rs = %name, error = %e, "cannot delete old replica set")
                }
            }
        }
    }
}
