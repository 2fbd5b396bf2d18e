//! Everything the scheduler writes to the cluster, behind one small trait: binding pods,
//! patching pod status, evicting preemption victims, recording events and binding volumes.
//! The real implementation uses the `kube` client; tests use a recording fake.

use futures_util::future::BoxFuture;
use k8s_openapi::api::core::v1::{PersistentVolume, PersistentVolumeClaim};
use k8s_openapi::api::events::v1::Event;

#[cfg(test)]
pub(crate) mod fake;
mod kube_api;

pub use kube_api::KubeApi;

/// A failed API call.
#[derive(Debug, Clone, thiserror::Error)]
pub enum ApiError {
    /// The object does not exist (any more).
    #[error("not found: {0}")]
    NotFound(String),
    /// A conflicting write (resourceVersion or precondition mismatch, already bound).
    #[error("conflict: {0}")]
    Conflict(String),
    /// Any other failure (network, server error, rejected request).
    #[error("{0}")]
    Other(String),
}

/// Writes the scheduler makes.
pub trait ClusterApi: Send + Sync {
    /// POST `pods/<name>/binding` to `node`, for the pod with `uid`.
    fn bind_pod<'a>(
        &'a self,
        ns: &'a str,
        name: &'a str,
        uid: &'a str,
        node: &'a str,
    ) -> BoxFuture<'a, Result<(), ApiError>>;

    /// Applies a strategic merge patch to the pod's status.
    fn patch_pod_status<'a>(
        &'a self,
        ns: &'a str,
        name: &'a str,
        patch: serde_json::Value,
    ) -> BoxFuture<'a, Result<(), ApiError>>;

    /// Deletes the pod with `uid` (the uid is a precondition).
    fn delete_pod<'a>(
        &'a self,
        ns: &'a str,
        name: &'a str,
        uid: &'a str,
    ) -> BoxFuture<'a, Result<(), ApiError>>;

    /// Creates an events.k8s.io/v1 Event.
    fn create_event<'a>(&'a self, event: &'a Event) -> BoxFuture<'a, Result<(), ApiError>>;

    /// Merge-patches an event (series updates).
    fn patch_event<'a>(
        &'a self,
        ns: &'a str,
        name: &'a str,
        patch: serde_json::Value,
    ) -> BoxFuture<'a, Result<(), ApiError>>;

    /// Binds `pv` to `pvc` on both sides (claimRef, volumeName, annotations, phases), with
    /// the objects' resourceVersions as preconditions.
    fn bind_volume<'a>(
        &'a self,
        pv: &'a PersistentVolume,
        pvc: &'a PersistentVolumeClaim,
    ) -> BoxFuture<'a, Result<(), ApiError>>;

    /// Asks for `pvc` to be provisioned for `node` (the `volume.kubernetes.io/selected-node`
    /// annotation the provisioner acts on) and waits, up to `timeout`, until the claim is
    /// bound.
    fn provision_volume<'a>(
        &'a self,
        pvc: &'a PersistentVolumeClaim,
        node: &'a str,
        timeout: std::time::Duration,
    ) -> BoxFuture<'a, Result<(), ApiError>>;
}
