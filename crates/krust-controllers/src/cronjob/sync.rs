//! One sync of a CronJob against the API: decide ([`super::decide`]), confirm that active
//! Jobs missing from the cache are gone, delete Jobs (Replace, history limits), create the
//! due Job, and write the status.

use std::sync::Arc;

use k8s_openapi::api::batch::v1::{CronJob, CronJobStatus, Job};
use k8s_openapi::api::core::v1::ObjectReference;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use k8s_openapi::jiff::Timestamp;
use kube::{
    Api, ResourceExt,
    api::{DeleteParams, PostParams, PropagationPolicy},
    runtime::reflector::Store,
};

use super::decide::{Note, decide, finished, job_ref};
use crate::apierror;
use crate::keyed::{self, Next};
use crate::replicaset::{Events, controller_of, ref_is};

/// Failures of a sync (retried with back-off).
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

fn api_err(what: impl Into<String>, source: kube::Error) -> Error {
    Error::Api {
        what: what.into(),
        source,
    }
}

/// The controller's shared state.
pub(crate) struct State {
    pub client: kube::Client,
    pub cronjobs: Store<CronJob>,
    pub jobs: Store<Job>,
    pub events: Events,
}

fn reference(cj: &CronJob) -> ObjectReference {
    ObjectReference {
        api_version: Some("batch/v1".into()),
        kind: Some("CronJob".into()),
        name: cj.metadata.name.clone(),
        namespace: cj.metadata.namespace.clone(),
        uid: cj.metadata.uid.clone(),
        resource_version: cj.metadata.resource_version.clone(),
        ..Default::default()
    }
}

impl State {
    fn note(&self, cj: &CronJob, n: &Note) {
        if n.warning {
            self.events
                .warning(reference(cj), n.reason, "Sync", n.message.clone());
        } else {
            self.events
                .normal(reference(cj), n.reason, "Sync", n.message.clone());
        }
    }

    /// Syncs the CronJob under `key`.
    pub(crate) async fn sync(&self, key: &str) -> Result<Next, Error> {
        let Some(cj) = keyed::cached(&self.cronjobs, key) else {
            return Ok(Next::Done);
        };
        let (ns, _) = keyed::split_key(key);
        let uid = cj.metadata.uid.clone();
        let owned: Vec<Arc<Job>> = self
            .jobs
            .state()
            .into_iter()
            .filter(|j| j.metadata.namespace.as_deref() == Some(ns))
            .filter(|j| {
                controller_of(&j.metadata)
                    .is_some_and(|r| ref_is::<CronJob>(r) && Some(&r.uid) == uid.as_ref())
            })
            .collect();
        let refs: Vec<&Job> = owned.iter().map(AsRef::as_ref).collect();
        let mut plan = decide(&cj, &refs, Timestamp::now());
        let mut cj = cj;
        if plan.notes.iter().any(|n| n.reason == "UnexpectedJob") {
            // The cached CronJob may predate our own status write listing that Job.
            let api: Api<CronJob> = Api::namespaced(self.client.clone(), ns);
            let fresh = api
                .get_opt(&cj.name_any())
                .await
                .map_err(|e| api_err("reading the cronjob", e))?;
            let Some(fresh) = fresh.filter(|f| f.metadata.uid == uid) else {
                return Ok(Next::Done);
            };
            cj = Arc::new(fresh);
            plan = decide(&cj, &refs, Timestamp::now());
        }
        for n in &plan.notes {
            self.note(&cj, n);
        }
        let jobs: Api<Job> = Api::namespaced(self.client.clone(), ns);
        let mut status = plan.status.clone();
        let mut first_err = None;

        // Active Jobs the cache does not show: gone for good only if the API agrees.
        for r in &plan.unknown_active {
            let name = r.name.clone().unwrap_or_default();
            match jobs.get_opt(&name).await {
                Ok(Some(j)) if j.metadata.uid == r.uid => {
                    if finished(&j).is_some() {
                        remove_active(&mut status, r);
                    }
                }
                Ok(_) => {
                    remove_active(&mut status, r);
                    self.note(
                        &cj,
                        &Note {
                            warning: false,
                            reason: "MissingJob",
                            message: format!("Active job went missing: {name}"),
                        },
                    );
                }
                Err(e) => {
                    first_err.get_or_insert(api_err("reading an active job", e));
                }
            }
        }

        let background = DeleteParams {
            propagation_policy: Some(PropagationPolicy::Background),
            ..Default::default()
        };
        for j in &plan.prune {
            match self.delete(&jobs, &j.name_any(), &background).await {
                Ok(()) => {
                    remove_active(&mut status, &job_ref(j));
                    self.deleted(&cj, &j.name_any());
                }
                Err(e) => {
                    first_err.get_or_insert(e);
                }
            }
        }
        let mut replaced = true;
        for r in &plan.replace {
            let name = r.name.clone().unwrap_or_default();
            match self.delete(&jobs, &name, &background).await {
                Ok(()) => {
                    remove_active(&mut status, r);
                    self.deleted(&cj, &name);
                }
                Err(e) => {
                    replaced = false;
                    first_err.get_or_insert(e);
                }
            }
        }

        if let (Some((scheduled, job)), true) = (&plan.create, replaced) {
            let name = job.name_any();
            let created = match jobs.create(&PostParams::default(), job).await {
                Ok(j) => {
                    self.note(
                        &cj,
                        &Note {
                            warning: false,
                            reason: "SuccessfulCreate",
                            message: format!("Created job {name}"),
                        },
                    );
                    Some(j)
                }
                // Ours from an earlier sync whose status write was lost: record it.
                Err(e) if apierror::is_already_exists(&e) => match jobs.get_opt(&name).await {
                    Ok(Some(j))
                        if controller_of(&j.metadata).is_some_and(|r| Some(&r.uid) == uid.as_ref()) =>
                    {
                        Some(j)
                    }
                    _ => {
                        first_err.get_or_insert(api_err("creating job", e));
                        None
                    }
                },
                Err(e) => {
                    self.note(
                        &cj,
                        &Note {
                            warning: true,
                            reason: "FailedCreate",
                            message: format!("Error creating job: {}", crate::replicaset::api_message(&e)),
                        },
                    );
                    first_err.get_or_insert(api_err("creating job", e));
                    None
                }
            };
            if let Some(j) = created {
                let active = status.active.get_or_insert_with(Vec::new);
                if finished(&j).is_none() && !active.iter().any(|r| r.uid == j.metadata.uid) {
                    active.push(job_ref(&j));
                }
                status.last_schedule_time = Some(Time(*scheduled));
            }
        }

        let old = cj.status.clone().unwrap_or_default();
        if normalize(&status) != normalize(&old) {
            let api: Api<CronJob> = Api::namespaced(self.client.clone(), ns);
            let mut updated = (*cj).clone();
            // An empty list is left out, as upstream's `omitempty` writes it.
            if status.active.as_ref().is_some_and(Vec::is_empty) {
                status.active = None;
            }
            updated.status = Some(status);
            api.replace_status(&cj.name_any(), &PostParams::default(), &updated)
                .await
                .map_err(|e| api_err("updating cronjob status", e))?;
        }
        if let Some(e) = first_err {
            return Err(e);
        }
        Ok(plan.requeue.map_or(Next::Done, Next::After))
    }

    async fn delete(&self, jobs: &Api<Job>, name: &str, params: &DeleteParams) -> Result<(), Error> {
        match jobs.delete(name, params).await {
            Ok(_) => Ok(()),
            Err(e) if apierror::is_not_found(&e) => Ok(()),
            Err(e) => Err(api_err(format!("deleting job {name}"), e)),
        }
    }

    fn deleted(&self, cj: &CronJob, name: &str) {
        self.note(
            cj,
            &Note {
                warning: false,
                reason: "SuccessfulDelete",
                message: format!("Deleted job {name}"),
            },
        );
    }
}

fn remove_active(status: &mut CronJobStatus, r: &ObjectReference) {
    if let Some(active) = status.active.as_mut() {
        active.retain(|a| a.uid != r.uid);
    }
}

/// The status with an empty active list spelled as none, so that the two compare equal.
fn normalize(st: &CronJobStatus) -> CronJobStatus {
    let mut st = st.clone();
    if st.active.as_ref().is_some_and(Vec::is_empty) {
        st.active = None;
    }
    // Resource versions in references go stale without meaning a change.
    if let Some(a) = st.active.as_mut() {
        for r in a {
            r.resource_version = None;
        }
    }
    st
}
