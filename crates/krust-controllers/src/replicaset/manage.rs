//! Creating and deleting pods for an owner: the create/delete round of a reconcile.
//!
//! Creates go in slow-start batches (1, 2, 4, ...) so that a template every create fails
//! for (quota, admission) costs one failed call, not hundreds. Deletes go out together.
//! Every successful write is recorded as an expectation and announced with an Event.

use std::future::Future;
use std::time::Instant;

use futures_util::future::join_all;
use k8s_openapi::{
    api::core::v1::{Pod, PodTemplateSpec},
    apimachinery::pkg::apis::meta::v1::{ObjectMeta, OwnerReference},
};
use kube::{
    Api, Resource, ResourceExt,
    api::{DeleteParams, PostParams, Preconditions},
};

use super::expectations::Expectations;
use super::status::ManageFailure;
use krust_runtime::Events;

/// At most this many pods are created or deleted in one reconcile (upstream's burst).
pub(crate) const BURST: usize = 500;

/// Failures of a create/delete round.
#[derive(Debug, thiserror::Error)]
pub(crate) enum ManageError {
    /// The template is missing or has no labels, so its pods could never be claimed.
    #[error("the pod template is missing or has no labels")]
    Template,
    /// Creating a pod failed.
    #[error("creating pods: {0}")]
    Create(#[source] kube::Error),
    /// Deleting a pod failed.
    #[error("deleting pods: {0}")]
    Delete(#[source] kube::Error),
}

impl ManageError {
    /// The `ReplicaFailure` condition this failure sets.
    pub(crate) fn failure(&self) -> ManageFailure {
        let (reason, e) = match self {
            Self::Template => {
                return ManageFailure {
                    reason: "FailedCreate",
                    message: self.to_string(),
                };
            }
            Self::Create(e) => ("FailedCreate", e),
            Self::Delete(e) => ("FailedDelete", e),
        };
        ManageFailure {
            reason,
            message: api_message(e),
        }
    }
}

/// The API's own message for an error (what upstream puts in conditions and events).
pub(crate) fn api_message(e: &kube::Error) -> String {
    match e {
        kube::Error::Api(s) if !s.message.is_empty() => s.message.clone(),
        e => e.to_string(),
    }
}

/// The HTTP code of an API error, if it is one.
pub(crate) fn api_code(e: &kube::Error) -> Option<u16> {
    match e {
        kube::Error::Api(s) => Some(s.code),
        _ => None,
    }
}

/// Runs `count` calls of `f` in batches of `initial`, then twice as many each round,
/// stopping after the first batch with a failure. Returns the successes and that failure.
pub(crate) async fn slow_start<T, E, F, Fut>(count: usize, initial: usize, mut f: F) -> (Vec<T>, Option<E>)
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, E>>,
{
    let mut done = Vec::with_capacity(count);
    let mut remaining = count;
    let mut batch = initial.max(1).min(remaining);
    while batch > 0 {
        let mut failed = None;
        for r in join_all((0..batch).map(|_| f())).await {
            match r {
                Ok(t) => done.push(t),
                Err(e) => {
                    failed.get_or_insert(e);
                }
            }
        }
        if failed.is_some() {
            return (done, failed);
        }
        remaining -= batch;
        batch = (batch * 2).min(remaining);
    }
    (done, None)
}

/// The pod an owner creates from its template: the template's labels, annotations,
/// finalizers and spec, a generated name `<owner>-`, and the controller reference.
pub(crate) fn pod_from_template(template: &PodTemplateSpec, owner_name: &str, owner: OwnerReference) -> Pod {
    let meta = template.metadata.clone().unwrap_or_default();
    Pod {
        metadata: ObjectMeta {
            generate_name: Some(format!("{owner_name}-")),
            labels: meta.labels,
            annotations: meta.annotations,
            finalizers: meta.finalizers,
            owner_references: Some(vec![owner]),
            ..Default::default()
        },
        spec: template.spec.clone(),
        status: None,
    }
}

/// Whether a create failed only because the namespace is being deleted (not an error:
/// nothing should be created there any more).
fn namespace_terminating(e: &kube::Error) -> bool {
    api_code(e) == Some(403) && api_message(e).contains("being terminated")
}

/// What one create/delete round works with.
pub(crate) struct Round<'a, K: Resource> {
    /// The owner.
    pub owner: &'a K,
    /// Its uid (the expectations key).
    pub uid: &'a str,
    /// Pods API of its namespace.
    pub pods: Api<Pod>,
    /// Where writes are recorded.
    pub expectations: &'a Expectations,
    /// Where they are announced.
    pub events: &'a Events,
}

impl<K: Resource<DynamicType = ()>> Round<'_, K> {
    /// Creates `count` pods from `template` in slow-start batches.
    pub(crate) async fn create(
        &self,
        template: Option<&PodTemplateSpec>,
        count: usize,
    ) -> Result<(), ManageError> {
        let template = template
            .filter(|t| {
                t.metadata
                    .as_ref()
                    .and_then(|m| m.labels.as_ref())
                    .is_some_and(|l| !l.is_empty())
            })
            .ok_or(ManageError::Template)?;
        let Some(owner_ref) = super::claim::controller_ref(self.owner) else {
            return Err(ManageError::Template);
        };
        let pod = pod_from_template(
            template,
            &self.owner.meta().name.clone().unwrap_or_default(),
            owner_ref,
        );
        let (pods, pp) = (&self.pods, PostParams::default());
        let (created, failed) = slow_start(count.min(BURST), 1, || pods.create(&pp, &pod)).await;
        let names: Vec<String> = created.iter().map(ResourceExt::name_any).collect();
        self.expectations
            .created(self.uid, names.iter().cloned(), Instant::now());
        let regarding = self.owner.object_ref(&());
        for name in names {
            self.events.normal(
                regarding.clone(),
                "SuccessfulCreate",
                "Create",
                format!("Created pod: {name}"),
            );
        }
        match failed {
            Some(e) if namespace_terminating(&e) => Ok(()),
            Some(e) => {
                self.events.warning(
                    regarding,
                    "FailedCreate",
                    "Create",
                    format!("Error creating: {}", api_message(&e)),
                );
                Err(ManageError::Create(e))
            }
            None => Ok(()),
        }
    }

    /// Deletes `victims` (all at once), each only if it is still the same pod.
    pub(crate) async fn delete(&self, victims: &[&Pod]) -> Result<(), ManageError> {
        let results = join_all(victims.iter().map(|p| {
            let dp = DeleteParams {
                preconditions: Some(Preconditions {
                    uid: p.metadata.uid.clone(),
                    resource_version: None,
                }),
                ..Default::default()
            };
            let name = p.name_any();
            async move { (name, self.pods.delete(&p.name_any(), &dp).await) }
        }))
        .await;
        let regarding = self.owner.object_ref(&());
        let mut first = None;
        let mut deleted = Vec::new();
        for ((name, r), pod) in results.into_iter().zip(victims) {
            match r {
                Ok(_) => {
                    deleted.extend(pod.metadata.uid.clone());
                    self.events.normal(
                        regarding.clone(),
                        "SuccessfulDelete",
                        "Delete",
                        format!("Deleted pod: {name}"),
                    );
                }
                Err(e) if api_code(&e) == Some(404) => {}
                Err(e) => {
                    self.events.warning(
                        regarding.clone(),
                        "FailedDelete",
                        "Delete",
                        format!("Error deleting: {}", api_message(&e)),
                    );
                    first.get_or_insert(e);
                }
            }
        }
        self.expectations.deleted(self.uid, deleted, Instant::now());
        first.map_or(Ok(()), |e| Err(ManageError::Delete(e)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::cell::Cell;

    #[tokio::test]
    async fn slow_start_batches_double() {
        let calls = Cell::new(0);
        let (ok, err) = slow_start::<_, (), _, _>(10, 1, || {
            calls.set(calls.get() + 1);
            async { Ok(()) }
        })
        .await;
        assert_eq!((ok.len(), err, calls.get()), (10, None, 10));
    }

    #[tokio::test]
    async fn slow_start_stops_after_a_failed_batch() {
        // Batches 1, 2, 4: the 5th call fails, so the batch of 4 completes and stops.
        let calls = Cell::new(0);
        let (ok, err) = slow_start(100, 1, || {
            calls.set(calls.get() + 1);
            let n = calls.get();
            async move { if n == 5 { Err("quota") } else { Ok(n) } }
        })
        .await;
        assert_eq!(calls.get(), 7);
        assert_eq!(ok.len(), 6);
        assert_eq!(err, Some("quota"));
    }

    #[test]
    fn pods_from_templates() {
        let template = PodTemplateSpec {
            metadata: Some(ObjectMeta {
                labels: Some([("app".to_string(), "web".to_string())].into()),
                name: Some("ignored".into()),
                ..Default::default()
            }),
            spec: None,
        };
        let owner = OwnerReference {
            name: "web-abc".into(),
            uid: "u".into(),
            controller: Some(true),
            ..Default::default()
        };
        let pod = pod_from_template(&template, "web-abc", owner);
        assert_eq!(pod.metadata.generate_name.as_deref(), Some("web-abc-"));
        assert_eq!(pod.metadata.name, None);
        assert_eq!(pod.metadata.labels, template.metadata.unwrap().labels);
        assert_eq!(pod.metadata.owner_references.unwrap()[0].uid, "u");
    }
}
