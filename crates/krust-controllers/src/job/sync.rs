//! One sync of a Job against the API: read the Job and its pods from the caches, decide
//! ([`super::decide`]), then write in upstream's order — delete and create pods, write the
//! status with newly finished pods as uncounted, remove their tracking finalizers, and
//! write the status again with them counted (and the terminal condition when due).

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use futures_util::future::join_all;
use k8s_openapi::api::batch::v1::{Job, JobStatus};
use k8s_openapi::api::core::v1::{ObjectReference, Pod};
use k8s_openapi::jiff::Timestamp;
use kube::{
    Api, ResourceExt,
    api::{DeleteParams, Patch, PatchParams, PostParams, Preconditions},
    runtime::reflector::Store,
};
use parking_lot::Mutex;
use serde_json::json;

use super::backoff::Record;
use super::decide::{Input, Note, Plan, decide, settle};
use super::expect::Expectations;
use super::pods::{self, TRACKING_FINALIZER};
use super::template;
use crate::apierror;
use crate::keyed::{self, Next};
use crate::replicaset::{Claim, Events, adopt_patch, classify, controller_of, controller_ref, ref_is};

/// The `spec.managedBy` value of Jobs this controller manages (also when unset).
const MANAGED_BY: &str = "kubernetes.io/job-controller";
/// How soon a Job waiting for its own writes to show up is looked at again.
const RECHECK: Duration = Duration::from_secs(2);

/// Failures of a sync (the key is retried with back-off).
#[derive(Debug, thiserror::Error)]
pub(crate) enum Error {
    /// An API call failed.
    #[error("{what}: {source}")]
    Api {
        /// What was being done.
        what: String,
        /// The API error.
        #[source]
        source: kube::Error,
    },
}

fn api_ctx(what: impl Into<String>) -> impl FnOnce(kube::Error) -> Error {
    let what = what.into();
    move |source| Error::Api { what, source }
}

/// The controller's shared state.
pub(crate) struct State {
    pub client: kube::Client,
    pub jobs: Store<Job>,
    pub pods: Store<Pod>,
    pub events: Events,
    pub expectations: Expectations,
    /// Back-off records by Job uid.
    pub backoff: Mutex<HashMap<String, Record>>,
}

fn reference(job: &Job) -> ObjectReference {
    ObjectReference {
        api_version: Some("batch/v1".into()),
        kind: Some("Job".into()),
        name: job.metadata.name.clone(),
        namespace: job.metadata.namespace.clone(),
        uid: job.metadata.uid.clone(),
        resource_version: job.metadata.resource_version.clone(),
        ..Default::default()
    }
}

/// The pods a Job with this name (any uid) controls.
fn controlled_by_name(p: &Pod, name: &str) -> bool {
    controller_of(&p.metadata).is_some_and(|r| ref_is::<Job>(r) && r.name == name)
}

impl State {
    /// Syncs the Job under `key`.
    pub(crate) async fn sync(&self, key: &str) -> Result<Next, Error> {
        let (ns, name) = keyed::split_key(key);
        let in_ns: Vec<Arc<Pod>> = self
            .pods
            .state()
            .into_iter()
            .filter(|p| p.metadata.namespace.as_deref() == Some(ns))
            .collect();
        let job = keyed::cached(&self.jobs, key);
        let uid = job
            .as_ref()
            .and_then(|j| j.metadata.uid.clone())
            .unwrap_or_default();
        // Pods left with the finalizer by a Job that is gone (or replaced) are released.
        let orphans: Vec<&Pod> = in_ns
            .iter()
            .map(AsRef::as_ref)
            .filter(|p| controlled_by_name(p, name) && pods::has_finalizer(p))
            .filter(|p| controller_of(&p.metadata).is_some_and(|r| r.uid != uid))
            .collect();
        if let (_, Some(e)) = self.remove_finalizers(ns, &orphans).await {
            return Err(e);
        }
        let Some(job) = job else {
            return Ok(Next::Done);
        };
        let managed_by = job.spec.as_ref().and_then(|s| s.managed_by.as_deref());
        if managed_by.is_some_and(|m| m != MANAGED_BY) {
            return Ok(Next::Done);
        }
        let owned = self.claim(&job, &in_ns).await?;
        let (in_sync, removing) = self.expectations.check(&uid, &owned, Instant::now());
        let record = self.backoff.lock().get(&uid).copied().unwrap_or_default();
        let now = Timestamp::now();
        let plan = decide(&Input {
            job: &job,
            pods: &owned,
            now,
            backoff: record,
            removing: &removing,
            in_sync,
        });
        self.backoff.lock().insert(uid.clone(), plan.backoff);
        let manage_result = self.manage(&job, &plan).await;
        let status = self.write(&job, &plan).await?;
        self.publish(&job, &plan, &status);
        manage_result?;
        if crate::job::decide::finished(&Job {
            status: Some(status),
            ..Job::default()
        }) {
            self.backoff.lock().remove(&uid);
            return Ok(Next::Done);
        }
        let mut after = plan.requeue;
        if !in_sync || !removing.is_empty() {
            after = Some(after.map_or(RECHECK, |a| a.min(RECHECK)));
        }
        Ok(after.map_or(Next::Done, |d| Next::After(d + Duration::from_millis(100))))
    }

    /// The Job's pods: those it controls, plus matching orphans it adopts.
    async fn claim<'a>(&self, job: &Job, in_ns: &'a [Arc<Pod>]) -> Result<Vec<&'a Pod>, Error> {
        let uid = job.metadata.uid.clone().unwrap_or_default();
        let selector = job
            .spec
            .as_ref()
            .and_then(|s| s.selector.clone())
            .and_then(|s| kube::core::Selector::try_from(s).ok())
            .filter(|s| !s.selects_all());
        let done = crate::job::decide::finished(job);
        let deleting = job.metadata.deletion_timestamp.is_some() || done;
        let mut owned = Vec::new();
        let api: Api<Pod> = Api::namespaced(self.client.clone(), &job.namespace().unwrap_or_default());
        for p in in_ns.iter().map(AsRef::as_ref) {
            match classify(&uid, deleting, selector.as_ref(), &p.metadata) {
                Claim::Owned => owned.push(p),
                Claim::Adopt => {
                    let Some(owner) = controller_ref(job) else {
                        continue;
                    };
                    let patch = adopt_patch(&owner, p.metadata.uid.as_deref().unwrap_or_default());
                    match api
                        .patch(&p.name_any(), &PatchParams::default(), &Patch::Strategic(patch))
                        .await
                    {
                        Ok(_) => owned.push(p),
                        Err(e) if apierror::is_not_found(&e) => {}
                        Err(e) => return Err(api_err("adopting pod", e)),
                    }
                }
                // Our pods that stopped matching are still ours to count and release
                // (upstream keeps them through the tracking finalizer).
                Claim::Release => owned.push(p),
                Claim::Ignore => {
                    if controller_of(&p.metadata).is_some_and(|r| r.uid == uid) {
                        owned.push(p);
                    }
                }
            }
        }
        Ok(owned)
    }

    /// Deletes and creates pods; the first failure is returned after the status write.
    async fn manage(&self, job: &Job, plan: &Plan<'_>) -> Result<(), Error> {
        let ns = job.namespace().unwrap_or_default();
        let uid = job.metadata.uid.clone().unwrap_or_default();
        let api: Api<Pod> = Api::namespaced(self.client.clone(), &ns);
        let mut first_err = None;
        // Pods removed by suspend or scale-down are released first: they did not fail.
        let mut doomed: Vec<&Pod> = plan.delete.clone();
        if plan.release_deleted {
            let tracked: Vec<&Pod> = doomed
                .iter()
                .copied()
                .filter(|p| pods::has_finalizer(p))
                .collect();
            let (released, failure) = self.remove_finalizers(&ns, &tracked).await;
            self.expectations.released(&uid, released.iter().cloned());
            if let Some(e) = failure {
                first_err = Some(e);
                doomed.retain(|p| {
                    !pods::has_finalizer(p) || released.iter().any(|u| Some(u) == p.metadata.uid.as_ref())
                });
            }
        }
        let deletes = doomed.into_iter().map(|p| {
            let api = api.clone();
            async move {
                let params = DeleteParams {
                    preconditions: Some(Preconditions {
                        uid: p.metadata.uid.clone(),
                        resource_version: None,
                    }),
                    ..Default::default()
                };
                (p, api.delete(&p.name_any(), &params).await)
            }
        });
        let mut deleted = Vec::new();
        for (p, r) in join_all(deletes).await {
            match r {
                Ok(_) => {
                    deleted.push(p.metadata.uid.clone().unwrap_or_default());
                    self.events.normal(
                        reference(job),
                        "SuccessfulDelete",
                        "Delete",
                        format!("Deleted pod: {}", p.name_any()),
                    );
                }
                Err(e) if apierror::is_not_found(&e) => {}
                Err(e) => {
                    self.events.warning(
                        reference(job),
                        "FailedDelete",
                        "Delete",
                        format!("Error deleting: {}", crate::replicaset::api_message(&e)),
                    );
                    first_err.get_or_insert(api_err("deleting pod", e));
                }
            }
        }
        self.expectations.wrote(&uid, Vec::new(), deleted, Instant::now());
        if let (Some(owner), false) = (controller_ref(job), plan.create.is_empty()) {
            let tmpl = job.spec.as_ref().map(|s| s.template.clone()).unwrap_or_default();
            let name = job.name_any();
            // Slow start, as upstream: batches of 1, 2, 4, ... stop at the first failure.
            let mut batch = 1;
            let mut rest = plan.create.as_slice();
            while !rest.is_empty() && first_err.is_none() {
                let (now, later) = rest.split_at(batch.min(rest.len()));
                rest = later;
                batch *= 2;
                let creates = now.iter().map(|n| {
                    let pod = template::pod(&tmpl, &name, owner.clone(), *n);
                    let api = api.clone();
                    async move { api.create(&PostParams::default(), &pod).await }
                });
                let mut created = Vec::new();
                for r in join_all(creates).await {
                    match r {
                        Ok(p) => {
                            self.events.normal(
                                reference(job),
                                "SuccessfulCreate",
                                "Create",
                                format!("Created pod: {}", p.name_any()),
                            );
                            created.push(p.name_any());
                        }
                        Err(e) => {
                            self.events.warning(
                                reference(job),
                                "FailedCreate",
                                "Create",
                                format!("Error creating: {}", crate::replicaset::api_message(&e)),
                            );
                            first_err.get_or_insert(api_err("creating pod", e));
                        }
                    }
                }
                self.expectations.wrote(&uid, created, Vec::new(), Instant::now());
            }
        }
        match first_err {
            Some(e) => Err(e),
            None => Ok(()),
        }
    }

    /// Writes the status around the finalizer removals; returns the final status.
    async fn write(&self, job: &Job, plan: &Plan<'_>) -> Result<JobStatus, Error> {
        let ns = job.namespace().unwrap_or_default();
        let uid = job.metadata.uid.clone().unwrap_or_default();
        let api: Api<Job> = Api::namespaced(self.client.clone(), &ns);
        let old = job.status.clone().unwrap_or_default();
        let mut current = job.clone();
        if normalize(&plan.status) != normalize(&old) {
            current = self.replace_status(&api, &current, plan.status.clone()).await?;
        }
        let mut with = plan.with_finalizer.clone();
        let (released, failure) = self.remove_finalizers(&ns, &plan.finalize).await;
        self.expectations.released(&uid, released.iter().cloned());
        for u in &released {
            with.remove(u);
        }
        let settled = settle(&plan.status, &with, plan.terminal.as_ref());
        let before = current.status.clone().unwrap_or_default();
        if normalize(&settled) != normalize(&before) {
            current = self.replace_status(&api, &current, settled.clone()).await?;
        }
        if let Some(e) = failure {
            return Err(e);
        }
        Ok(current.status.unwrap_or(settled))
    }

    async fn replace_status(&self, api: &Api<Job>, job: &Job, status: JobStatus) -> Result<Job, Error> {
        let mut updated = job.clone();
        updated.status = Some(status);
        api.replace_status(&job.name_any(), &PostParams::default(), &updated)
            .await
            .map_err(api_ctx(format!("updating status of job {}", job.name_any())))
    }

    /// Removes the tracking finalizer from pods; returns the uids done (or gone) and the
    /// first failure.
    async fn remove_finalizers(&self, ns: &str, pods: &[&Pod]) -> (Vec<String>, Option<Error>) {
        if pods.is_empty() {
            return (Vec::new(), None);
        }
        let api: Api<Pod> = Api::namespaced(self.client.clone(), ns);
        let calls = pods.iter().map(|p| {
            let api = api.clone();
            let uid = p.metadata.uid.clone().unwrap_or_default();
            let patch = json!({"metadata": {
                "$deleteFromPrimitiveList/finalizers": [TRACKING_FINALIZER],
                "uid": uid,
            }});
            async move {
                let r = api
                    .patch(&p.name_any(), &PatchParams::default(), &Patch::Strategic(patch))
                    .await;
                (uid, r)
            }
        });
        let mut done = Vec::new();
        let mut first_err = None;
        for (uid, r) in join_all(calls).await {
            match r {
                Ok(_) => done.push(uid),
                Err(e) if apierror::is_not_found(&e) => done.push(uid),
                Err(e) => {
                    first_err.get_or_insert(api_err("removing the tracking finalizer", e));
                }
            }
        }
        (done, first_err)
    }

    /// Events for the sync's notes and for a Job that just finished.
    fn publish(&self, job: &Job, plan: &Plan<'_>, status: &JobStatus) {
        let r = reference(job);
        for Note {
            warning,
            reason,
            message,
        } in &plan.notes
        {
            if *warning {
                self.events.warning(r.clone(), reason, "Sync", message.clone());
            } else {
                self.events.normal(r.clone(), reason, "Sync", message.clone());
            }
        }
        let was = crate::job::decide::finished(job);
        let is = super::conditions::find(status, "Complete")
            .or_else(|| super::conditions::find(status, "Failed"))
            .filter(|c| c.status == "True");
        if let (false, Some(c)) = (was, is) {
            if c.type_ == "Complete" {
                self.events.normal(r, "Completed", "Sync", "Job completed".into());
            } else {
                self.events.warning(
                    r,
                    c.reason.as_deref().unwrap_or("Failed"),
                    "Sync",
                    c.message.clone().unwrap_or_default(),
                );
            }
        }
    }
}

fn api_err(what: &str, source: kube::Error) -> Error {
    Error::Api {
        what: what.into(),
        source,
    }
}

/// A status with empty lists and zero counters spelled one way, so that a status equal
/// but for `None` against `Some(0)` is not written again.
fn normalize(st: &JobStatus) -> serde_json::Value {
    let mut v = serde_json::to_value(st).unwrap_or_default();
    if let Some(o) = v.as_object_mut() {
        o.retain(|_, x| !matches!(x, serde_json::Value::Null) && x != &json!(0) && x != &json!([]));
        if let Some(u) = o
            .get_mut("uncountedTerminatedPods")
            .and_then(|u| u.as_object_mut())
        {
            u.retain(|_, x| x != &json!([]));
        }
        if o.get("uncountedTerminatedPods") == Some(&json!({})) {
            o.remove("uncountedTerminatedPods");
        }
    }
    v
}

#[cfg(test)]
mod tests {
    use super::*;
    use k8s_openapi::api::batch::v1::UncountedTerminatedPods;

    #[test]
    fn empty_and_unset_are_the_same_status() {
        let a = JobStatus::default();
        let b = JobStatus {
            active: Some(0),
            uncounted_terminated_pods: Some(UncountedTerminatedPods {
                succeeded: Some(vec![]),
                failed: None,
            }),
            ..Default::default()
        };
        assert_eq!(normalize(&a), normalize(&b));
        let c = JobStatus {
            active: Some(1),
            ..Default::default()
        };
        assert_ne!(normalize(&a), normalize(&c));
    }
}
