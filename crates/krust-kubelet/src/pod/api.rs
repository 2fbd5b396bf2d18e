//! The pod writes of the node agent — status updates and the final delete — behind a
//! trait, so the pod manager can be tested against a recording fake.
//!
//! Status goes through `pods/<name>/status` as an update carrying the resourceVersion the
//! status was computed from: a conflict means someone else wrote in between, and the
//! newer pod arriving through the watch triggers a fresh computation. The delete that ends
//! a pod's life uses grace period 0 and a uid precondition, so it can never remove a newer
//! pod that took the same name.

use std::future::Future;

use k8s_openapi::api::core::v1::{Pod, PodStatus};
use kube::api::{Api, DeleteParams, PostParams, Preconditions};
use tokio::sync::Semaphore;

use crate::api_error::ApiError;

/// Pod writes.
pub(crate) trait PodApi: Send + Sync + 'static {
    /// `PUT pods/<name>/status` with `pod` (its resourceVersion is the precondition).
    fn replace_status(&self, pod: &Pod) -> impl Future<Output = Result<Pod, ApiError>> + Send;
    /// `DELETE pods/<name>` with grace period 0 and `pod`'s uid as precondition.
    fn delete(&self, pod: &Pod) -> impl Future<Output = Result<(), ApiError>> + Send;
}

/// How many pod writes may be in flight at once, so a burst of thousands of pods queues
/// here instead of opening as many requests.
const MAX_IN_FLIGHT: usize = 64;

/// [`PodApi`] through the kube client.
pub(crate) struct KubePodApi {
    client: kube::Client,
    in_flight: Semaphore,
}

impl KubePodApi {
    pub fn new(client: kube::Client) -> Self {
        Self {
            client,
            in_flight: Semaphore::new(MAX_IN_FLIGHT),
        }
    }

    fn api(&self, pod: &Pod) -> Api<Pod> {
        Api::namespaced(
            self.client.clone(),
            pod.metadata.namespace.as_deref().unwrap_or("default"),
        )
    }
}

impl PodApi for KubePodApi {
    async fn replace_status(&self, pod: &Pod) -> Result<Pod, ApiError> {
        let _permit = self
            .in_flight
            .acquire()
            .await
            .map_err(|e| ApiError::Other(e.to_string()))?;
        let name = pod.metadata.name.as_deref().unwrap_or_default();
        Ok(self
            .api(pod)
            .replace_status(name, &PostParams::default(), pod)
            .await?)
    }

    async fn delete(&self, pod: &Pod) -> Result<(), ApiError> {
        let _permit = self
            .in_flight
            .acquire()
            .await
            .map_err(|e| ApiError::Other(e.to_string()))?;
        let name = pod.metadata.name.as_deref().unwrap_or_default();
        let params = DeleteParams {
            grace_period_seconds: Some(0),
            preconditions: Some(Preconditions {
                uid: pod.metadata.uid.clone(),
                resource_version: None,
            }),
            ..Default::default()
        };
        self.api(pod).delete(name, &params).await?;
        Ok(())
    }
}

/// What became of a status write.
#[derive(Debug)]
pub(crate) enum Written {
    /// The API already had this status.
    Unchanged,
    /// Written; the pod as stored now.
    Updated(Box<Pod>),
    /// The pod changed meanwhile (or is gone); the watch brings what to do next.
    Stale,
    /// Failed for another reason; worth retrying.
    Failed(String),
}

/// Writes `status` for `pod` unless the pod already has it.
pub(crate) async fn write_status<A: PodApi>(api: &A, pod: &Pod, status: PodStatus) -> Written {
    if pod.status.as_ref() == Some(&status) {
        return Written::Unchanged;
    }
    let mut next = pod.clone();
    next.metadata.managed_fields = None;
    next.status = Some(status);
    match api.replace_status(&next).await {
        Ok(p) => Written::Updated(Box::new(p)),
        Err(ApiError::Conflict(_) | ApiError::NotFound) => Written::Stale,
        Err(e) => Written::Failed(e.to_string()),
    }
}

/// A [`PodApi`] that records calls and answers from a script.
#[cfg(test)]
pub(crate) mod fake {
    use parking_lot::Mutex;

    use super::*;

    #[derive(Debug, Clone, PartialEq)]
    pub enum Call {
        Status { name: String, phase: Option<String> },
        Delete { name: String, uid: String },
    }

    #[derive(Default)]
    pub struct FakePodApi {
        pub calls: Mutex<Vec<Call>>,
        /// Answer the next status write with a conflict.
        pub conflict_next: Mutex<bool>,
        /// Where to send what a watch would see after each successful write.
        pub echo: Mutex<Option<tokio::sync::mpsc::Sender<crate::pod::manager::Input>>>,
    }

    impl FakePodApi {
        pub fn calls(&self) -> Vec<Call> {
            self.calls.lock().clone()
        }
    }

    impl PodApi for std::sync::Arc<FakePodApi> {
        async fn replace_status(&self, pod: &Pod) -> Result<Pod, ApiError> {
            let name = pod.metadata.name.clone().unwrap_or_default();
            let phase = pod.status.as_ref().and_then(|s| s.phase.clone());
            self.calls.lock().push(Call::Status { name, phase });
            if std::mem::take(&mut *self.conflict_next.lock()) {
                return Err(ApiError::Conflict("changed".into()));
            }
            let mut stored = pod.clone();
            let rv = pod
                .metadata
                .resource_version
                .as_deref()
                .and_then(|v| v.parse::<u64>().ok())
                .unwrap_or(0);
            stored.metadata.resource_version = Some((rv + 1).to_string());
            if let Some(tx) = &*self.echo.lock() {
                let _ = tx.try_send(crate::pod::manager::Input::Pod(Box::new(stored.clone())));
            }
            Ok(stored)
        }

        async fn delete(&self, pod: &Pod) -> Result<(), ApiError> {
            let name = pod.metadata.name.clone().unwrap_or_default();
            let uid = pod.metadata.uid.clone().unwrap_or_default();
            self.calls.lock().push(Call::Delete { name, uid });
            if let Some(tx) = &*self.echo.lock() {
                let _ = tx.try_send(crate::pod::manager::Input::PodDeleted(Box::new(pod.clone())));
            }
            Ok(())
        }
    }
}
